// The acceptance story of issue 3 ("Configuration"): an editor edits
// development (a schema error shows next to the field, then is fixed),
// compares development with production and requests the promotion of two
// keys; a publisher who is not the author approves (and a publisher cannot
// approve their own request: another rejects it); the history of a key in
// production shows its versions and a rollback restores the old value; the
// editor sees secrets masked, an admin reveals one and the audit log shows
// the reveal. Plus a live check: a save in one browser shows in another's
// list, and on the key's page, without a reload.
//
// Keel runs with -demo (environments development, staging, qa, production —
// protected, requires approval — and a schema on db.*). foundation.spec.ts
// runs in the same Keel (files run in name order, so after this one) and
// creates editor, viewer, dana and ops: the people here have other names,
// and nothing here depends on what the other file does.
import { expect, test, type APIRequestContext, type Page } from '@playwright/test';
import {
  acceptDialogs,
  adminPassword,
  apiClient,
  createToken,
  createUser,
  csrfToken,
  login,
  signedIn,
  waitLive,
} from './support/helpers';

const author = { name: 'cfg-editor', password: 'cfg-editor-Passw0rd-e2e', role: 'editor' };
const approver = { name: 'cfg-publisher', password: 'cfg-publisher-Passw0rd-e2e', role: 'publisher' };
const releaser = { name: 'cfg-releaser', password: 'cfg-releaser-Passw0rd-e2e', role: 'publisher' };

// What the editor writes in development, and later promotes.
const dbKey = 'db.primary';
const dbHost = 'db.e2e.internal';
const dbGood = { host: dbHost, port: 6543, name: 'shop_e2e', pool: { size: 25 } };
const timeoutKey = 'http.client.timeout';
const timeoutValue = '4500ms';
const secretKey = 'payment.api_key';
const secretValue = `sk_test_e2e_${Date.now().toString(36)}`;
// Promoted by a publisher, to show the four-eyes rule and a rejection.
const levelKey = 'log.level';

// Shared by the steps of the story (one worker, serial).
let api: APIRequestContext;
let requestId = '';
let productionDbBefore: unknown;

type ConfigJSON = { key: string; type: string; value: unknown; version: number; masked?: boolean };

/** The effective value of a key as the JSON API serves it. */
async function getConfig(env: string, key: string): Promise<ConfigJSON> {
  const r = await api.get(`/api/v1/envs/${encodeURIComponent(env)}/configs/${encodeURIComponent(key)}`);
  expect(r.status(), `GET ${env}/${key}`).toBe(200);
  return (await r.json()) as ConfigJSON;
}

/** The row of a key in the configs table of the current page. */
function configRow(page: Page, key: string) {
  return page.getByTestId(`config-row-${key}`);
}

/** The version number of the history row marked current. */
async function currentVersion(page: Page): Promise<number> {
  const row = page.locator('tr[data-testid^="version-"]').filter({ has: page.getByTestId('version-current') });
  await expect(row).toHaveCount(1);
  const id = (await row.getAttribute('data-testid')) ?? '';
  const n = Number.parseInt(id.slice('version-'.length), 10);
  expect(Number.isInteger(n), `version of ${id}`).toBe(true);
  return n;
}

