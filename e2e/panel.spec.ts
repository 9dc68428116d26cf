import { expect, test } from '@playwright/test';
import { ADMIN, BOB, signIn, stepShots } from './support';

// One panel for the whole file (first-run setup ran before it: e2e/first-run.setup.ts).
test.describe.configure({ mode: 'serial' });

test('sign-out and sign-in; a wrong password shows the error in the form', async ({ page }, info) => {
  const shot = stepShots(info);
  await signIn(page, ADMIN);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/signin$/);
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  await shot(page, 'signed-out');

  // Signed out means signed out: the dashboard sends us back.
  await page.goto('/');
  await expect(page).toHaveURL(/\/signin$/);

  await page.getByLabel('Email', { exact: true }).fill(ADMIN.email);
  await page.getByLabel('Password', { exact: true }).fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const form = page.locator('form');
  await expect(form.getByRole('alert')).toHaveText('Wrong email or password.');
  await shot(page, 'wrong-password');

  await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
  await shot(page, 'signed-in');
});

test('create a VM within quota, then one over quota is refused in the form', async ({ page }, info) => {
  const shot = stepShots(info);
  await signIn(page, ADMIN);
  await page.getByRole('link', { name: '+ New VM' }).click();
  await expect(page.getByRole('heading', { name: 'Create a virtual machine' })).toBeVisible();
  await expect(page.getByLabel('Image').locator('option:checked')).toHaveText('test-guest');

  await page.getByLabel('Name', { exact: true }).fill('Web 1');
  await page.getByLabel('Name', { exact: true }).blur();
  await expect(page.getByText('Lowercase letters, digits and dashes; no dash at either end.')).toBeVisible();
  await page.getByLabel('Name', { exact: true }).fill('web-1');
  await page.getByLabel('vCPUs').fill('2');
  await page.getByLabel('Memory (MiB)').fill('1024');
  await page.getByLabel('Disk (GiB)').fill('10');
  await expect(page.getByRole('complementary')).toContainText('6 left of 8');
  await shot(page, 'create-form');
  await page.getByRole('button', { name: 'Create VM' }).click();

  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
  const mine = page.getByRole('table', { name: 'My VMs' });
  await expect(mine.getByRole('link', { name: 'web-1' })).toBeVisible();
  await expect(mine).toContainText('stopped');
  await expect(page.getByRole('meter', { name: 'VMs used', exact: true })).toHaveAttribute('aria-valuetext', '1 of 5');
  await expect(page.getByRole('meter', { name: 'vCPUs used', exact: true })).toHaveAttribute('aria-valuetext', '2 of 8');
  await expect(page.getByRole('meter', { name: 'Memory used', exact: true })).toHaveAttribute('aria-valuetext', '1 GiB of 8 GiB');
  await expect(page.getByRole('meter', { name: 'Disk used', exact: true })).toHaveAttribute('aria-valuetext', '10 GiB of 100 GiB');
  await shot(page, 'dashboard-with-vm');

  await page.goto('/vms/new');
  await page.getByLabel('Name', { exact: true }).fill('big-1');
  await page.getByLabel('vCPUs').fill('16');
  await expect(page.getByRole('complementary')).toContainText('over by 10');
  await page.getByRole('button', { name: 'Create VM' }).click();
  const vcpuError = page.getByText('Quota exceeded: vCPUs: requested 16, remaining 6 of 8');
  await expect(vcpuError).toBeVisible();
  // The message is tied to the vCPUs input (aria-describedby), not floating elsewhere.
  await expect(page.getByLabel('vCPUs')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByLabel('vCPUs')).toHaveAccessibleDescription(/requested 16, remaining 6 of 8/);
  await expect(page).toHaveURL(/\/vms\/new$/);
  await shot(page, 'over-quota-refused');

  // A refusal only the server can make (the name is taken) lands under the field it concerns.
  await page.getByLabel('vCPUs').fill('1');
  await page.getByLabel('Name', { exact: true }).fill('web-1');
  await page.getByRole('button', { name: 'Create VM' }).click();
  await expect(page.getByLabel('Name', { exact: true })).toHaveAccessibleDescription('You already have a VM with this name.');
  await shot(page, 'server-refusal-on-field');

  // Narrow screen: the same pages work at 375 px.
  await page.setViewportSize({ width: 375, height: 800 });
  await shot(page, 'over-quota-mobile');
  await page.goto('/');
  await expect(page.getByRole('link', { name: 'web-1' })).toBeVisible();
  await shot(page, 'dashboard-mobile');
});

