import Link from 'next/link';

export default function NotFound() {
  return (
    <main id="main" className="auth-page">
      <div className="auth-card card">
        <h1>Page not found</h1>
        <p className="muted">There is nothing at this address.</p>
        <Link href="/" className="btn btn-primary btn-block">Go to the dashboard</Link>
      </div>
    </main>
  );
}
