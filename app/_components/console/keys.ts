// Keys the console sends on the user's behalf: the combos of the keys menu
// (ones the browser or the OS would otherwise catch) and paste-as-typing.
// X keysyms (X11 keysymdef.h) with KeyboardEvent.code names: given a code,
// noVNC sends QEMU's extended key event, i.e. the key's position, so the
// guest sees exactly that key whatever its layout.

/** One key: X keysym plus the physical key (KeyboardEvent.code). */
export type Key = readonly [keysym: number, code: string];

export const K = {
  ctrl: [0xffe3, 'ControlLeft'],
  alt: [0xffe9, 'AltLeft'],
  shift: [0xffe1, 'ShiftLeft'],
  super: [0xffeb, 'MetaLeft'],
  del: [0xffff, 'Delete'],
  backspace: [0xff08, 'Backspace'],
  tab: [0xff09, 'Tab'],
  enter: [0xff0d, 'Enter'],
  esc: [0xff1b, 'Escape'],
  print: [0xff61, 'PrintScreen'],
  sysrq: [0xff15, 'PrintScreen'],
  f: (n: number): Key => [0xffbe + n - 1, `F${n}`],
} as const satisfies Record<string, Key | ((n: number) => Key)>;

export interface KeyCombo {
  label: string;
  /** Pressed in this order, released in reverse. */
  keys: readonly Key[];
}

export const KEY_COMBOS: readonly KeyCombo[] = [
  { label: 'Ctrl+Alt+Del', keys: [K.ctrl, K.alt, K.del] },
  { label: 'Ctrl+Alt+Backspace', keys: [K.ctrl, K.alt, K.backspace] },
  ...[1, 2, 3, 4, 5, 6, 7].map((n) => ({ label: `Ctrl+Alt+F${n}`, keys: [K.ctrl, K.alt, K.f(n)] })),
  { label: 'Alt+Tab', keys: [K.alt, K.tab] },
  { label: 'Alt+F4', keys: [K.alt, K.f(4)] },
  { label: 'Print Screen', keys: [K.print] },
  { label: 'Alt+SysRq', keys: [K.alt, K.sysrq] },
  { label: 'Windows key', keys: [K.super] },
  { label: 'Escape', keys: [K.esc] },
  { label: 'Tab', keys: [K.tab] },
];

/** The keys a combo sends, as (key, down) events in order. */
export function comboEvents(combo: KeyCombo): { key: Key; down: boolean }[] {
  return [
    ...combo.keys.map((key) => ({ key, down: true })),
    ...[...combo.keys].reverse().map((key) => ({ key, down: false })),
  ];
}

// US layout: which key types each printable ASCII character, and whether
// Shift is held (the VM's RFB server maps by key position and never adds
// Shift by itself).
const SHIFTED_PAIRS: Record<string, readonly [string, string]> = {
  Backquote: ['`', '~'], Minus: ['-', '_'], Equal: ['=', '+'], BracketLeft: ['[', '{'],
  BracketRight: [']', '}'], Backslash: ['\\', '|'], Semicolon: [';', ':'], Quote: ["'", '"'],
  Comma: [',', '<'], Period: ['.', '>'], Slash: ['/', '?'],
  Digit1: ['1', '!'], Digit2: ['2', '@'], Digit3: ['3', '#'], Digit4: ['4', '$'], Digit5: ['5', '%'],
  Digit6: ['6', '^'], Digit7: ['7', '&'], Digit8: ['8', '*'], Digit9: ['9', '('], Digit0: ['0', ')'],
};

const US = new Map<string, { key: Key; shift: boolean }>();
for (let c = 0; c < 26; c++) {
  const lower = String.fromCharCode(0x61 + c);
  const upper = lower.toUpperCase();
  const code = `Key${upper}`;
  US.set(lower, { key: [lower.charCodeAt(0), code], shift: false });
  US.set(upper, { key: [upper.charCodeAt(0), code], shift: true });
}
for (const [code, [plain, shifted]] of Object.entries(SHIFTED_PAIRS)) {
  US.set(plain, { key: [plain.charCodeAt(0), code], shift: false });
  US.set(shifted, { key: [shifted.charCodeAt(0), code], shift: true });
}
US.set(' ', { key: [0x20, 'Space'], shift: false });
US.set('\n', { key: K.enter, shift: false });
US.set('\t', { key: K.tab, shift: false });

export interface TypedText {
  /** Key events to send, in order. */
  events: { key: Key; down: boolean }[];
  /** Characters with no key on a US keyboard (not typed). */
  skipped: string[];
}

/** Key events that type `text` on a US-layout keyboard. CR LF and CR count as Enter. */
export function typeText(text: string): TypedText {
  const events: TypedText['events'] = [];
  const skipped: string[] = [];
  let shiftDown = false;
  for (const ch of text.replace(/\r\n?/g, '\n')) {
    const k = US.get(ch);
    if (!k) {
      skipped.push(ch);
      continue;
    }
    if (k.shift !== shiftDown) {
      events.push({ key: K.shift, down: k.shift });
      shiftDown = k.shift;
    }
    events.push({ key: k.key, down: true }, { key: k.key, down: false });
  }
  if (shiftDown) events.push({ key: K.shift, down: false });
  return { events, skipped };
}
