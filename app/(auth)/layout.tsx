import type { ReactNode } from 'react';
import { Logo } from '../_components/Logo';

export default function AuthLayout({ children }: { children: ReactNode }) {
  return (
    <main id="main" className="auth-page">
      <div className="auth-brand">
        <Logo size={32} />
        <span>KVM Panel</span>
      </div>
      <div className="auth-card card">{children}</div>
      <p className="auth-foot muted small">Virtual machines, shared safely.</p>
    </main>
  );
}
