import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test, type Page } from '@playwright/test';
import { addUser, setUpOrSignIn, signIn, stepShots } from './support';

// A real VM from the browser: the panel of e2e/global-setup.ts runs a local
// host agent and the real test-guest image. Independent of the other files:
// it sets the panel up if nobody has and brings its own users.
test.describe.configure({ mode: 'serial' });

const OWNER = { name: 'Olga Owner', email: 'olga.live@example.org', password: 'olga-password-123' };
const FRIEND = { name: 'Finn Friend', email: 'finn.live@example.org', password: 'finn-password-123' };
const VM = 'live-1';
const HAS_CONSOLE = existsSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'app/(panel)/vms/[id]/console/page.tsx'));

/** Marks the document; if the page reloads, the mark is gone (live means no reload). */
async function markDocument(page: Page) {
  await page.evaluate(() => { (window as unknown as { __noReload: boolean }).__noReload = true; });
}
async function expectSameDocument(page: Page) {
  expect(await page.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload)).toBe(true);
}
const meter = (page: Page, name: string) => page.getByRole('meter', { name, exact: true });

test('a VM from the dashboard: create, start, watch it live, metrics, stop, delete', async ({ page, browser }, info) => {
  test.setTimeout(240_000);
  const shot = stepShots(info);

  // The admin brings two users: the owner and a friend the VM is shared with.
  await setUpOrSignIn(page);
  await addUser(page, OWNER);
  await addUser(page, FRIEND);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/signin$/);

  // The owner creates a 64 MiB VM from the test guest.
  await signIn(page, OWNER);
  await expect(page.getByText('Live', { exact: true })).toBeVisible();
  await expect(meter(page, 'VMs used')).toHaveAttribute('aria-valuetext', '0 of 5');
  await expect(meter(page, 'Running VMs used')).toHaveAttribute('aria-valuetext', '0 of 3');
  await page.getByRole('link', { name: '+ New VM' }).click();
  await expect(page.getByRole('heading', { name: 'Create a virtual machine' })).toBeVisible();
  await expect(page.getByLabel('Image').locator('option', { hasText: 'test-guest' })).toHaveCount(1);
  await page.getByLabel('Image').selectOption({ label: 'test-guest' });
  await page.getByLabel('Name', { exact: true }).fill(VM);
  await page.getByLabel('vCPUs').fill('1');
  await page.getByLabel('Memory (MiB)').fill('64');
  await page.getByLabel('Disk (GiB)').fill('1');
  await shot(page, 'create-form');
  await page.getByRole('button', { name: 'Create VM' }).click();

  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
  const mine = page.getByRole('table', { name: 'My VMs' });
  const row = mine.getByRole('row').filter({ hasText: VM });
  await expect(row).toContainText('stopped'); // its disk is made (creating → stopped)
  await expect(meter(page, 'VMs used')).toHaveAttribute('aria-valuetext', '1 of 5');
  await expect(meter(page, 'Memory used')).toHaveAttribute('aria-valuetext', '64 MiB of 8 GiB');
  await shot(page, 'dashboard-created');

  // Shared with the friend (viewer).
  await mine.getByRole('link', { name: VM }).click();
  await expect(page.getByRole('heading', { name: new RegExp(VM) })).toBeVisible();
  await page.getByLabel('Share with (email)').fill(FRIEND.email);
  await page.getByLabel('Role', { exact: true }).selectOption('viewer');
  await page.getByRole('button', { name: 'Share', exact: true }).click();
  await expect(page.getByRole('list', { name: 'People with access' })).toContainText(FRIEND.email);

  // The friend watches from their own browser.
  const friendContext = await browser.newContext();
  const friend = await friendContext.newPage();
  await signIn(friend, FRIEND);
  const shared = friend.getByRole('table', { name: 'Shared with me' });
  const friendRow = shared.getByRole('row').filter({ hasText: VM });
  await expect(friendRow).toContainText('stopped');
  await expect(friend.getByText('Live', { exact: true })).toBeVisible();
  await markDocument(friend);
  await shot(friend, 'friend-dashboard-stopped');

  // Start: the state turns to running without a reload, for both.
  await markDocument(page);
  await page.getByRole('button', { name: 'Start', exact: true }).click();
  const title = page.getByRole('heading', { name: new RegExp(VM) });
  await expect(title).toContainText('running', { timeout: 20_000 });
  await expectSameDocument(page);
  await shot(page, 'vm-running');
  await expect(friendRow).toContainText('running', { timeout: 5_000 }); // live: the fallback poll is 10 s
  await expectSameDocument(friend);
  await shot(friend, 'friend-sees-running');

  // The metrics charts fill in (samples every 3 s; CPU needs two).
  const cpu = page.getByRole('img', { name: /^CPU: / });
  await expect(cpu).toBeVisible();
  await expect(cpu).toHaveAccessibleName(/^CPU: \d+(\.\d)? % of 1 vCPU now/, { timeout: 20_000 });
  await expect(page.getByRole('img', { name: /^Memory: / })).toHaveAccessibleName(/resident of 64 MiB configured/);
  await expect(page.getByRole('img', { name: /^Disk: / })).toHaveAccessibleName(/read .*\/s, write .*\/s/);
  await expect(page.getByRole('img', { name: /^Network: / })).toHaveAccessibleName(/receiving .*\/s, sending .*\/s/);
  await expect(page.getByTestId('uptime')).toHaveText(/\d+ s|\d+ min/);
  await expect(page.locator('.chart path.series-a').first()).toHaveAttribute('d', /^M[\d.]+,[\d.]+L/);
  // A few more samples, so the picture has lines rather than dots.
  await expect(page.getByTestId('samples')).toHaveText(/^([5-9]|\d\d+)$/, { timeout: 30_000 });
  await shot(page, 'metrics');

  if (HAS_CONSOLE) {
    await page.getByRole('link', { name: /console/i }).first().click();
    await expect(page).toHaveURL(/\/console/);
    await page.waitForTimeout(1_500); // the first frame
    await shot(page, 'console');
    await page.goBack();
    await expect(page.getByRole('heading', { name: new RegExp(VM) })).toBeVisible();
  }

  // The dashboard's usage bars count the running VM.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard' }).click();
  await expect(meter(page, 'Running VMs used')).toHaveAttribute('aria-valuetext', '1 of 3');
  await expect(row).toContainText('running');
  await shot(page, 'dashboard-running');

  // Graceful stop: the guest is asked (ACPI power button); if it does not
  // power off, the host forces it at the deadline the page counts down to.
  await mine.getByRole('link', { name: VM }).click();
  await expect(title).toContainText('running');
  await markDocument(page);
  await page.getByRole('button', { name: 'Stop', exact: true }).click();
  const stopped = title.filter({ hasText: 'stopped' });
  const countdown = page.getByTestId('stop-countdown');
  // The test guest powers off on the button within milliseconds; a guest that
  // does not is forced off at the deadline (the countdown shows it meanwhile).
  await expect(stopped.or(countdown)).toBeVisible();
  await shot(page, 'stop-requested');
  await expect(stopped).toBeVisible({ timeout: 90_000 });
  await expectSameDocument(page);
  await expect(page.getByRole('img', { name: /^CPU: / })).toHaveCount(0);
  await shot(page, 'vm-stopped');
  await expect(friendRow).toContainText('stopped', { timeout: 5_000 });
  await expectSameDocument(friend);
  await shot(friend, 'friend-sees-stopped');

  // Delete: the usage bars go back; the friend's dashboard loses it live.
  await page.getByRole('button', { name: 'Delete', exact: true }).click();
  const dialog = page.getByRole('dialog', { name: `Delete ${VM}?` });
  await expect(dialog).toBeVisible();
  await dialog.getByRole('button', { name: 'Delete' }).click();
  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
  await expect(page.getByText('No virtual machines yet')).toBeVisible();
  await expect(meter(page, 'VMs used')).toHaveAttribute('aria-valuetext', '0 of 5');
  await expect(meter(page, 'Running VMs used')).toHaveAttribute('aria-valuetext', '0 of 3');
  await expect(meter(page, 'Memory used')).toHaveAttribute('aria-valuetext', '0 MiB of 8 GiB');
  await shot(page, 'dashboard-after-delete');
  await expect(friend.getByText('Nothing shared with you')).toBeVisible({ timeout: 5_000 });
  await expectSameDocument(friend);
  await shot(friend, 'friend-after-delete');
  await friendContext.close();
});

