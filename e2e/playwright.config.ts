// Playwright suite for Keel: runs against a fresh bin/keel (built by
// `make e2e`) with its own data directory and embedded redis-server, and
// drives the system Chromium (/usr/bin/chromium). Browsers are never
// downloaded.
//
// The runner evaluates this file in the main process and again in every
// worker; the port, data directory and password are chosen once, in the main
// process, and handed to the workers through the environment they inherit.
import { defineConfig } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';

const repoRoot = path.resolve(__dirname, '..');

if (!process.env.KEEL_E2E_PORT) {
  // A free loopback port, chosen synchronously (the config cannot await).
  process.env.KEEL_E2E_PORT = execFileSync(process.execPath, [
    '-e',
    "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{process.stdout.write(String(s.address().port));s.close()})",
  ])
    .toString()
    .trim();
}
const port = process.env.KEEL_E2E_PORT;
process.env.KEEL_E2E_BASE_URL ??= `http://127.0.0.1:${port}`;
// Created by the server wrapper when Keel starts, removed after Keel stopped.
process.env.KEEL_E2E_DATA_DIR ??= path.join(os.tmpdir(), `keel-e2e-${port}-${process.pid}`);
// A fixed password, so a failed run can be reproduced by hand.
process.env.KEEL_E2E_ADMIN_PASSWORD ??= 'e2e-Admin-passw0rd';

const baseURL = process.env.KEEL_E2E_BASE_URL;
const outputDir = path.join(__dirname, 'test-results');

export default defineConfig({
  testDir: __dirname,
  testMatch: '**/*.spec.ts',
  outputDir,
  // The scenarios share one server and build on each other: one worker, in order.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  forbidOnly: !!process.env.CI,
  timeout: 30_000,
  globalTimeout: 10 * 60_000,
  expect: { timeout: 10_000 },
  reporter: [['list'], ['html', { open: 'never', outputFolder: path.join(__dirname, 'playwright-report') }]],
  use: {
    baseURL,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    actionTimeout: 10_000,
    navigationTimeout: 15_000,
  },
  projects: [
    {
      name: 'chromium',
      use: {
        browserName: 'chromium',
        viewport: { width: 1280, height: 800 },
        launchOptions: {
          executablePath: '/usr/bin/chromium',
          args: [
            '--no-sandbox',
            '--disable-gpu',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            '--no-first-run',
          ],
        },
      },
    },
  ],
  webServer: {
    // The wrapper runs `bin/keel serve -addr 127.0.0.1:<port> -data-dir <dir> -demo`,
    // writes Keel's log to e2e/test-results/keel-server.log, and removes the
    // data directory once Keel (and with it its redis-server) has stopped.
    command: `exec "${process.execPath}" e2e/support/keel-server.mjs`,
    cwd: repoRoot,
    url: `${baseURL}/readyz`,
    reuseExistingServer: false,
    timeout: 120_000,
    // SIGTERM lets Keel stop its redis-server; without this the runner
    // would SIGKILL the server's process group.
    gracefulShutdown: { signal: 'SIGTERM', timeout: 30_000 },
    stdout: 'ignore',
    stderr: 'pipe',
    env: {
      KEEL_E2E_BIN: path.join(repoRoot, 'bin', 'keel'),
      KEEL_E2E_ADDR: `127.0.0.1:${port}`,
      KEEL_E2E_DATA_DIR: process.env.KEEL_E2E_DATA_DIR,
      KEEL_E2E_LOG: path.join(outputDir, 'keel-server.log'),
      KEEL_ADMIN_PASSWORD: process.env.KEEL_E2E_ADMIN_PASSWORD,
    },
  },
});
