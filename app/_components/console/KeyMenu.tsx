'use client';
import { useEffect, useId, useRef, useState, type KeyboardEvent } from 'react';
import { KEY_COMBOS, type KeyCombo } from './keys';

/** "Send keys" menu button (WAI-ARIA menu button pattern). */
export function KeyMenu({ disabled, onSend }: { disabled: boolean; onSend: (combo: KeyCombo) => void }) {
  const [open, setOpen] = useState(false);
  const button = useRef<HTMLButtonElement>(null);
  const menu = useRef<HTMLDivElement>(null);
  const id = useId();

  const items = () => [...(menu.current?.querySelectorAll<HTMLButtonElement>('[role="menuitem"]') ?? [])];
  const focusItem = (i: number) => {
    const all = items();
    all[(i + all.length) % all.length]?.focus();
  };

  useEffect(() => {
    if (!open) return;
    focusItem(0);
    const outside = (e: PointerEvent) => {
      const t = e.target as Node;
      if (!menu.current?.contains(t) && !button.current?.contains(t)) setOpen(false);
    };
    document.addEventListener('pointerdown', outside);
    return () => document.removeEventListener('pointerdown', outside);
  }, [open]);

  const close = (refocus: boolean) => {
    setOpen(false);
    if (refocus) button.current?.focus();
  };

  const onMenuKey = (e: KeyboardEvent) => {
    const all = items();
    const i = all.indexOf(document.activeElement as HTMLButtonElement);
    if (e.key === 'ArrowDown') { e.preventDefault(); focusItem(i + 1); }
    else if (e.key === 'ArrowUp') { e.preventDefault(); focusItem(i - 1); }
    else if (e.key === 'Home') { e.preventDefault(); focusItem(0); }
    else if (e.key === 'End') { e.preventDefault(); focusItem(-1); }
    else if (e.key === 'Escape') { e.preventDefault(); close(true); }
    else if (e.key === 'Tab') close(false);
  };

  return (
    <div className="console-menu-wrap">
      <button
        ref={button}
        type="button"
        className="btn btn-sm"
        aria-haspopup="menu"
        aria-expanded={open}
        aria-controls={open ? id : undefined}
        disabled={disabled}
        onClick={() => setOpen((o) => !o)}
        onKeyDown={(e) => { if (e.key === 'ArrowDown' || e.key === 'ArrowUp') { e.preventDefault(); setOpen(true); } }}
      >
        Send keys <span aria-hidden="true">▾</span>
      </button>
      {open ? (
        <div ref={menu} id={id} role="menu" aria-label="Send keys" className="console-menu" onKeyDown={onMenuKey}>
          {KEY_COMBOS.map((c) => (
            <button key={c.label} type="button" role="menuitem" tabIndex={-1} className="console-menu-item"
              onClick={() => { setOpen(false); onSend(c); }}>
              {c.label}
            </button>
          ))}
        </div>
      ) : null}
    </div>
  );
}
