'use client';
import { useEffect } from 'react';

/** Every page gets its own document title (screen readers and tabs announce it). */
export function useDocumentTitle(title: string | null | undefined) {
  useEffect(() => {
    document.title = title ? `${title} · KVM Panel` : 'KVM Panel';
  }, [title]);
}
