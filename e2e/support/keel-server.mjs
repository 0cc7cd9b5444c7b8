// Runs Keel for the Playwright suite, as its webServer command:
//
//   bin/keel serve -addr $KEEL_E2E_ADDR -data-dir $KEEL_E2E_DATA_DIR -demo
//
// with Keel's output in $KEEL_E2E_LOG. When Keel stops (the runner sends
// SIGTERM to this process group at the end), it waits for Keel to exit —
// Keel stops its own redis-server first — and then removes the data
// directory. Playwright runs globalTeardown *before* it stops the webServer,
// so the cleanup has to live here, after Keel's exit.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const need = (name) => {
  const v = process.env[name];
  if (!v) {
    console.error(`keel-server: ${name} is not set`);
    process.exit(2);
  }
  return v;
};
const bin = need('KEEL_E2E_BIN');
const addr = need('KEEL_E2E_ADDR');
const dataDir = need('KEEL_E2E_DATA_DIR');
const logPath = need('KEEL_E2E_LOG');

if (!fs.existsSync(bin)) {
  console.error(`keel-server: ${bin} not found; build it with 'make build' (make e2e does).`);
  process.exit(2);
}

fs.rmSync(dataDir, { recursive: true, force: true });
fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
fs.mkdirSync(path.dirname(logPath), { recursive: true });
const log = fs.openSync(logPath, 'a');

// Only the admin password comes from the caller: no REDIS_URL (Keel must use
// its embedded redis-server) and no other KEEL_* setting of the developer's shell.
const env = {};
for (const [k, v] of Object.entries(process.env)) {
  if (k === 'REDIS_URL' || (k.startsWith('KEEL_') && k !== 'KEEL_ADMIN_PASSWORD')) continue;
  env[k] = v;
}

const args = ['serve', '-addr', addr, '-data-dir', dataDir, '-demo'];
fs.writeSync(log, `keel-server: ${bin} ${args.join(' ')}\n`);
// Keel stays in this process group: the runner's SIGTERM to the group
// reaches it directly, and a SIGKILL of the group cannot leave it behind.
const keel = spawn(bin, args, { env, stdio: ['ignore', log, log] });

let stopping = false;
let forwardTimer;
let killTimer;
const stop = (why) => {
  if (stopping) return;
  stopping = true;
  fs.writeSync(log, `keel-server: ${why}; waiting for Keel to stop\n`);
  // A SIGTERM to the process group has reached Keel already; if only this
  // wrapper was signalled, pass it on. Never twice at once: a second SIGTERM
  // may cut Keel's graceful shutdown short.
  forwardTimer = setTimeout(() => keel.kill('SIGTERM'), 5_000);
  killTimer = setTimeout(() => {
    fs.writeSync(log, 'keel-server: Keel did not stop within 25s; killing it\n');
    keel.kill('SIGKILL');
  }, 25_000);
};
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => stop(`got ${sig}`));
// The runner holds our stdin (a pipe or socket pair); if it goes away
// without signalling, stop too.
const stdin = fs.fstatSync(0);
if (stdin.isFIFO() || stdin.isSocket()) {
  process.stdin.on('end', () => stop('stdin closed'));
  process.stdin.on('error', () => stop('stdin error'));
  process.stdin.resume();
}

keel.on('error', (err) => {
  console.error(`keel-server: cannot start ${bin}: ${err.message}`);
  process.exit(2);
});

keel.on('exit', (code, signal) => {
  clearTimeout(forwardTimer);
  clearTimeout(killTimer);
  fs.writeSync(log, `keel-server: Keel exited (code ${code}, signal ${signal})\n`);
  if (!stopping) {
    // Exited by itself: show why, through the runner's [WebServer] output.
    console.error(`keel-server: Keel exited early (code ${code}, signal ${signal}); end of ${logPath}:`);
    console.error(tail(logPath, 30));
  }
  const leftover = redisLeftover(path.join(dataDir, 'redis', 'redis.pid'));
  if (leftover) {
    console.error(`keel-server: Keel exited but its redis-server (pid ${leftover}) still runs`);
  }
  try {
    fs.rmSync(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  } catch (err) {
    console.error(`keel-server: could not remove ${dataDir}: ${err.message}`);
  }
  fs.closeSync(log);
  process.exit(stopping ? 0 : code ?? 1);
});

function tail(file, lines) {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

// redisLeftover returns the pid in redis.pid when that process is still alive.
function redisLeftover(pidFile) {
  let pid;
  try {
    pid = Number.parseInt(fs.readFileSync(pidFile, 'utf8'), 10);
  } catch {
    return 0;
  }
  if (!Number.isInteger(pid) || pid <= 0) return 0;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return 0;
  }
}
