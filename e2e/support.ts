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
