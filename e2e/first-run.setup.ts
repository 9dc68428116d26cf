import { expect, test } from '@playwright/test';
import { ADMIN, stepShots } from './support';

// Runs before every other browser test (the "setup" project in playwright.config.ts):
// the fresh panel has no account yet, and its first visitor creates the administrator.
test('first-run setup creates the admin and lands on the dashboard', async ({ page }, info) => {
  const shot = stepShots(info);
  await page.goto('/signin');
  await expect(page).toHaveURL(/\/setup$/);
  await expect(page.getByRole('heading', { name: 'Set up the panel' })).toBeVisible();
  await shot(page, 'setup-form');

  await page.getByRole('button', { name: 'Create administrator' }).click();
  await expect(page.getByText('Name is required.')).toBeVisible();
  await shot(page, 'setup-validation');

  await page.getByLabel('Name', { exact: true }).fill(ADMIN.name);
  await page.getByLabel('Email', { exact: true }).fill(ADMIN.email);
  await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
  await page.getByLabel('Confirm password', { exact: true }).fill(ADMIN.password);
  await page.getByRole('button', { name: 'Create administrator' }).click();

  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
  await expect(page).toHaveTitle('Dashboard · KVM Panel');
  await expect(page.getByRole('banner')).toContainText(ADMIN.name);
  await expect(page.getByRole('link', { name: 'Admin' })).toBeVisible();
  await expect(page.getByText('No virtual machines yet')).toBeVisible();
  await expect(page.getByRole('meter', { name: 'VMs used', exact: true })).toHaveAttribute('aria-valuetext', '0 of 5');
  await shot(page, 'dashboard-empty');

  // Setup is done: /setup now sends people to sign-in.
  await page.goto('/setup');
  await expect(page).toHaveURL(/\/$/);
});