test('sharing: viewer sees the VM, cannot delete it, loses it when revoked', async ({ page, browser }, info) => {
  const shot = stepShots(info);
  await signIn(page, ADMIN);

  // The admin creates a second user.
  await page.getByRole('link', { name: 'Admin' }).click();
  await expect(page.getByRole('heading', { name: 'Administration' })).toBeVisible();
  await page.getByRole('button', { name: '+ Add user' }).click();
  await page.getByLabel('Name', { exact: true }).fill(BOB.name);
  await page.getByLabel('Email', { exact: true }).fill(BOB.email);
  await page.getByLabel('Initial password').fill(BOB.password);
  await page.getByLabel('Role', { exact: true }).selectOption('user');
  await shot(page, 'admin-new-user');
  await page.getByRole('button', { name: 'Create user' }).click();
  const users = page.getByRole('table', { name: 'Users' });
  await expect(users).toContainText(BOB.email);
  await shot(page, 'admin-users');

  // The owner shares web-1 with Bob as viewer.
  await page.getByRole('link', { name: 'Dashboard' }).click();
  await page.getByRole('table', { name: 'My VMs' }).getByRole('link', { name: 'web-1' }).click();
  await expect(page.getByRole('heading', { name: /web-1/ })).toBeVisible();
  await page.getByLabel('Share with (email)').fill(BOB.email);
  await page.getByLabel('Role', { exact: true }).selectOption('viewer');
  await page.getByRole('button', { name: 'Share', exact: true }).click();
  const people = page.getByRole('list', { name: 'People with access' });
  await expect(people).toContainText(BOB.email);
  await shot(page, 'owner-shared');

  // Bob, in his own browser context.
  const bobContext = await browser.newContext();
  const bob = await bobContext.newPage();
  await signIn(bob, BOB);
  await expect(bob.getByRole('link', { name: 'Admin' })).toHaveCount(0);
  const shared = bob.getByRole('table', { name: 'Shared with me' });
  await expect(shared.getByRole('link', { name: 'web-1' })).toBeVisible();
  await expect(shared).toContainText('viewer');
  await expect(shared).toContainText(ADMIN.email);
  await shot(bob, 'viewer-dashboard');

  await shared.getByRole('link', { name: 'web-1' }).click();
  await expect(bob.getByRole('heading', { name: /web-1/ })).toBeVisible();
  await expect(bob.getByRole('list', { name: 'People with access' })).toContainText(BOB.email);
  await expect(bob.getByRole('button', { name: 'Delete' })).toHaveCount(0);
  await expect(bob.getByRole('button', { name: 'Start' })).toHaveCount(0);
  await expect(bob.getByRole('button', { name: /Revoke/ })).toHaveCount(0);
  await shot(bob, 'viewer-vm-page');

  // Forcing it through the API from Bob's page (his cookie, same origin) is refused.
  const vmId = bob.url().split('/').pop()!;
  const forced = await bob.evaluate(async (id) => {
    const r = await fetch('/api/trpc/vm.delete', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ json: { id, force: true } }),
    });
    return { status: r.status, body: await r.json() };
  }, vmId);
  expect(forced.status).toBe(403);
  expect(forced.body.error.json.data.code).toBe('FORBIDDEN');
  expect(forced.body.error.json.message).toContain('does not include "delete"');

  // The owner revokes; Bob's open page learns it from the live feed.
  await page.getByRole('button', { name: `Revoke access for ${BOB.email}` }).click();
  await expect(page.getByText('Not shared with anyone')).toBeVisible();
  await shot(page, 'owner-revoked');

  await expect(bob.getByText('This VM is not available')).toBeVisible({ timeout: 15_000 });
  await shot(bob, 'viewer-after-revoke');
  await bob.goto('/');
  await expect(bob.getByText('Nothing shared with you')).toBeVisible();
  await expect(bob.getByRole('link', { name: 'web-1' })).toHaveCount(0);
  await shot(bob, 'viewer-dashboard-after-revoke');
  await bobContext.close();

  // The VM still exists for its owner.
  await page.goto('/');
  await expect(page.getByRole('table', { name: 'My VMs' }).getByRole('link', { name: 'web-1' })).toBeVisible();
});

