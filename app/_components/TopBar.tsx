'use client';
import Link from 'next/link';
import { usePathname, useRouter } from 'next/navigation';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { Route } from 'next';
import { useTRPC } from '../_lib/trpc';
import { useMe } from './Me';
import { useToast } from './Toast';
import { Logo } from './Logo';
import { LiveIndicator } from '../_lib/live';

const LINKS: { href: Route; label: string; admin?: boolean }[] = [
  { href: '/', label: 'Dashboard' },
  { href: '/audit', label: 'Audit' },
  { href: '/account', label: 'Account' },
  { href: '/admin', label: 'Admin', admin: true },
];

export function TopBar() {
  const me = useMe();
  const trpc = useTRPC();
  const qc = useQueryClient();
  const router = useRouter();
  const path = usePathname();
  const toast = useToast();
  const signOut = useMutation(trpc.auth.signOut.mutationOptions({
    onSuccess: () => { qc.clear(); router.replace('/signin'); },
    onError: (e) => toast.show('error', 'Could not sign out', e.message),
  }));
  const active = (href: string) => (href === '/' ? path === '/' || path.startsWith('/vms') : path.startsWith(href));
  return (
    <header className="topbar">
      <div className="topbar-inner">
        <Link href="/" className="brand" aria-label="KVM Panel home">
          <Logo /> <span>KVM Panel</span>
        </Link>
        <nav aria-label="Main" className="nav">
          {LINKS.filter((l) => !l.admin || me.role === 'admin').map((l) => (
            <Link key={l.href} href={l.href} className="nav-link" aria-current={active(l.href) ? 'page' : undefined}>
              {l.label}
            </Link>
          ))}
        </nav>
        <div className="user">
          <LiveIndicator />
          <span className="user-name" title={me.email}>
            <span className="avatar" aria-hidden="true">{(me.name || me.email).slice(0, 1).toUpperCase()}</span>
            <span className="user-text">
              <span className="user-line">{me.name}</span>
              <span className="user-sub">{me.email}{me.role === 'admin' ? ' · admin' : ''}</span>
            </span>
          </span>
          <button type="button" className="btn btn-ghost btn-sm" onClick={() => signOut.mutate()} disabled={signOut.isPending}>
            Sign out
          </button>
        </div>
      </div>
    </header>
  );
}