test.describe('configuration', () => {
  // Each step builds on the one before, so they run in order and stop at
  // the first failure. Most steps drive two or three browsers: allow them
  // more than the default 30s on a loaded machine.
  test.describe.configure({ mode: 'serial', timeout: 60_000 });

  test.afterAll(async () => {
    await api?.dispose();
  });

  test('the admin creates an editor, two publishers and a read token', async ({ page }) => {
    acceptDialogs(page);
    await login(page, 'admin', adminPassword());
    for (const u of [author, approver, releaser]) {
      await createUser(page, u.name, u.password, u.role);
    }
    api = await apiClient(await createToken(page, 'cfg-e2e-reader', 'viewer'));
    const me = await api.get('/api/v1/me');
    expect(me.status()).toBe(200);
  });

  test('a save in one browser shows in the config list of another without a reload', async ({ browser }) => {
    const a = await signedIn(browser, author.name, author.password);
    const b = await signedIn(browser, releaser.name, releaser.password);
    try {
      for (const p of [a.page, b.page]) {
        await p.goto('/configs?env=development');
        await expect(configRow(p, 'cache.ttl_seconds')).toBeVisible();
      }
      await waitLive(b.page);
      // Survives only if B is never reloaded.
      await b.page.evaluate(() => ((window as unknown as { keelE2E: string }).keelE2E = 'no-reload'));
      const before = (await configRow(b.page, 'cache.ttl_seconds').locator('.cfg-value').textContent())?.trim();
      const next = before === '120' ? '121' : '120';

      await configRow(a.page, 'cache.ttl_seconds').getByRole('link', { name: 'cache.ttl_seconds', exact: true }).click();
      await expect(a.page).toHaveURL(/\/configs\/edit\?env=development&key=cache\.ttl_seconds$/);
      await a.page.getByTestId('config-value').fill(next);
      await a.page.getByTestId('config-comment').fill('live check');
      await a.page.getByTestId('config-save').click();
      await expect(a.page.getByTestId('toast').filter({ hasText: 'Saved cache.ttl_seconds' })).toBeVisible();

      await expect(configRow(b.page, 'cache.ttl_seconds').locator('.cfg-value')).toHaveText(next);
      await expect(configRow(b.page, 'cache.ttl_seconds')).toContainText(`by ${author.name}`);
      expect(await b.page.evaluate(() => (window as unknown as { keelE2E?: string }).keelE2E)).toBe('no-reload');

      // On the key's own page, the other browser is told the key moved on.
      await b.page.goto('/configs/edit?env=development&key=cache.ttl_seconds');
      await waitLive(b.page);
      await expect(b.page.getByTestId('config-notice')).toHaveCount(0);
      const seen = (await getConfig('development', 'cache.ttl_seconds')).version;
      await a.page.getByTestId('config-value').fill(String(Number(next) + 5));
      await a.page.getByTestId('config-save').click();
      await expect(a.page.getByTestId('toast').filter({ hasText: `Saved cache.ttl_seconds version ${seen + 1}` })).toBeVisible();
      await expect(b.page.getByTestId('config-notice')).toContainText(`${author.name} saved v${seen + 1}`);
    } finally {
      await a.context.close();
      await b.context.close();
    }
  });

  test('the editor edits development: a schema error shows by the value, then the fix is saved', async ({ browser }) => {
    const { context, page } = await signedIn(browser, author.name, author.password);
    try {
      const before = await getConfig('development', dbKey);
      expect(before.type).toBe('json');

      await page.goto('/configs?env=development');
      await configRow(page, dbKey).getByRole('link', { name: dbKey, exact: true }).click();
      await expect(page.getByTestId('config-key')).toHaveText(dbKey);
      await expect(page.getByTestId('config-schema')).toContainText('db.*');
      const value = page.getByTestId('config-value-json');
      await expect(value).toBeEnabled();

      // Port 0 breaks the schema on db.* (1..65535).
      await value.fill(JSON.stringify({ host: dbHost, port: 0 }));
      await page.getByTestId('config-comment').fill('move to the e2e database');
      await page.getByTestId('config-save').click();
      const error = page.getByTestId('error-value');
      await expect(error).toBeVisible();
      await expect(error).toContainText('port');
      await expect(page.getByTestId('config-value-json')).toHaveAttribute('aria-invalid', 'true');
      // The error sits in the value's own field, and what was typed stays.
      await expect(page.locator('[data-value-field]').getByTestId('error-value')).toBeVisible();
      await expect(page.getByTestId('config-value-json')).toHaveValue(/"port":\s*0/);
      // Nothing was saved.
      const unchanged = await getConfig('development', dbKey);
      expect(unchanged.version).toBe(before.version);
      expect(unchanged.value).toEqual(before.value);

      // A missing host breaks it too.
      await page.getByTestId('config-value-json').fill(JSON.stringify({ port: 6543 }));
      await page.getByTestId('config-save').click();
      await expect(page.getByTestId('error-value')).toContainText('host');
      expect((await getConfig('development', dbKey)).version).toBe(before.version);

      // Fixed: a new version.
      await page.getByTestId('config-value-json').fill(JSON.stringify(dbGood, null, 2));
      await page.getByTestId('config-save').click();
      await expect(page.getByTestId('error-value')).toHaveCount(0);
      await expect(page.getByTestId('toast').filter({ hasText: `Saved ${dbKey} version ${before.version + 1}` })).toBeVisible();
      await expect(page.getByTestId('config-form')).toContainText(`editing v${before.version + 1}`);
      const saved = await getConfig('development', dbKey);
      expect(saved.version).toBe(before.version + 1);
      expect(saved.value).toEqual(dbGood);

      // The second key.
      await page.goto('/configs?env=development');
      await configRow(page, timeoutKey).getByRole('link', { name: timeoutKey, exact: true }).click();
      await expect(page.getByTestId('config-key')).toHaveText(timeoutKey);
      const t0 = await getConfig('development', timeoutKey);
      await page.getByTestId('config-value').fill(timeoutValue);
      await page.getByTestId('config-comment').fill('slower upstream');
      await page.getByTestId('config-save').click();
      await expect(page.getByTestId('toast').filter({ hasText: `Saved ${timeoutKey} version ${t0.version + 1}` })).toBeVisible();

      // The list shows both new values.
      await page.goto('/configs?env=development');
      await expect(configRow(page, timeoutKey).locator('.cfg-value')).toHaveText(timeoutValue);
      await expect(configRow(page, dbKey).locator('.cfg-value')).toContainText(dbHost);
    } finally {
      await context.close();
    }
  });

  test('the editor compares development with production and requests the promotion of two keys', async ({ browser }) => {
    const { context, page } = await signedIn(browser, author.name, author.password);
    try {
      productionDbBefore = (await getConfig('production', dbKey)).value;
      const productionTimeout = (await getConfig('production', timeoutKey)).value;

      await page.goto('/compare?a=development&b=production');
      await expect(page.getByTestId('compare-a')).toHaveValue('development');
      await expect(page.getByTestId('compare-b')).toHaveValue('production');
      await expect(page.getByTestId('compare-summary')).toBeVisible();
      const different = page.getByTestId('different');
      await expect(different.getByTestId(`compare-row-${dbKey}`)).toBeVisible();
      await expect(different.getByTestId(`compare-row-${timeoutKey}`)).toBeVisible();
      // Each side of the diff: development's new value and production's.
      const dbDiff = page.getByTestId(`compare-diff-${dbKey}`);
      await expect(dbDiff).toContainText(dbHost);
      await expect(dbDiff).toContainText((productionDbBefore as { host: string }).host);
      const tDiff = page.getByTestId(`compare-diff-${timeoutKey}`);
      await expect(tDiff).toContainText(timeoutValue);
      await expect(tDiff).toContainText(String(productionTimeout));
      // Secrets differ without showing their values.
      await expect(page.getByTestId(`secret-differs-${secretKey}`)).toBeVisible();
      await expect(page.locator('#main')).not.toContainText('sk_live_');

      const promote = page.getByTestId('promote-selected');
      await expect(promote).toBeDisabled();
      await page.getByTestId(`select-${dbKey}`).check();
      await page.getByTestId(`select-${timeoutKey}`).check();
      await expect(page.getByTestId('promote-bar')).toContainText('2 keys selected');
      await expect(promote).toBeEnabled();
      await promote.click();

      // The preview: the two keys, no schema violation, and approval needed.
      await expect(page.getByTestId('promote-preview')).toBeVisible();
      await expect(page.getByTestId('promote-needs-approval')).toBeVisible();
      await expect(page.locator('[data-testid^="promote-item-"]')).toHaveCount(2);
      await expect(page.getByTestId(`promote-item-${dbKey}`)).toContainText('changed');
      await expect(page.getByTestId(`promote-diff-${dbKey}`)).toContainText(dbHost);
      await expect(page.getByTestId(`promote-diff-${timeoutKey}`)).toContainText(timeoutValue);
      await expect(page.locator('[data-testid^="violation-"]')).toHaveCount(0);
      await expect(page.getByTestId('promote-blocked')).toHaveCount(0);
      await page.getByTestId('promote-comment').fill('e2e database and a longer timeout');
      const apply = page.getByTestId('promote-apply');
      await expect(apply).toHaveText(/Request approval/);
      await apply.click();

      // A change request, waiting for someone else.
      await expect(page).toHaveURL(/\/change-requests\/[^/?#]+$/);
      requestId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop() ?? '');
      await expect(page.getByTestId('cr-status')).toHaveText('pending');
      await expect(page.getByTestId('cr-waiting')).toBeVisible();
      await expect(page.getByTestId('cr-approve')).toHaveCount(0);
      await expect(page.getByTestId(`promote-item-${dbKey}`)).toBeVisible();
      await expect(page.getByTestId(`promote-item-${timeoutKey}`)).toBeVisible();

      // Nothing reached production yet.
      expect((await getConfig('production', dbKey)).value).toEqual(productionDbBefore);
      expect((await getConfig('production', timeoutKey)).value).toEqual(productionTimeout);
    } finally {
      await context.close();
    }
  });

  test('a publisher who is not the author approves, and the values are in production', async ({ browser }) => {
    expect(requestId, 'the change request of the previous step').not.toBe('');
    const { context, page } = await signedIn(browser, approver.name, approver.password);
    try {
      await page.goto('/promotions');
      const row = page.getByTestId(`cr-${requestId}`);
      await expect(row).toBeVisible();
      await expect(row).toContainText(author.name);
      await expect(page.getByTestId(`cr-needs-review-${requestId}`)).toBeVisible();
      await row.getByRole('link', { name: requestId, exact: true }).click();
      await expect(page).toHaveURL(new RegExp(`/change-requests/${requestId}$`));
      await expect(page.getByTestId('cr-status')).toHaveText('pending');

      await page.getByTestId('cr-comment').fill('looks good, ship it');
      await page.getByTestId('cr-approve').click();
      await expect(page.getByTestId('cr-status')).toHaveText('approved');
      await expect(page.getByTestId('cr-reviewer')).toHaveText(approver.name);
      await expect(page.getByTestId('cr-review-comment')).toHaveText('looks good, ship it');
      await expect(page.getByTestId('cr-review-form')).toHaveCount(0);

      // In production: the API and the configuration page.
      expect((await getConfig('production', dbKey)).value).toEqual(dbGood);
      expect((await getConfig('production', timeoutKey)).value).toBe(timeoutValue);
      await page.goto('/configs?env=production');
      await expect(configRow(page, timeoutKey).locator('.cfg-value')).toHaveText(timeoutValue);
      await expect(configRow(page, dbKey).locator('.cfg-value')).toContainText(dbHost);

      // The request no longer waits for review.
      await page.goto('/promotions');
      await expect(page.getByTestId(`cr-${requestId}`)).toContainText('approved');
      await expect(page.getByTestId(`cr-needs-review-${requestId}`)).toHaveCount(0);
    } finally {
      await context.close();
    }
  });

  test('a publisher cannot approve their own request; another publisher rejects it', async ({ browser }) => {
    const own = await signedIn(browser, releaser.name, releaser.password);
    const other = await signedIn(browser, approver.name, approver.password);
    try {
      const before = await getConfig('production', levelKey);
      const page = own.page;
      await page.goto('/compare?a=development&b=production');
      await page.getByTestId(`select-${levelKey}`).check();
      await page.getByTestId('promote-selected').click();
      await expect(page.locator('[data-testid^="promote-item-"]')).toHaveCount(1);
      await page.getByTestId('promote-comment').fill('more logs in production');
      await page.getByTestId('promote-apply').click();
      await expect(page).toHaveURL(/\/change-requests\/[^/?#]+$/);
      const id = decodeURIComponent(new URL(page.url()).pathname.split('/').pop() ?? '');
      expect(id).not.toBe(requestId);
      await expect(page.getByTestId('cr-status')).toHaveText('pending');
      // A publisher, but the author: no review form, and the server refuses.
      await expect(page.getByTestId('cr-waiting')).toBeVisible();
      await expect(page.getByTestId('cr-review-form')).toHaveCount(0);
      const token = await csrfToken(page);
      const status = await page.evaluate(
        async ({ url, body }) => {
          const r = await fetch(url, {
            method: 'POST',
            headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams(body).toString(),
          });
          return r.status;
        },
        { url: `/change-requests/${encodeURIComponent(id)}/approve`, body: { _csrf: token, comment: 'self-approval' } },
      );
      expect(status).toBe(409);
      await page.goto('/promotions');
      await expect(page.getByTestId(`cr-${id}`)).toContainText('pending');
      await expect(page.getByTestId(`cr-needs-review-${id}`)).toHaveCount(0);
      expect((await getConfig('production', levelKey)).version).toBe(before.version);

      // The other publisher rejects it; a rejection needs a comment.
      await other.page.goto(`/change-requests/${encodeURIComponent(id)}`);
      await other.page.getByTestId('cr-reject').click();
      await expect(other.page.getByTestId('error-comment')).toBeVisible();
      await expect(other.page.getByTestId('cr-status')).toHaveText('pending');
      await other.page.getByTestId('cr-comment').fill('keep production quiet');
      await other.page.getByTestId('cr-reject').click();
      await expect(other.page.getByTestId('cr-status')).toHaveText('rejected');
      await expect(other.page.getByTestId('cr-review-comment')).toHaveText('keep production quiet');
      const after = await getConfig('production', levelKey);
      expect(after.version).toBe(before.version);
      expect(after.value).toEqual(before.value);
    } finally {
      await own.context.close();
      await other.context.close();
    }
  });

  test("history shows the key's versions in production; a rollback restores the old value", async ({ browser }) => {
    const { context, page } = await signedIn(browser, releaser.name, releaser.password);
    try {
      await page.goto(`/configs/history?env=production&key=${encodeURIComponent(dbKey)}`);
      await expect(page.getByTestId('history')).toBeVisible();
      const promoted = await currentVersion(page);
      expect(promoted).toBeGreaterThanOrEqual(2);
      const promotedRow = page.getByTestId(`version-${promoted}`);
      await expect(promotedRow).toContainText('promote');
      await expect(promotedRow).toContainText(dbHost);
      // Every version is listed, newest first.
      const ids = await page
        .locator('tr[data-testid^="version-"]')
        .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-testid')));
      expect(ids).toEqual(Array.from({ length: promoted }, (_, i) => `version-${promoted - i}`));

      const previous = promoted - 1;
      const oldValue = (await page.getByTestId(`version-${previous}`).locator('.cfg-value').textContent())?.trim() ?? '';
      expect(oldValue).toContain((productionDbBefore as { host: string }).host);
      await page.getByTestId(`rollback-${previous}`).click();

      // The old value, as a new version.
      const rolledBack = page.getByTestId(`version-${promoted + 1}`);
      await expect(rolledBack).toBeVisible();
      await expect(rolledBack.getByTestId('version-current')).toBeVisible();
      await expect(rolledBack).toContainText('rollback');
      await expect(rolledBack).toContainText(releaser.name);
      await expect(rolledBack.locator('.cfg-value')).toHaveText(oldValue);
      await expect(page.getByTestId(`version-${promoted}`).getByTestId('version-current')).toHaveCount(0);

      const now = await getConfig('production', dbKey);
      expect(now.version).toBe(promoted + 1);
      expect(now.value).toEqual(productionDbBefore);
      await page.goto('/configs?env=production');
      await expect(configRow(page, dbKey).locator('.cfg-value')).not.toContainText(dbHost);
      await expect(configRow(page, dbKey).locator('.cfg-value')).toContainText((productionDbBefore as { host: string }).host);
    } finally {
      await context.close();
    }
  });

  test('the editor changes a secret and sees it masked, with no way to reveal it', async ({ browser }) => {
    const { context, page } = await signedIn(browser, author.name, author.password);
    try {
      await page.goto(`/configs/edit?env=development&key=${encodeURIComponent(secretKey)}`);
      await expect(page.getByTestId('config-key')).toHaveText(secretKey);
      const input = page.getByTestId('config-value-secret');
      await expect(input).toBeEnabled();
      await expect(input).toHaveValue('');
      await input.fill(secretValue);
      await page.getByTestId('config-save').click();
      await expect(page.getByTestId('toast').filter({ hasText: `Saved ${secretKey}` })).toBeVisible();
      // The value never comes back to the browser.
      await expect(page.getByTestId('config-value-secret')).toHaveValue('');

      await page.reload();
      const current = page.getByTestId('config-current');
      await expect(current).toContainText('••••');
      await expect(page.getByTestId(`reveal-${secretKey}`)).toHaveCount(0);
      await expect(page.getByTestId('secret-value')).toHaveCount(0);
      expect(await page.content()).not.toContain(secretValue);

      await page.goto('/configs?env=development');
      await expect(configRow(page, secretKey).locator('.cfg-value')).toHaveText('••••');
      expect(await page.content()).not.toContain(secretValue);

      // The API gives a viewer token the mask, not the value.
      const masked = await getConfig('development', secretKey);
      expect(masked.masked).toBe(true);
      expect(JSON.stringify(masked)).not.toContain(secretValue);
    } finally {
      await context.close();
    }
  });

  test('an admin reveals the secret, and the audit log shows the reveal', async ({ browser }) => {
    const { context, page } = await signedIn(browser, 'admin', adminPassword());
    try {
      await page.goto(`/configs/edit?env=development&key=${encodeURIComponent(secretKey)}`);
      await expect(page.getByTestId('config-current')).toContainText('••••');
      await page.getByTestId(`reveal-${secretKey}`).click();
      const shown = page.getByTestId('secret-value');
      await expect(shown).toBeVisible();
      await expect(shown.locator('code')).toHaveText(secretValue);
      await expect(shown).toHaveAttribute('data-key', secretKey);

      await page.goto('/audit');
      await page.getByTestId('audit-filter').locator('[name="action"]').fill('secret.reveal');
      await page.getByTestId('audit-apply').click();
      await expect(page).toHaveURL(/[?&]action=secret\.reveal/);
      const rows = page.getByTestId('audit-row');
      await expect
        .poll(async () => rows.evaluateAll((rs) => rs.map((r) => r.getAttribute('data-action'))))
        .toEqual(expect.arrayContaining(['secret.reveal']));
      expect(await rows.evaluateAll((rs) => rs.every((r) => r.getAttribute('data-action') === 'secret.reveal'))).toBe(true);
      const reveal = page.locator('[data-testid="audit-row"][data-action="secret.reveal"]').filter({ hasText: secretKey });
      await expect(reveal).toHaveCount(1);
      await expect(reveal).toContainText('admin');
      await expect(reveal).toContainText('development');
      // The audit entry records the reveal, not the secret.
      expect(await page.content()).not.toContain(secretValue);
    } finally {
      await context.close();
    }
  });
});