test('account tokens, audit filters, admin quota warning, delete with confirmation', async ({ page }, info) => {
  const shot = stepShots(info);
  await signIn(page, ADMIN);

  await page.getByRole('link', { name: 'Account' }).click();
  await expect(page.getByRole('heading', { name: 'Account' })).toBeVisible();
  await expect(page.getByRole('list', { name: 'Active sessions' })).toContainText('this device');
  await page.getByLabel('Token name').fill('ci deploy');
  await page.getByRole('button', { name: 'Create token' }).click();
  await expect(page.getByLabel('New token secret')).not.toBeEmpty();
  await expect(page.getByRole('button', { name: 'Copy' })).toBeVisible();
  await expect(page.getByRole('list', { name: 'API tokens' })).toContainText('ci deploy');
  await shot(page, 'token-created');
  await page.getByRole('button', { name: 'Done' }).click();
  await page.getByRole('button', { name: 'Revoke token ci deploy' }).click();
  await expect(page.getByText('No API tokens')).toBeVisible();

  // Wrong current password: the message sits under that field.
  await page.getByLabel('Current password').fill('wrong password!');
  await page.getByLabel('New password', { exact: true }).fill('another long password');
  await page.getByLabel('Confirm new password').fill('another long password');
  await page.getByRole('button', { name: 'Change password' }).click();
  await expect(page.getByLabel('Current password')).toHaveAccessibleDescription('The current password is wrong.');
  await shot(page, 'account');

  await page.getByRole('link', { name: 'Audit' }).click();
  await expect(page.getByRole('heading', { name: 'Audit log' })).toBeVisible();
  await page.getByLabel('Action starts with').fill('vm.');
  await page.getByLabel('Outcome').selectOption('denied');
  const table = page.getByRole('table');
  await expect(table).toContainText('vm.delete');
  await expect(table.getByRole('cell', { name: 'ok', exact: true })).toHaveCount(0);
  await shot(page, 'audit-filtered');

  await page.getByRole('link', { name: 'Admin' }).click();
  await page.getByRole('button', { name: `Edit ${ADMIN.email}` }).click();
  await page.getByLabel('Max VMs').first().fill('0');
  await expect(page.getByText('Below current usage (1).')).toBeVisible();
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'below current usage for vms' })).toBeVisible();
  await expect(page.getByRole('table', { name: 'Users' })).toContainText('Over limit: VMs');
  await shot(page, 'admin-quota-warning');

  await page.emulateMedia({ colorScheme: 'dark' });
  await page.getByRole('link', { name: 'Dashboard' }).click();
  await expect(page.getByText('Over limit: VMs')).toBeVisible();
  await shot(page, 'dashboard-dark');

  await page.getByRole('table', { name: 'My VMs' }).getByRole('link', { name: 'web-1' }).click();
  await expect(page.getByRole('heading', { name: /web-1/ })).toBeVisible();
  await page.setViewportSize({ width: 375, height: 800 });
  await shot(page, 'vm-page-mobile-dark');
  await page.getByRole('button', { name: 'Delete', exact: true }).click();
  const dialog = page.getByRole('dialog', { name: 'Delete web-1?' });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await shot(page, 'delete-confirm-dark');
  await dialog.getByRole('button', { name: 'Delete' }).click();
  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
  await expect(page.getByText('No virtual machines yet')).toBeVisible();
  await expect(page.getByRole('meter', { name: 'VMs used', exact: true })).toHaveAttribute('aria-valuetext', '0 of 0');
  await shot(page, 'after-delete-dark');
});