test('admins see hosts: VMs, allocation and disk space, following a VM live', async ({ page, browser }, info) => {
  test.setTimeout(120_000);
  const shot = stepShots(info);
  await setUpOrSignIn(page);
  await page.goto('/admin#hosts');
  const host = page.getByRole('article', { name: 'local' });
  await expect(host).toBeVisible();
  await expect(host).toContainText('connected');
  await expect(host.getByRole('meter', { name: 'Data disk used' })).toHaveAttribute('aria-valuetext', /used, .* free/);
  const vms = host.getByTestId('host-vms');
  const before = (await vms.textContent())!.match(/(\d+) running \/ (\d+)/)!;
  const [running0, total0] = [Number(before[1]), Number(before[2])];
  await markDocument(page);
  await shot(page, 'hosts');

  // The owner starts a VM elsewhere; the admin's host view follows.
  const ownerContext = await browser.newContext();
  const owner = await ownerContext.newPage();
  await signIn(owner, OWNER);
  await owner.getByRole('link', { name: '+ New VM' }).click();
  await owner.getByLabel('Name', { exact: true }).fill('live-2');
  await expect(owner.getByLabel('Image').locator('option', { hasText: 'test-guest' })).toHaveCount(1);
  await owner.getByLabel('Image').selectOption({ label: 'test-guest' });
  await owner.getByLabel('Memory (MiB)').fill('64');
  await owner.getByLabel('Disk (GiB)').fill('1');
  await owner.getByRole('button', { name: 'Create VM' }).click();
  const row = owner.getByRole('table', { name: 'My VMs' }).getByRole('row').filter({ hasText: 'live-2' });
  await expect(row).toContainText('stopped');
  await expect(vms).toHaveText(`${running0} running / ${total0 + 1}`, { timeout: 5_000 });
  await row.getByRole('button', { name: 'Start live-2' }).click();
  await expect(row).toContainText('running', { timeout: 20_000 });
  await expect(vms).toHaveText(`${running0 + 1} running / ${total0 + 1}`, { timeout: 5_000 });
  await expect(page.getByRole('table', { name: 'All VMs' }).getByRole('row').filter({ hasText: 'live-2' })).toContainText('running');
  await expectSameDocument(page);
  await shot(page, 'hosts-vm-running');

  // Force stop from the VM page (confirmed), then delete.
  await owner.getByRole('link', { name: 'live-2' }).click();
  await owner.getByRole('button', { name: 'Force stop' }).click();
  const confirm = owner.getByRole('dialog', { name: 'Force stop live-2?' });
  await expect(confirm).toBeVisible();
  await shot(owner, 'force-stop-confirm');
  await confirm.getByRole('button', { name: 'Force stop' }).click();
  await expect(owner.getByRole('heading', { name: /live-2/ })).toContainText('stopped', { timeout: 10_000 });
  await expect(vms).toHaveText(`${running0} running / ${total0 + 1}`, { timeout: 5_000 });
  await owner.getByRole('button', { name: 'Delete', exact: true }).click();
  await owner.getByRole('dialog', { name: 'Delete live-2?' }).getByRole('button', { name: 'Delete' }).click();
  await expect(owner.getByText('No virtual machines yet')).toBeVisible();
  await expect(vms).toHaveText(`${running0} running / ${total0}`, { timeout: 5_000 });
  await shot(page, 'hosts-after-delete');
  await ownerContext.close();
});

