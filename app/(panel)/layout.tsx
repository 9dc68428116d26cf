'use client';
import type { ReactNode } from 'react';
import { RequireAuth } from '../_components/Me';
import { TopBar } from '../_components/TopBar';
import { Loading } from '../_components/States';
import { LiveProvider } from '../_lib/live';

export default function PanelLayout({ children }: { children: ReactNode }) {
  return (
    <RequireAuth
      fallback={
        <>
          <header className="topbar"><div className="topbar-inner" /></header>
          <main id="main" className="container"><Loading rows={4} /></main>
        </>
      }
    >
      <LiveProvider>
        <TopBar />
        <main id="main" className="container">{children}</main>
      </LiveProvider>
    </RequireAuth>
  );
}
