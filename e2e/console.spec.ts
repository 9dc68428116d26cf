// The in-browser console against a real test-guest VM: the screen (noVNC) and
// the serial port (xterm.js), who may open them, and what ends them.
//
// Independent of the other spec files: it makes its own users (through the
// admin API; it does the first-run setup itself when the panel has none yet)
// and its own VM, and reads the screen by decoding the test guest's own 8x16
// font (native/guest/font.c) from the canvas pixels.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test, type Browser, type Page } from '@playwright/test';
import { ADMIN, signIn, stepShots } from './support';

test.describe.configure({ mode: 'serial' });

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RUN = Date.now().toString(36);
const PASSWORD = 'console-pass-123';
const who = (role: string) => ({ name: `Console ${role}`, email: `${role}-${RUN}@example.org`, password: PASSWORD });
const OWNER = who('owner');
const OPERATOR = who('console');
const VIEWER = who('viewer');
const STRANGER = who('stranger');
const VM_NAME = `con-${RUN}`.slice(0, 30);
/** `draw` checksum of the test guest's pattern at 1024x768 (native/guest/README.md). */
const DRAW_CHECKSUM_1024x768 = '95e9d0e1';

let vmId = '';

// ---------- the test guest's font: 16 bytes per glyph -> character ----------

function loadGlyphs() {
  const src = readFileSync(path.join(ROOT, 'native/guest/font.c'), 'utf8');
  const plain: Record<string, string> = {};
  const cursor: Record<string, string> = {};
  const re = /\/\* 0x([0-9A-Fa-f]{2}) .*?\*\/((?:\s*"[.#]{8}",){16})/g;
  for (const m of src.matchAll(re)) {
    const ch = String.fromCharCode(parseInt(m[1]!, 16));
    const rows = [...m[2]!.matchAll(/"([.#]{8})"/g)].map((r) => parseInt(r[1]!.replace(/#/g, '1').replace(/\./g, '0'), 2));
    const hex = (rs: number[]) => rs.map((b) => b.toString(16).padStart(2, '0')).join('');
    plain[hex(rows)] ??= ch;
    // The underline cursor fills rows 14 and 15 of its cell.
    cursor[hex([...rows.slice(0, 14), 0xff, 0xff])] ??= ch;
  }
  if (Object.keys(plain).length < 90) throw new Error('could not parse native/guest/font.c');
  return { plain, cursor: { ...cursor, ['00'.repeat(14) + 'ffff']: ' ' } };
}
const GLYPHS = loadGlyphs();

/**
 * The guest's screen as text lines, read from the noVNC canvas (null before the first frame);
 * with `lastFrame`, from the picture kept on screen after the console closed.
 */
async function screenLines(page: Page, opts: { lastFrame?: boolean } = {}): Promise<string[] | null> {
  return page.evaluate(({ glyphs, lastFrame }) => {
    let canvas = document.querySelector<HTMLCanvasElement>('[data-testid="vnc-screen"] canvas');
    if (lastFrame) {
      const img = document.querySelector<HTMLImageElement>('img.console-last-frame');
      if (!img?.complete || !img.naturalWidth) return null;
      canvas = document.createElement('canvas');
      canvas.width = img.naturalWidth;
      canvas.height = img.naturalHeight;
      canvas.getContext('2d')!.drawImage(img, 0, 0);
    }
    if (!canvas || canvas.width < 8 || canvas.height < 16) return null;
    const { width, height } = canvas;
    const px = canvas.getContext('2d')!.getImageData(0, 0, width, height).data;
    const lines: string[] = [];
    for (let r = 0; r < Math.floor(height / 16); r++) {
      let line = '';
      for (let c = 0; c < Math.floor(width / 8); c++) {
        let key = '';
        for (let y = 0; y < 16; y++) {
          let bits = 0;
          for (let x = 0; x < 8; x++) if (px[((r * 16 + y) * width + c * 8 + x) * 4]! > 0x55) bits |= 0x80 >> x;
          key += bits.toString(16).padStart(2, '0');
        }
        line += glyphs.plain[key] ?? glyphs.cursor[key] ?? '\u25a1';
      }
      lines.push(line.trimEnd());
    }
    return lines;
  }, { glyphs: GLYPHS, lastFrame: opts.lastFrame ?? false });
}

/** FNV-1a over the canvas pixels as 0x00RRGGBB little-endian, like the guest's `draw` checksum. */
async function screenChecksum(page: Page): Promise<string | null> {
  return page.evaluate(() => {
    const canvas = document.querySelector<HTMLCanvasElement>('[data-testid="vnc-screen"] canvas');
    if (!canvas || canvas.width === 0) return null;
    const px = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    let h = 0x811c9dc5;
    for (let i = 0; i < px.length; i += 4) {
      for (const b of [px[i + 2]!, px[i + 1]!, px[i]!, 0]) h = Math.imul(h ^ b, 0x01000193) >>> 0;
    }
    return `${canvas.width}x${canvas.height}:${h.toString(16).padStart(8, '0')}`;
  });
}

/** A few pixels of the `draw` pattern, expected vs. seen. */
async function patternSamples(page: Page) {
  return page.evaluate(() => {
    const canvas = document.querySelector<HTMLCanvasElement>('[data-testid="vnc-screen"] canvas')!;
    const { width: w, height: h } = canvas;
    const ctx = canvas.getContext('2d')!;
    const out: { x: number; y: number; want: number; got: number }[] = [];
    for (const [x, y] of [[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1], [517, 301], [100, 700], [1000, 20]] as const) {
      const d = ctx.getImageData(x, y, 1, 1).data;
      const want = ((Math.floor((x * 255) / (w - 1)) << 16) | (Math.floor((y * 255) / (h - 1)) << 8) | ((x ^ y) & 0xff)) >>> 0;
      out.push({ x, y, want, got: ((d[0]! << 16) | (d[1]! << 8) | d[2]!) >>> 0 });
    }
    return out;
  });
}

/** The visible rows of the serial terminal. */
async function serialLines(page: Page): Promise<string[]> {
  return page.locator('[data-testid="serial-terminal"] .xterm-rows > div')
    .evaluateAll((rows) => rows.map((r) => (r.textContent ?? '').replace(/\u00a0/g, ' ').trimEnd()));
}

// ---------- API calls from a page (its cookie, its Origin) ----------

interface ApiResult<T> { status: number; data?: T; code?: string; message?: string }

async function api<T = unknown>(page: Page, proc: string, input?: unknown, kind: 'query' | 'mutation' = 'mutation'): Promise<ApiResult<T>> {
  return page.evaluate(async ({ proc, input, kind }) => {
    const enc = input === undefined ? undefined : JSON.stringify({ json: input });
    const r = kind === 'query'
      ? await fetch(`/api/trpc/${proc}${enc ? `?input=${encodeURIComponent(enc)}` : ''}`)
      : await fetch(`/api/trpc/${proc}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: enc ?? '{}' });
    const j = await r.json();
    return { status: r.status, data: j.result?.data?.json, code: j.error?.json?.data?.code, message: j.error?.json?.message };
  }, { proc, input, kind });
}

async function newUserPage(browser: Browser, user: { email: string; password: string }) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, user);
  return page;
}

/** The admin (doing the first-run setup when nobody did yet) creates this file's users. */
async function createUsers(browser: Browser) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto('/signin');
  const status = await api<{ needsSetup: boolean }>(page, 'auth.status', undefined, 'query');
  if (status.data?.needsSetup) {
    expect((await api(page, 'auth.setup', ADMIN)).status).toBe(200);
  } else {
    await signIn(page, ADMIN);
  }
  for (const u of [OWNER, OPERATOR, VIEWER, STRANGER]) {
    const r = await api(page, 'admin.createUser', { ...u, role: 'user' });
    expect(r.status, r.message).toBe(200);
  }
  await context.close();
}

/** Mints a ticket and opens WebSockets with it: what happened to each. */
async function openWithTicket(page: Page, id: string, kind: 'vnc' | 'serial', times: number, pathOverride?: string) {
  return page.evaluate(async ({ id, kind, times, pathOverride }) => {
    let p = pathOverride;
    if (!p) {
      const r = await fetch('/api/trpc/console.ticket', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ json: { vmId: id, kind } }) });
      const j = await r.json();
      if (!r.ok) return { minted: false as const, error: j.error?.json?.data?.code as string, attempts: [] };
      p = j.result.data.json.path as string;
    }
    const url = new URL(p!, location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const attempts: { opened: boolean; bytes: number; code: number }[] = [];
    for (let i = 0; i < times; i++) {
      attempts.push(await new Promise((resolve) => {
        const ws = new WebSocket(url, kind === 'vnc' ? ['binary'] : []);
        ws.binaryType = 'arraybuffer';
        let opened = false;
        let bytes = 0;
        ws.onopen = () => { opened = true; setTimeout(() => ws.close(1000), 400); };
        ws.onmessage = (e) => { bytes += (e.data as ArrayBuffer).byteLength; };
        ws.onclose = (e) => resolve({ opened, bytes, code: e.code });
      }));
    }
    return { minted: true as const, path: p!, attempts };
  }, { id, kind, times, pathOverride });
}

const screenStatus = (page: Page) => page.locator('#console-panel-screen .console-status');
const serialStatus = (page: Page) => page.locator('#console-panel-serial .console-status');

// ---------- the stories ----------

test('owner opens the console of a running test-guest VM: screen and serial show the guest', async ({ page, browser }, info) => {
  test.setTimeout(180_000);
  const shot = stepShots(info);
  await createUsers(browser);
  await signIn(page, OWNER);

  // A small test-guest VM, created and started from the UI.
  await page.getByRole('link', { name: '+ New VM' }).click();
  await page.getByLabel('Name', { exact: true }).fill(VM_NAME);
  await page.getByLabel('vCPUs').fill('1');
  await page.getByLabel('Memory (MiB)').fill('64');
  await page.getByLabel('Disk (GiB)').fill('1');
  await page.getByRole('button', { name: 'Create VM' }).click();
  await page.getByRole('table', { name: 'My VMs' }).getByRole('link', { name: VM_NAME }).click();
  await expect(page.getByRole('heading', { name: new RegExp(VM_NAME) })).toBeVisible();
  vmId = page.url().split('/').pop()!;
  await page.getByRole('button', { name: 'Start', exact: true }).click({ timeout: 30_000 });
  await expect(page.getByRole('heading', { name: new RegExp(VM_NAME) })).toContainText('running', { timeout: 30_000 });

  // The VM page links to the console.
  await expect(page.getByRole('link', { name: 'Console', exact: true })).toBeVisible();
  await shot(page, 'vm-page-console-link');
  await page.getByRole('link', { name: 'Console', exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/vms/${vmId}/console$`));
  await expect(page).toHaveTitle(`Console · ${VM_NAME} · KVM Panel`);
  await expect(page.getByRole('tab', { name: 'Screen' })).toHaveAttribute('aria-selected', 'true');
  await expect(screenStatus(page)).toHaveAttribute('data-status', 'connected', { timeout: 20_000 });
  await expect(screenStatus(page)).toHaveText('Screen console: Connected');
  // The guest's own text, read back from the canvas pixels with its own font.
  await expect.poll(async () => (await screenLines(page))?.[0], { timeout: 15_000 }).toMatch(/^guest ready vcpus=1 memory=64 boots=\d+$/);
  await expect.poll(async () => (await screenLines(page))?.[1]).toBe('>');
  await shot(page, 'screen-connected');

  // Typing on the screen: the guest echoes the keys and answers.
  await page.locator('[data-testid="vnc-screen"] canvas').click();
  await page.keyboard.type('echo hello');
  await page.keyboard.press('Enter');
  await expect.poll(async () => (await screenLines(page))?.slice(0, 4), { timeout: 10_000 })
    .toEqual([expect.stringMatching(/^guest ready/), '> echo hello', 'hello', '>']);
  await shot(page, 'screen-echo-hello');

  // The serial tab shows the same session (the bridge replays the VM's recent output).
  await page.getByRole('tab', { name: 'Serial' }).click();
  await expect(page.getByRole('tab', { name: 'Serial' })).toHaveAttribute('aria-selected', 'true');
  await expect(serialStatus(page)).toHaveAttribute('data-status', 'connected', { timeout: 20_000 });
  await expect.poll(() => serialLines(page), { timeout: 10_000 }).toEqual(expect.arrayContaining([
    expect.stringMatching(/^guest ready vcpus=1 memory=64/), '> echo hello', 'hello',
  ]));
  await page.locator('[data-testid="serial-terminal"]').click();
  await page.keyboard.type('echo from serial');
  await page.keyboard.press('Enter');
  await expect.poll(() => serialLines(page), { timeout: 10_000 }).toContain('from serial');
  await shot(page, 'serial-echo');
  // Ctrl+] hands the keyboard back to the page (Tab itself goes to the VM).
  await page.keyboard.press('Control+BracketRight');
  await expect(page.getByRole('tab', { name: 'Serial' })).toBeFocused();

  // Back on the screen: what was typed on the serial port is drawn there too.
  await page.getByRole('tab', { name: 'Screen' }).click();
  await expect.poll(async () => (await screenLines(page))?.includes('from serial'), { timeout: 10_000 }).toBe(true);

  // `draw` fills the screen with the known pattern: every pixel is compared through the checksum.
  await page.locator('[data-testid="vnc-screen"] canvas').click();
  await page.keyboard.type('draw');
  await page.keyboard.press('Enter');
  await expect.poll(() => screenChecksum(page), { timeout: 15_000 }).toBe(`1024x768:${DRAW_CHECKSUM_1024x768}`);
  for (const s of await patternSamples(page)) expect(s.got, `pixel (${s.x}, ${s.y})`).toBe(s.want);
  await shot(page, 'screen-draw-pattern');

  // Scale: 1:1 shows the framebuffer at its size (scrolls), Fit shrinks it into the pane.
  const canvas = page.locator('[data-testid="vnc-screen"] canvas');
  await expect(page.getByRole('button', { name: 'Fit', exact: true })).toHaveAttribute('aria-pressed', 'true');
  const fitBox = (await canvas.boundingBox())!;
  const paneBox = (await page.locator('.console-screen').first().boundingBox())!;
  expect(fitBox.height).toBeLessThanOrEqual(paneBox.height + 1);
  await page.getByRole('button', { name: '1:1', exact: true }).click();
  await expect(page.getByRole('button', { name: '1:1', exact: true })).toHaveAttribute('aria-pressed', 'true');
  await expect.poll(async () => Math.round((await canvas.boundingBox())!.width)).toBe(1024);
  await shot(page, 'screen-one-to-one');
  await page.getByRole('button', { name: 'Fit', exact: true }).click();
  await expect.poll(async () => (await canvas.boundingBox())!.height).toBeLessThanOrEqual(paneBox.height + 1);

  // The keys menu: keyboard-operable, sends a combo, hands focus back to the screen.
  const keys = page.getByRole('button', { name: 'Send keys' });
  await keys.focus();
  await page.keyboard.press('ArrowDown');
  const menu = page.getByRole('menu', { name: 'Send keys' });
  await expect(menu).toBeVisible();
  await expect(menu.getByRole('menuitem', { name: 'Ctrl+Alt+Del' })).toBeFocused();
  await expect(menu.getByRole('menuitem', { name: 'Ctrl+Alt+F1' })).toBeVisible();
  await expect(menu.getByRole('menuitem', { name: 'Print Screen' })).toBeVisible();
  await shot(page, 'keys-menu');
  await page.keyboard.press('Escape');
  await expect(menu).toBeHidden();
  await expect(keys).toBeFocused();
  await keys.click();
  await menu.getByRole('menuitem', { name: 'Escape' }).click();
  await expect(menu).toBeHidden();
  await expect(canvas).toBeFocused();

  // Paste as typing, with Shift for capitals and symbols (US layout).
  await page.getByRole('button', { name: 'Paste as typing' }).click();
  await page.getByLabel('Text to type into the VM').fill('echo Pasted: A-Z {ok}!\n');
  await page.getByRole('button', { name: 'Type it' }).click();
  await expect.poll(async () => (await screenLines(page))?.includes('Pasted: A-Z {ok}!'), { timeout: 10_000 }).toBe(true);
  await shot(page, 'paste-as-typing');
  await page.getByRole('button', { name: 'Close' }).click();
  await canvas.click();
  await page.keyboard.press('Control+BracketRight');
  await expect(page.getByRole('tab', { name: 'Screen' })).toBeFocused();
  // ... and back with the keyboard alone: Tab from the tab list reaches the toolbar, then the screen.
  await page.keyboard.press('ArrowRight');
  await expect(page.getByRole('tab', { name: 'Serial' })).toHaveAttribute('aria-selected', 'true');
  await page.keyboard.press('ArrowLeft');
  await expect(page.getByRole('tab', { name: 'Screen' })).toHaveAttribute('aria-selected', 'true');
  await canvas.focus();
  await expect(canvas).toHaveAttribute('tabindex', '0');

  // Fullscreen holds the toolbar and the screen.
  await page.getByRole('button', { name: 'Fullscreen' }).click();
  await expect(page.getByRole('button', { name: 'Exit fullscreen' })).toBeVisible();
  await shot(page, 'fullscreen');
  await page.getByRole('button', { name: 'Exit fullscreen' }).click();
  await expect(page.getByRole('button', { name: 'Fullscreen' })).toBeVisible();

  await page.emulateMedia({ colorScheme: 'dark' });
  await page.getByRole('tab', { name: 'Serial' }).click();
  await shot(page, 'serial-dark');
  await page.getByRole('tab', { name: 'Screen' }).click();
  await page.setViewportSize({ width: 390, height: 800 });
  await shot(page, 'screen-mobile-dark');
});

test('refused: a viewer, a user without a share, reused, forged and foreign tickets', async ({ page, browser }, info) => {
  const shot = stepShots(info);
  expect(vmId).not.toBe('');
  await signIn(page, OWNER);
  await page.goto(`/vms/${vmId}`);
  for (const [u, role] of [[VIEWER, 'viewer'], [OPERATOR, 'console']] as const) {
    expect((await api(page, 'share.add', { vmId, email: u.email, role })).status).toBe(200);
  }

  // A viewer sees the VM but not its console: no link, a refusal page, and the API says FORBIDDEN.
  const viewer = await newUserPage(browser, VIEWER);
  await viewer.goto(`/vms/${vmId}`);
  await expect(viewer.getByRole('heading', { name: new RegExp(VM_NAME) })).toBeVisible();
  await expect(viewer.getByRole('link', { name: 'Console', exact: true })).toHaveCount(0);
  await viewer.goto(`/vms/${vmId}/console`);
  await expect(viewer.getByText('No console access')).toBeVisible();
  await expect(viewer.locator('[data-testid="vnc-screen"]')).toHaveCount(0);
  await shot(viewer, 'viewer-refused');
  const viewerTry = await openWithTicket(viewer, vmId, 'vnc', 1);
  expect(viewerTry).toMatchObject({ minted: false, error: 'FORBIDDEN' });

  // Someone it is not shared with: the VM does not exist for them.
  const stranger = await newUserPage(browser, STRANGER);
  await stranger.goto(`/vms/${vmId}/console`);
  await expect(stranger.getByText('This VM is not available')).toBeVisible();
  await shot(stranger, 'stranger-not-found');
  expect(await openWithTicket(stranger, vmId, 'serial', 1)).toMatchObject({ minted: false, error: 'NOT_FOUND' });

  // A ticket works once: the second WebSocket with it never opens.
  const once = await openWithTicket(page, vmId, 'serial', 2);
  expect(once.minted).toBe(true);
  expect(once.attempts[0]).toMatchObject({ opened: true });
  expect(once.attempts[0]!.bytes).toBeGreaterThan(0); // the replayed serial output
  expect(once.attempts[1]).toMatchObject({ opened: false, bytes: 0 });
  const vncOnce = await openWithTicket(page, vmId, 'vnc', 2);
  expect(vncOnce.attempts[0]).toMatchObject({ opened: true });
  expect(vncOnce.attempts[0]!.bytes).toBeGreaterThanOrEqual(12); // "RFB 003.00x\n"
  expect(vncOnce.attempts[1]).toMatchObject({ opened: false, bytes: 0 });

  // A forged ticket, and a fresh ticket of another user's session, are refused too.
  const forged = await openWithTicket(page, vmId, 'vnc', 1, `/console/vnc/${vmId}?ticket=${'A'.repeat(43)}`);
  expect(forged.attempts[0]).toMatchObject({ opened: false, bytes: 0 });
  const operator = await newUserPage(browser, OPERATOR);
  await operator.goto('/');
  const minted = await api<{ path: string }>(operator, 'console.ticket', { vmId, kind: 'serial' });
  expect(minted.status).toBe(200);
  const foreign = await openWithTicket(page, vmId, 'serial', 1, minted.data!.path);
  expect(foreign.attempts[0]).toMatchObject({ opened: false, bytes: 0 });

  await Promise.all([viewer.context().close(), stranger.context().close(), operator.context().close()]);
});

test('revoking the share closes the console user’s open console', async ({ page, browser }, info) => {
  const shot = stepShots(info);
  expect(vmId).not.toBe('');
  const operator = await newUserPage(browser, OPERATOR);
  await operator.goto(`/vms/${vmId}`);
  await operator.getByRole('link', { name: 'Console', exact: true }).click();
  await expect(screenStatus(operator)).toHaveAttribute('data-status', 'connected', { timeout: 20_000 });
  await expect.poll(async () => (await screenLines(operator))?.[0], { timeout: 10_000 }).toMatch(/^guest ready/);
  await shot(operator, 'console-user-connected');

  await signIn(page, OWNER);
  await page.goto(`/vms/${vmId}`);
  await page.getByRole('button', { name: `Revoke access for ${OPERATOR.email}` }).click();
  await expect(page.getByRole('list', { name: 'People with access' })).not.toContainText(OPERATOR.email);

  await expect(screenStatus(operator)).toHaveAttribute('data-status', 'closed', { timeout: 5_000 });
  await expect(screenStatus(operator)).toContainText('Your access to this VM ended.');
  await expect(operator.getByText('This VM is no longer available to you')).toBeVisible({ timeout: 10_000 });
  await expect(operator.getByRole('button', { name: 'Reconnect' })).toHaveCount(0);
  await shot(operator, 'console-user-revoked');
  await operator.context().close();
});

test('the console follows the VM: disconnected while stopped, reconnects by itself when started', async ({ page }, info) => {
  test.setTimeout(120_000);
  const shot = stepShots(info);
  expect(vmId).not.toBe('');
  // Which console sockets the page itself closed (the panel is the one that ends them when the VM stops).
  await page.addInitScript(() => {
    const w = window as unknown as { __pageClosed: string[] };
    w.__pageClosed = [];
    const close = WebSocket.prototype.close;
    WebSocket.prototype.close = function (this: WebSocket, code?: number, reason?: string) {
      if (this.readyState <= WebSocket.OPEN) w.__pageClosed.push(`${new URL(this.url).pathname} ${code ?? ''}`);
      return close.call(this, code, reason);
    };
  });
  await signIn(page, OWNER);
  await page.goto(`/vms/${vmId}/console`);
  await expect(screenStatus(page)).toHaveAttribute('data-status', 'connected', { timeout: 20_000 });
  await page.getByRole('tab', { name: 'Serial' }).click();
  await expect(serialStatus(page)).toHaveAttribute('data-status', 'connected', { timeout: 20_000 });
  await page.getByRole('tab', { name: 'Screen' }).click();

  await page.getByRole('button', { name: 'Force stop' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Force stop' }).click();
  await expect(screenStatus(page)).toHaveAttribute('data-status', 'waiting', { timeout: 15_000 });
  await expect(screenStatus(page)).toContainText('VM not running');
  await shot(page, 'vm-stopped');

  await page.getByRole('button', { name: 'Start', exact: true }).click({ timeout: 30_000 });
  await expect(screenStatus(page)).toHaveAttribute('data-status', 'connected', { timeout: 30_000 });
  await expect.poll(async () => (await screenLines(page))?.[0], { timeout: 15_000 }).toMatch(/^guest ready vcpus=1 memory=64 boots=\d+$/);
  await page.getByRole('tab', { name: 'Serial' }).click();
  await expect(serialStatus(page)).toHaveAttribute('data-status', 'connected', { timeout: 20_000 });
  await expect.poll(() => serialLines(page), { timeout: 10_000 }).toEqual(expect.arrayContaining([expect.stringMatching(/^guest ready/)]));
  await page.getByRole('tab', { name: 'Screen' }).click();
  await shot(page, 'vm-restarted-reconnected');

  // A reset (the state stays running): the screen comes back with the next boot, by itself.
  await page.getByRole('button', { name: 'Reset', exact: true }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Reset' }).click();
  await expect.poll(async () => (await screenLines(page))?.[0], { timeout: 30_000 }).toMatch(/^guest ready vcpus=1 memory=64 boots=3$/);
  await expect(screenStatus(page)).toHaveAttribute('data-status', 'connected', { timeout: 20_000 });
  await shot(page, 'vm-reset');

  // Renaming the VM relabels the terminal; the open serial console keeps writing into it.
  await page.getByRole('tab', { name: 'Serial' }).click();
  await expect(serialStatus(page)).toHaveAttribute('data-status', 'connected', { timeout: 20_000 });
  const renamed = `${VM_NAME}-r`;
  const ren = await api(page, 'vm.rename', { id: vmId, name: renamed });
  expect(ren.status, ren.message).toBe(200);
  await expect(page.locator('[data-testid="serial-terminal"] textarea')).toHaveAttribute('aria-label', `Serial console of ${renamed}`);
  await expect(page.locator('[data-testid="vnc-screen"] canvas')).toHaveAttribute('aria-label', new RegExp(`^Screen of ${renamed}\\.`));
  await page.locator('[data-testid="serial-terminal"]').click();
  await page.keyboard.type('echo after rename');
  await page.keyboard.press('Enter');
  await expect.poll(() => serialLines(page), { timeout: 10_000 }).toContain('after rename');
  await expect.poll(() => serialLines(page)).toEqual(expect.arrayContaining([expect.stringMatching(/^guest ready/)]));
  await page.keyboard.press('Control+BracketRight');
  await shot(page, 'serial-after-rename');
  await page.getByRole('tab', { name: 'Screen' }).click();

  // A graceful stop: both consoles stay open while the guest shuts down, so its last words show,
  // and only then say the VM is not running.
  await page.getByRole('tab', { name: 'Serial' }).click();
  await expect(serialStatus(page)).toHaveAttribute('data-status', 'connected', { timeout: 20_000 });
  await page.getByRole('tab', { name: 'Screen' }).click();
  await expect(screenStatus(page)).toHaveAttribute('data-status', 'connected', { timeout: 20_000 });
  const closedBefore = await page.evaluate(() => (window as unknown as { __pageClosed: string[] }).__pageClosed.length);
  await page.getByRole('button', { name: 'Stop', exact: true }).click();
  await expect(screenStatus(page)).toHaveAttribute('data-status', 'waiting', { timeout: 30_000 });
  await expect(screenStatus(page)).toContainText('VM not running');
  // The page never hung up on the consoles itself: the panel closed them once the VM was off.
  const closedByPage = await page.evaluate(() => (window as unknown as { __pageClosed: string[] }).__pageClosed);
  expect(closedByPage.slice(closedBefore).filter((c) => c.startsWith('/console/'))).toEqual([]);
  await page.getByRole('tab', { name: 'Serial' }).click();
  // The guest's last words come after its prompt.
  const lastWords = (lines: string[] | null | undefined) => !!lines?.some((l) => /^>\s*power button: shutting down$/.test(l));
  await expect.poll(async () => lastWords(await serialLines(page))).toBe(true);
  await expect(serialStatus(page)).toHaveAttribute('data-status', 'waiting');
  await shot(page, 'graceful-stop-serial');
  await page.getByRole('tab', { name: 'Screen' }).click();
  await expect(screenStatus(page)).toContainText('VM not running');
  // Not asserted: the screen's last picture (`screenLines(page, { lastFrame: true })`) does not show
  // that line yet, because the VM process ends its VNC clients without sending the last update.
  await shot(page, 'graceful-stop-screen');

  // Leave nothing running behind.
  const del = await api(page, 'vm.delete', { id: vmId, force: true });
  expect(del.status, del.message).toBe(200);
});
