// The addon's own surface (native/build/Release/kvmvmm.node through
// server/vm/native.ts): what only an in-process caller sees. The framebuffer
// as an external buffer over guest memory, dirty-row tracking, key, pointer
// and power-button injection, stats, exit reasons, config errors as
// exceptions. The VM process (`npm run vm`, the native runner) is tested in
// runner.test.ts.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { loadNative, type NativeVm, type NativeVmConfig, type VmExit } from '../../server/vm/native';
import { kvmUsable, prepareVmTests, removeTmp, SerialLog } from '../../server/vm/testing';

const canRun = kvmUsable();
let guest = '';
let tmp = '';
const live = new Set<NativeVm>();

beforeAll(() => {
  if (canRun) ({ guest, tmp } = prepareVmTests('addontest-'));
}, 600_000);

afterEach(() => {
  for (const vm of live) vm.stop();
  live.clear();
});

afterAll(() => removeTmp(tmp));

interface Session {
  vm: NativeVm;
  serial: SerialLog;
  exit: Promise<VmExit>;
  send: (s: string) => void;
}

function boot(opts: Partial<NativeVmConfig> = {}): Session {
  const Vm = loadNative();
  const vm = new Vm({ memoryMiB: 64, vcpus: 1, kernel: guest, ...opts });
  live.add(vm);
  const serial = new SerialLog();
  vm.onSerial((d) => serial.push(d));
  const exit = new Promise<VmExit>((res) =>
    vm.onExit((e) => {
      live.delete(vm);
      res(e);
    }),
  );
  vm.start();
  return {
    vm,
    serial,
    exit,
    send: (s) => {
      const b = Buffer.from(s);
      let off = 0;
      // The UART takes what fits; the rest is retried (tests send little).
      const push = () => {
        off += vm.writeSerial(b.subarray(off));
        if (off < b.length) setTimeout(push, 5);
      };
      push();
    },
  };
}

// Set-1 make codes (QEMU qnum numbering).
const QNUM: Record<string, number> = {
  e: 0x12, c: 0x2e, h: 0x23, o: 0x18, k: 0x25, b: 0x30, d: 0x20, ' ': 0x39, '\n': 0x1c,
};

describe.skipIf(!canRun)('VM through the addon', () => {
  it('2 vCPUs: stats per vCPU, echo over COM1, reboot ends with reason reset', async () => {
    const s = boot({ vcpus: 2 });
    await s.serial.wait(/guest ready vcpus=2 /);
    const st = s.vm.stats();
    expect(st.vcpus.length).toBe(2);
    expect(st.vcpus[0]!.exits).toBeGreaterThan(0);
    expect(st.ramBytes).toBe(64 * 2 ** 20);
    const at = s.serial.text.length;
    s.send('echo hello\n');
    await s.serial.wait(/\nhello\r?\n/, 10_000, at);
    s.send('reboot\n');
    expect((await s.exit).reason).toBe('reset');
  });

  it('draw: framebuffer pixels (external buffer) follow the pattern, dirty rows cover the screen', async () => {
    const s = boot();
    await s.serial.wait(/guest ready/);
    s.vm.collectDirty(); // forget everything before the pattern
    const at = s.serial.text.length;
    s.send('draw\n');
    await s.serial.wait(/draw checksum=[0-9a-f]+/, 30_000, at);
    const info = s.vm.framebufferInfo()!;
    expect(info).toMatchObject({ width: 1024, height: 768, bpp: 32, enabled: true });
    const fb = new Uint32Array(s.vm.framebuffer()!);
    const { width: w, height: h } = info;
    const px = (x: number, y: number) => fb[(y * info.stride) / 4 + x]!;
    const want = (x: number, y: number) =>
      ((Math.floor((x * 255) / (w - 1)) << 16) | (Math.floor((y * 255) / (h - 1)) << 8) | ((x ^ y) & 0xff)) >>> 0;
    for (const [x, y] of [[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1], [w >> 1, h >> 1], [123, 45]] as const) {
      expect(px(x, y) & 0xffffff).toBe(want(x, y));
    }
    const dirty = s.vm.collectDirty();
    expect(dirty.length).toBeGreaterThanOrEqual(2);
    expect(dirty[0]).toBe(0);
    expect(dirty[dirty.length - 1]).toBe(h);
    expect(s.vm.collectDirty().length).toBe(0); // nothing new since
    s.vm.stop();
    expect((await s.exit).reason).toBe('stopped');
  }, 90_000);

  it('keyEvent types into the guest shell; pointer events go to the tablet', async () => {
    const s = boot();
    await s.serial.wait(/guest ready/);
    const at = s.serial.text.length;
    for (const ch of 'echo kbd\n') {
      s.vm.keyEvent(QNUM[ch]!, true);
      s.vm.keyEvent(QNUM[ch]!, false);
    }
    await s.serial.wait(/\nkbd\r?\n/, 10_000, at);
    for (let i = 0; i < 50; i++) s.vm.pointerEvent(i * 10, i * 7, i & 1, i % 5 === 0 ? 1 : 0);
    const at2 = s.serial.text.length;
    s.send('echo still-alive\n');
    await s.serial.wait(/\nstill-alive\r?\n/, 10_000, at2);
    s.vm.stop();
    expect((await s.exit).reason).toBe('stopped');
  });

  it('without a tablet, pointer events become PS/2 mouse motion', async () => {
    const s = boot({ tablet: false });
    await s.serial.wait(/guest ready/);
    for (let i = 0; i < 20; i++) s.vm.pointerEvent(500 - i * 20, i * 30, 1, -1);
    const at = s.serial.text.length;
    s.send('echo mouse-ok\n');
    await s.serial.wait(/\nmouse-ok\r?\n/, 10_000, at);
    s.vm.stop();
    expect((await s.exit).reason).toBe('stopped');
  });

  it('powerButton: the guest shuts down, reason poweroff', async () => {
    const s = boot({ vcpus: 2 });
    await s.serial.wait(/guest ready/);
    s.vm.powerButton();
    expect((await s.exit).reason).toBe('poweroff');
    expect(s.serial.text).toMatch(/power button: shutting down/);
  });

  it('bad config: too little memory, missing kernel, corrupt kernel are one-line errors', () => {
    const Vm = loadNative();
    expect(() => new Vm({ memoryMiB: 4, vcpus: 1, kernel: guest })).toThrow(/memory .* too little/);
    expect(() => new Vm({ memoryMiB: 64, vcpus: 1, kernel: '/nonexistent/kernel' })).toThrow(/kernel/);
    expect(() => new Vm({ memoryMiB: 64, vcpus: 1, kernel: Buffer.from('not a kernel at all') })).toThrow(/kernel/);
  });
});