test('the live indicator shows a lost feed and its return', async ({ page }, info) => {
  const shot = stepShots(info);
  // The browser gives up on a feed when its connection fails for good (a
  // proxy's 502, …): simulated by closing the page's EventSources and
  // failing them, while the panel is unreachable for the feed's requests.
  await page.addInitScript(() => {
    const Native = window.EventSource;
    const all: EventSource[] = [];
    window.EventSource = class extends Native {
      constructor(url: string | URL, init?: EventSourceInit) { super(url, init); all.push(this); }
    };
    (window as unknown as { dropFeeds: () => void }).dropFeeds = () => {
      for (const es of all) if (es.readyState !== Native.CLOSED) { es.close(); es.dispatchEvent(new Event('error')); }
    };
  });
  await setUpOrSignIn(page);
  const chip = page.getByRole('banner').getByRole('status');
  await expect(chip).toHaveText('Live');
  await page.route('**/api/trpc/vm.onChange**', (route) => route.abort('connectionrefused'));
  await page.evaluate(() => (window as unknown as { dropFeeds: () => void }).dropFeeds());
  await expect(chip).toHaveText('Reconnecting…');
  await page.waitForTimeout(6_000); // past the first retry, which fails
  await expect(chip).toHaveText('Reconnecting…');
  await shot(page, 'reconnecting');
  await page.unroute('**/api/trpc/vm.onChange**');
  await expect(chip).toHaveText('Live', { timeout: 20_000 });
  await shot(page, 'live-again');
});
