// The VM's RFB (VNC) server end to end: `npm run vm -- --vnc unix:PATH`
// boots the test guest; a small RFB client connects over the unix socket,
// reads the screen, types on the guest's keyboard through RFB key events,
// and checks the `draw` pattern pixel for pixel. The client is
// test/support/rfbClient.ts; bytes, CPU and latency are measured by
// `npm run bench -- console` (bench/console.ts), side by side with QEMU.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { drawPattern, keysyms, RfbClient } from "../../test/support/rfbClient";
import { kvmUsable, prepareVmTests, removeTmp, runCli } from "./testing";

const canRun = kvmUsable();
let guest = "";
let tmp = "";

beforeAll(() => {
  if (canRun) ({ guest, tmp } = prepareVmTests("vnctest-"));
}, 600_000);

afterAll(() => removeTmp(tmp));

function patternMismatches(c: RfbClient): number {
  let bad = 0;
  for (let y = 0; y < c.height; y++)
    for (let x = 0; x < c.width; x++) if (c.fb[y * c.width + x] !== drawPattern(x, y, c.width, c.height)) bad++;
  return bad;
}

describe.skipIf(!canRun)("VNC server of the VM process", () => {
  it("serves the screen, takes keys, and shows `draw` exactly", async () => {
    const sock = join(tmp, "vm.vnc");
    const r = runCli(["--kernel", guest, "--memory", "64", "--vnc", `unix:${sock}`]);
    try {
      await r.serial.wait(/guest ready/);
      const c = await RfbClient.unix(sock);
      await c.handshake();
      expect([c.width, c.height]).toEqual([1024, 768]);
      c.setEncodings([0, -223]);
      c.request(false);
      await c.update();
      // The console's text: light grey on black somewhere on the first rows.
      expect(c.fb.subarray(0, c.width * 32).some((p) => p === 0xaaaaaa)).toBe(true);

      // Keys through RFB reach the guest's PS/2 keyboard.
      const at = r.serial.text.length;
      for (const k of keysyms("echo hello\n")) {
        c.key(k, true);
        c.key(k, false);
      }
      await r.serial.wait(/\nhello\r?\n/, 15_000, at);

      // `draw`, then incremental updates until the screen settles on the pattern.
      const at2 = r.serial.text.length;
      r.send("draw\n");
      await r.serial.wait(/draw checksum=95e9d0e1/, 15_000, at2);
      let bad = -1;
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        c.request(true);
        await c.update();
        bad = patternMismatches(c);
        if (bad === 0) break;
      }
      expect(bad).toBe(0);
      c.close();
      r.send("poweroff\n");
      expect(await r.exit).toBe(0);
    } finally {
      r.kill();
    }
  }, 90_000);

  it("sends scrolling as CopyRect, and a CopyRect client and a Raw client end with the same picture", async () => {
    const sock = join(tmp, "scroll.vnc");
    const r = runCli(["--kernel", guest, "--memory", "64", "--vnc", `unix:${sock}`]);
    try {
      await r.serial.wait(/guest ready/);
      const copy = await RfbClient.unix(sock);
      const raw = await RfbClient.unix(sock);
      await copy.handshake();
      await raw.handshake();
      copy.setEncodings([1, 16, 0, -223]); // CopyRect, ZRLE, Raw, DesktopSize
      raw.setEncodings([0, -223]);
      for (const c of [copy, raw]) {
        c.request(false);
        await c.update();
      }
      // 60 commands (two text rows each) scroll the 48-row text screen, typed at a person's pace
      // while both clients keep asking for updates, as a viewer does.
      const copyRects: number[] = [];
      let typing = true;
      const follow = async (c: RfbClient) => {
        // Until typing is over and the screen stayed quiet for 300 ms.
        for (;;) {
          c.request(true);
          const rects = await c.updateWithin(300);
          if (!rects) {
            if (typing) continue;
            return;
          }
          if (c === copy) copyRects.push(...rects.filter((x) => x.enc === 1).map((x) => x.bytes));
        }
      };
      const followers = Promise.all([follow(copy), follow(raw)]);
      for (let i = 0; i < 60; i++) {
        const at = r.serial.text.length;
        r.send(`echo scroll line ${i}\n`);
        await r.serial.wait(new RegExp(`\\nscroll line ${i}\\r?\\n`), 15_000, at);
        await new Promise((res) => setTimeout(res, 20));
      }
      typing = false;
      await followers;
      expect(copyRects.length).toBeGreaterThan(0);
      expect(copy.fbExact).toBe(true);
      let differ = 0;
      for (let i = 0; i < raw.fb.length; i++) if (raw.fb[i] !== copy.fb[i]) differ++;
      expect(differ).toBe(0);
      // The last line is on screen: some text pixels in the bottom rows.
      expect(raw.fb.subarray(raw.width * (raw.height - 64)).some((p) => p === 0xaaaaaa)).toBe(true);
      copy.close();
      raw.close();
    } finally {
      r.kill();
    }
  }, 90_000);
});

