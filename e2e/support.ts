import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, type Page, type TestInfo } from '@playwright/test';

export const ADMIN = { name: 'Ada Admin', email: 'admin@example.org', password: 'correct horse battery' };
export const BOB = { name: 'Bob Builder', email: 'bob@example.org', password: 'bob-password-123' };

function slug(s: string) {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);
}

/** Screenshots per step: e2e/artifacts/<test>/<NN-step>.png */
export function stepShots(info: TestInfo) {
  const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'artifacts', slug(info.title));
  mkdirSync(dir, { recursive: true });
  let n = 0;
  return async (page: Page, step: string) => {
    n += 1;
    await page.screenshot({ path: path.join(dir, `${String(n).padStart(2, '0')}-${slug(step)}.png`), fullPage: true });
  };
}

export async function signIn(page: Page, who: { email: string; password: string }) {
  await page.goto('/signin');
  await page.getByLabel('Email', { exact: true }).fill(who.email);
  await page.getByLabel('Password', { exact: true }).fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
}

/**
 * Signs the admin in, doing the first-run setup first when this panel has
 * none yet (spec files run in name order, so any of them may be first).
 */
export async function setUpOrSignIn(page: Page, who: { name: string; email: string; password: string } = ADMIN) {
  await page.goto('/signin');
  // A fresh panel sends /signin on to /setup once the page has asked.
  const setup = page.getByRole('heading', { name: 'Set up the panel' });
  await expect(setup.or(page.getByRole('button', { name: 'Sign in' }))).toBeVisible();
  if (!(await setup.isVisible())) return signIn(page, who);
  await page.getByLabel('Name', { exact: true }).fill(who.name);
  await page.getByLabel('Email', { exact: true }).fill(who.email);
  await page.getByLabel('Password', { exact: true }).fill(who.password);
  await page.getByLabel('Confirm password', { exact: true }).fill(who.password);
  await page.getByRole('button', { name: 'Create administrator' }).click();
  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
}

/** The admin adds a user through the admin page. */
export async function addUser(page: Page, who: { name: string; email: string; password: string }, role: 'user' | 'admin' = 'user') {
  await page.goto('/admin');
  await expect(page.getByRole('heading', { name: 'Administration' })).toBeVisible();
  await page.getByRole('button', { name: '+ Add user' }).click();
  await page.getByLabel('Name', { exact: true }).fill(who.name);
  await page.getByLabel('Email', { exact: true }).fill(who.email);
  await page.getByLabel('Initial password').fill(who.password);
  await page.getByLabel('Role', { exact: true }).selectOption(role);
  await page.getByRole('button', { name: 'Create user' }).click();
  await expect(page.getByRole('table', { name: 'Users' })).toContainText(who.email);
}
