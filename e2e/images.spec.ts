// The admin images page: the catalog (the built-in test guest), a refused
// upload with the validator's message, a kernel upload with progress that
// becomes an image, and its deletion.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from '@playwright/test';
import { setUpOrSignIn, stepShots } from './support';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const GUEST = path.join(ROOT, 'native/guest/build/guest.elf');

test('admin uploads a kernel on the images page, sees progress, imports it and deletes it', async ({ page }, info) => {
  const shot = stepShots(info);
  await setUpOrSignIn(page);
  await page.goto('/admin');
  await page.getByRole('navigation', { name: 'Administration sections' }).getByRole('link', { name: 'Images' }).click();
  await expect(page.getByRole('heading', { name: 'Images', level: 1 })).toBeVisible();
  const table = page.getByRole('table', { name: 'Images' });
  await expect(table.locator('tr[data-image="test-guest"]')).toContainText('built-in');
  await expect(table.locator('tr[data-image="test-guest"]')).toContainText('any KVM host');
  await shot(page, 'catalog');

  // Not a kernel: the validator's message beside the file input, nothing imported.
  const form = page.getByRole('form', { name: 'Import an image' });
  await form.getByLabel('Name', { exact: true }).fill('browser-guest');
  await form.getByLabel('Kernel', { exact: true }).setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.alloc(4096, 'a') });
  await form.getByRole('button', { name: 'Upload and import' }).click();
  await expect(form.getByRole('alert')).toContainText('notes.txt: not a kernel');
  await shot(page, 'refused');

  await form.getByLabel('Kernel', { exact: true }).setInputFiles(GUEST);
  await form.getByLabel('Default kernel command line').fill('console=ttyS0');
  await form.getByLabel('Minimum memory (MiB)').fill('32');
  await form.getByRole('button', { name: 'Upload and import' }).click();
  await expect(page.getByTestId('progress-kernel')).toHaveText('Uploaded and checked');
  await expect(page.getByRole('progressbar', { name: 'Kernel upload' })).toHaveAttribute('value', String((await import('node:fs')).statSync(GUEST).size));
  await expect(table.locator('tr[data-image="browser-guest"]')).toContainText('uploaded');
  await expect(table.locator('tr[data-image="browser-guest"]')).toContainText('0 VMs');
  await shot(page, 'imported');

  // Everyone's image list has it (the create form).
  await page.goto('/vms/new');
  await expect(page.getByLabel('Image')).toContainText('browser-guest');

  await page.goto('/admin/images');
  await table.locator('tr[data-image="browser-guest"]').getByRole('button', { name: 'Delete image browser-guest' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete image' }).click();
  await expect(table.locator('tr[data-image="browser-guest"]')).toHaveCount(0);
  await shot(page, 'deleted');
});
