// The acceptance scenarios of issue 2 ("Foundation"): sign-in, users and
// roles, sessions, the audit log and live updates, plus theme and mobile
// smoke checks. Every person gets their own browser context.
import { expect, test, type Page } from '@playwright/test';
import { acceptDialogs, adminPassword, createUser, csrfToken, login, signedIn, waitLive } from './support/helpers';

const editor = { name: 'editor', password: 'editor-Passw0rd-e2e', role: 'editor' };
const viewer = { name: 'viewer', password: 'viewer-Passw0rd-e2e', role: 'viewer' };
// Not one of the demo users (alice, bob, carol).
const dana = { name: 'dana', password: 'dana-Passw0rd-e2e', role: 'viewer' };
const ops = { name: 'ops', password: 'ops-Passw0rd-e2e-admin', role: 'admin' };

const adminNav = ['nav-users', 'nav-sessions', 'nav-tokens', 'nav-system'];
const everyoneNav = ['nav-audit', 'nav-environments'];

/** The data-action of every audit row on the page, top to bottom. */
async function auditActions(page: Page): Promise<string[]> {
  return page.getByTestId('audit-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-action') ?? ''));
}

test.describe('foundation', () => {
  // Each scenario builds on the one before (users created in (a) sign in
  // later), so they run in order and stop at the first failure.
  test.describe.configure({ mode: 'serial' });

  test('sign-in rejects a wrong password', async ({ page }) => {
    await page.goto('/');
    await expect(page).toHaveURL(/\/login/);
    await page.getByLabel('Username', { exact: true }).fill('admin');
    await page.getByLabel('Password', { exact: true }).fill('not-the-password');
    await page.getByTestId('login-submit').click();
    await expect(page.getByTestId('login-error')).toBeVisible();
    await expect(page).toHaveURL(/\/login/);
    await expect(page.getByTestId('user-menu')).toHaveCount(0);
  });

  test('(a) the admin signs in and creates an editor and a viewer', async ({ page }) => {
    acceptDialogs(page);
    await login(page, 'admin', adminPassword());
    for (const id of [...adminNav, ...everyoneNav]) {
      await expect(page.getByTestId(id), id).toBeVisible();
    }

    await page.getByTestId('nav-users').click();
    await expect(page).toHaveURL(/\/users$/);

    // The server validates the name and shows the error by the field.
    const form = page.getByTestId('user-create-form');
    await form.locator('[name="username"]').fill('Bad Name!');
    await form.locator('[name="password"]').fill('whatever-Passw0rd-e2e');
    await page.getByTestId('user-create-submit').click();
    await expect(page.getByTestId('error-username')).toBeVisible();
    await expect(page.locator('[data-testid="user-row-Bad Name!"]')).toHaveCount(0);

    await createUser(page, editor.name, editor.password, editor.role);
    await createUser(page, viewer.name, viewer.password, viewer.role);
    await expect(page.getByTestId('error-username')).toHaveCount(0);
  });

  test('(b) a viewer sees no admin pages and cannot submit a change', async ({ browser }) => {
    const { context, page } = await signedIn(browser, viewer.name, viewer.password);
    try {
      for (const id of everyoneNav) {
        await expect(page.getByTestId(id), id).toBeVisible();
      }
      for (const id of adminNav) {
        await expect(page.getByTestId(id), id).toHaveCount(0);
      }

      const resp = await page.goto('/users');
      expect(resp?.status()).toBe(403);
      await expect(page.getByTestId('error-page')).toBeVisible();
      await expect(page.getByTestId('users-table')).toHaveCount(0);

      // The page's own fetch, with its CSRF token: a change the viewer may
      // make gets through the CSRF check (422, wrong current password)...
      await page.goto('/');
      const token = await csrfToken(page);
      const post = (url: string, fields: Record<string, string>) =>
        page.evaluate(
          async ({ url, body }) => {
            const r = await fetch(url, {
              method: 'POST',
              headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
              body: new URLSearchParams(body).toString(),
            });
            return r.status;
          },
          { url, body: { _csrf: token, ...fields } },
        );
      expect(
        await post('/account/password', {
          current_password: 'not-my-password',
          new_password: 'another-Passw0rd-e2e',
          confirm_password: 'another-Passw0rd-e2e',
        }),
      ).toBe(422);
      // ...and one reserved to admins is refused.
      expect(await post('/users', { username: 'mallory', password: 'mallory-Passw0rd-e2e', role: 'admin' })).toBe(403);
    } finally {
      await context.close();
    }

    // Nothing was created.
    const admin = await signedIn(browser, 'admin', adminPassword());
    try {
      await admin.page.goto('/users');
      await expect(admin.page.getByTestId('user-row-viewer')).toBeVisible();
      await expect(admin.page.getByTestId('user-row-mallory')).toHaveCount(0);
    } finally {
      await admin.context.close();
    }
  });

  test("(c) the admin revokes the editor's session; the editor's next click lands on /login", async ({ browser }) => {
    const ed = await signedIn(browser, editor.name, editor.password);
    const admin = await signedIn(browser, 'admin', adminPassword());
    try {
      await admin.page.goto('/sessions?user=editor');
      const rows = admin.page.locator('[data-testid^="session-row-"]');
      await expect(rows).toHaveCount(1);
      const handle = (await rows.first().getAttribute('data-testid'))!.slice('session-row-'.length);
      await admin.page.getByTestId(`revoke-${handle}`).click();
      await expect(admin.page.getByTestId(`session-row-${handle}`)).toHaveCount(0);

      // The editor's page is still open; the next click needs a session.
      const auditLink = ed.page.getByTestId('nav-audit');
      if (await auditLink.isVisible()) {
        await auditLink.click();
      }
      await expect(ed.page).toHaveURL(/\/login/);
      await ed.page.goto('/audit');
      await expect(ed.page).toHaveURL(/\/login/);
    } finally {
      await ed.context.close();
      await admin.context.close();
    }
  });

  test('(d) the audit log shows all of it and filters by action', async ({ page }) => {
    await login(page, 'admin', adminPassword());
    await page.getByTestId('nav-audit').click();
    await expect(page).toHaveURL(/\/audit/);
    await expect(page.getByTestId('audit-table')).toBeVisible();

    const actions = await auditActions(page);
    expect(actions.filter((a) => a === 'user.create').length).toBeGreaterThanOrEqual(2);
    expect(actions).toContain('auth.login');
    expect(actions).toContain('session.revoke');
    const created = page.locator('[data-testid="audit-row"][data-action="user.create"]');
    await expect(created.filter({ hasText: editor.name }).first()).toBeVisible();
    await expect(created.filter({ hasText: viewer.name }).first()).toBeVisible();

    await page.getByTestId('audit-filter').locator('[name="action"]').fill('user.');
    await page.getByTestId('audit-apply').click();
    await expect(page).toHaveURL(/[?&]action=user\./);
    await expect
      .poll(async () => {
        const a = await auditActions(page);
        return a.length >= 2 && a.every((x) => x.startsWith('user.'));
      })
      .toBe(true);
    // Both creations are still there (first-run and demo users may add more).
    await expect(created.filter({ hasText: editor.name }).first()).toBeVisible();
    await expect(created.filter({ hasText: viewer.name }).first()).toBeVisible();

    // The filter survives a reload (it is in the URL).
    await page.reload();
    await expect(page.getByTestId('audit-filter').locator('[name="action"]')).toHaveValue('user.');
    expect((await auditActions(page)).every((x) => x.startsWith('user.'))).toBe(true);
  });

  test('signing out ends the session', async ({ page }) => {
    await login(page, viewer.name, viewer.password);
    await page.getByTestId('user-menu').click();
    await page.getByTestId('sign-out').click();
    await expect(page).toHaveURL(/\/login/);
    await page.goto('/');
    await expect(page).toHaveURL(/\/login/);
  });

  test('(e) a change in one browser appears live in another', async ({ browser }) => {
    // Toasts announce other people's changes, so B is a second admin.
    const a = await signedIn(browser, 'admin', adminPassword());
    await createUser(a.page, ops.name, ops.password, ops.role);
    const b = await signedIn(browser, ops.name, ops.password);
    try {
      await b.page.goto('/users');
      await waitLive(b.page);
      // Survives only if B is never reloaded.
      await b.page.evaluate(() => ((window as unknown as { keelE2E: string }).keelE2E = 'no-reload'));
      await expect(b.page.getByTestId(`user-row-${dana.name}`)).toHaveCount(0);

      await createUser(a.page, dana.name, dana.password, dana.role);

      await expect(b.page.getByTestId(`user-row-${dana.name}`)).toBeVisible();
      await expect(b.page.getByTestId('toast').filter({ hasText: dana.name })).toBeVisible();
      expect(await b.page.evaluate(() => (window as unknown as { keelE2E?: string }).keelE2E)).toBe('no-reload');
    } finally {
      await a.context.close();
      await b.context.close();
    }
  });
});

