// The console's key combos and paste-as-typing (app/_components/console/keys.ts).
import { describe, expect, it } from 'vitest';
import { comboEvents, K, KEY_COMBOS, typeText } from '../../app/_components/console/keys';

const names = (events: { key: readonly [number, string]; down: boolean }[]) => events.map((e) => `${e.down ? '+' : '-'}${e.key[1]}`);

describe('key combos', () => {
  it('presses in order and releases in reverse', () => {
    const cad = KEY_COMBOS.find((c) => c.label === 'Ctrl+Alt+Del')!;
    expect(names(comboEvents(cad))).toEqual(['+ControlLeft', '+AltLeft', '+Delete', '-Delete', '-AltLeft', '-ControlLeft']);
  });

  it('uses the X keysyms of the function keys', () => {
    expect(K.f(1)).toEqual([0xffbe, 'F1']);
    expect(K.f(7)).toEqual([0xffc4, 'F7']);
  });

  it('every combo is balanced: each key goes down once and up once', () => {
    for (const combo of KEY_COMBOS) {
      const ev = comboEvents(combo);
      expect(ev.filter((e) => e.down).length, combo.label).toBe(combo.keys.length);
      expect(ev.filter((e) => !e.down).length, combo.label).toBe(combo.keys.length);
    }
  });
});

describe('paste as typing (US layout)', () => {
  it('holds Shift only around the characters that need it', () => {
    const { events, skipped } = typeText('aB!');
    expect(skipped).toEqual([]);
    expect(names(events)).toEqual(['+KeyA', '-KeyA', '+ShiftLeft', '+KeyB', '-KeyB', '+Digit1', '-Digit1', '-ShiftLeft']);
  });

  it('types every printable ASCII character and skips the rest', () => {
    const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('');
    const { events, skipped } = typeText(`${printable}é\u0007🙂`);
    expect(skipped).toEqual(['é', '\u0007', '🙂']);
    // 95 characters, each one press and one release, plus Shift transitions.
    const keyEvents = events.filter((e) => e.key[1] !== 'ShiftLeft');
    expect(keyEvents.length).toBe(95 * 2);
    // Shift is never left held.
    const shifts = events.filter((e) => e.key[1] === 'ShiftLeft');
    expect(shifts.at(-1)?.down ?? false).toBe(false);
  });

  it('turns CR LF and CR into one Enter each', () => {
    expect(names(typeText('a\r\nb\rc\n').events).filter((n) => n.endsWith('Enter'))).toEqual(['+Enter', '-Enter', '+Enter', '-Enter', '+Enter', '-Enter']);
  });
});
