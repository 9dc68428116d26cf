'use client';
import { useState } from 'react';

export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [state, setState] = useState<'idle' | 'ok' | 'fail'>('idle');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setState('ok');
    } catch {
      setState('fail');
    }
    setTimeout(() => setState('idle'), 2000);
  };
  return (
    <button type="button" className="btn btn-sm" onClick={() => void copy()} aria-live="polite">
      {state === 'ok' ? 'Copied' : state === 'fail' ? 'Select and copy' : label}
    </button>
  );
}