test.describe('theme', () => {
  test.use({ colorScheme: 'light' });

  /** Relative luminance (0 dark … 1 light) of the page background. */
  const background = (page: Page) =>
    page.evaluate(() => {
      for (const el of [document.body, document.documentElement]) {
        const m = getComputedStyle(el).backgroundColor.match(/[\d.]+/g);
        if (m && (m.length < 4 || Number(m[3]) > 0)) {
          const [r, g, b] = m.slice(0, 3).map(Number);
          return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
        }
      }
      return 1; // transparent all the way: the browser's white
    });

  test('the toggle switches to the dark theme, which persists', async ({ page }) => {
    await page.goto('/login');
    const root = page.locator('html');
    expect(await background(page)).toBeGreaterThan(0.5);

    // The toggle cycles system → light → dark.
    const toggle = page.getByTestId('theme-toggle');
    for (let i = 0; i < 3 && (await root.getAttribute('data-theme')) !== 'dark'; i++) {
      await toggle.click();
    }
    await expect(root).toHaveAttribute('data-theme', 'dark');
    expect(await background(page)).toBeLessThan(0.5);

    // The choice survives a reload and applies to signed-in pages.
    await page.reload();
    await expect(root).toHaveAttribute('data-theme', 'dark');
    await login(page, 'admin', adminPassword());
    await expect(root).toHaveAttribute('data-theme', 'dark');
    expect(await background(page)).toBeLessThan(0.5);
  });
});

test.describe('mobile (390px)', () => {
  test.use({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });

  test('the navigation sits behind a toggle and the page does not scroll sideways', async ({ page }) => {
    await login(page, 'admin', adminPassword());
    const toggle = page.getByTestId('nav-toggle');
    await expect(toggle).toBeVisible();
    await expect(page.getByTestId('nav-audit')).not.toBeInViewport();

    await toggle.click();
    await expect(toggle).toHaveAttribute('aria-expanded', 'true');
    await expect(page.getByTestId('nav-audit')).toBeInViewport();
    await page.getByTestId('nav-audit').click();
    await expect(page).toHaveURL(/\/audit/);
    await expect(page.getByTestId('audit-table')).toBeVisible();

    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
  });
});
