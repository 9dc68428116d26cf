'use client';
// What the VM page and its console page show when the VM cannot be loaded:
// gone (deleted, or no longer shared) or an error worth retrying.
import Link from 'next/link';
import { Empty, ErrorBox } from '../States';

export function VmNotAvailable({ error, onRetry }: { error: { message: string; data?: { code?: string } | null } | null; onRetry: () => void }) {
  if (error?.data?.code === 'NOT_FOUND') {
    return (
      <Empty title="This VM is not available">
        <p>It was deleted, or it is no longer shared with you.</p>
        <Link href="/" className="btn btn-primary">Back to the dashboard</Link>
      </Empty>
    );
  }
  return <ErrorBox message={error?.message ?? 'Unknown error'} onRetry={onRetry} />;
}
