// Shared helpers for the Keel Playwright suite. The values come from the
// environment that playwright.config.ts sets up in the runner's main
// process and every worker inherits.
import {
  expect,
  request,
  type APIRequestContext,
  type Browser,
  type BrowserContext,
  type Page,
} from '@playwright/test';

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the suite with --config e2e/playwright.config.ts`);
  return v;
}

/** The running Keel, e.g. http://127.0.0.1:41234. */
export const baseURL = env('KEEL_E2E_BASE_URL');

/** The password of the `admin` user that Keel created on first run. */
export function adminPassword(): string {
  return env('KEEL_E2E_ADMIN_PASSWORD');
}

/** Signs in through the login form and waits until the app has left /login. */
export async function login(page: Page, user: string, password: string): Promise<void> {
  await page.goto('/login');
  await page.getByLabel('Username', { exact: true }).fill(user);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByTestId('login-submit').click();
  await expect(page).not.toHaveURL(/\/login(\?|$)/);
  await expect(page.getByTestId('user-menu')).toBeVisible();
}

/** A new browser context (own cookies: a separate person) signed in as user. */
export async function signedIn(
  browser: Browser,
  user: string,
  password: string,
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  acceptDialogs(page);
  await login(page, user, password);
  return { context, page };
}

/** Accepts every confirm() the page raises (hx-confirm on destructive actions). */
export function acceptDialogs(page: Page): void {
  page.on('dialog', (dialog) => void dialog.accept());
}

/** Creates a user with the form on /users and waits for its row. */
export async function createUser(page: Page, name: string, password: string, role: string): Promise<void> {
  if (!new URL(page.url()).pathname.startsWith('/users')) {
    await page.goto('/users');
  }
  const form = page.getByTestId('user-create-form');
  await form.locator('[name="username"]').fill(name);
  await form.locator('[name="password"]').fill(password);
  await form.locator('select[name="role"]').selectOption(role);
  await page.getByTestId('user-create-submit').click();
  await expect(page.getByTestId(`user-row-${name}`)).toBeVisible();
  await expect(page.getByTestId(`role-select-${name}`)).toHaveValue(role);
}

/** Waits until the page's live-update stream is connected. */
export async function waitLive(page: Page): Promise<void> {
  await expect(page.getByTestId('live-status')).toHaveAttribute('data-state', 'live');
}

/** The CSRF token the page carries (<meta name="csrf-token">). */
export async function csrfToken(page: Page): Promise<string> {
  const token = await page.locator('meta[name="csrf-token"]').getAttribute('content');
  if (!token) throw new Error('page has no <meta name="csrf-token">');
  return token;
}

/**
 * Creates an API token with the form on /tokens (all environments, the
 * default expiry) and returns its value, which the page shows only once.
 */
export async function createToken(page: Page, name: string, role: string): Promise<string> {
  if (!new URL(page.url()).pathname.startsWith('/tokens')) {
    await page.goto('/tokens');
  }
  const form = page.getByTestId('token-create-form');
  await form.locator('[name="name"]').fill(name);
  await form.locator('select[name="role"]').selectOption(role);
  await page.getByTestId('token-create-submit').click();
  const value = page.getByTestId('token-value');
  await expect(value).toBeVisible();
  const token = (await value.textContent())?.trim() ?? '';
  expect(token, 'token value').not.toBe('');
  return token;
}

/** A JSON API client (/api/v1) that authenticates with an API token. */
export async function apiClient(token: string): Promise<APIRequestContext> {
  return request.newContext({
    baseURL,
    extraHTTPHeaders: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
  });
}
