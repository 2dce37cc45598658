'use strict';

// Browser test of `make demo`: Debian's headless Chromium, driven by
// playwright-core, logs in through the demo against the bundled mock Coze,
// sees the user, refreshes the token, checks that the session cookie is
// HttpOnly and logs out.
//
//   make test-browser          (installs chromium and playwright-core)
//   node --test t/browser/demo.test.js   (when both are already there)
//
// The steps share one browser and run in order; after a failing step the
// rest are skipped.  A failing step leaves a screenshot and the demo's logs
// in build/browser-artifacts/.  The demo (demo/run.sh) is always stopped
// with SIGTERM at the end.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

const ROOT = path.resolve(__dirname, '..', '..');
const BASE = 'http://127.0.0.1:8080';
const MOCK = 'http://127.0.0.1:8090';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const RUN_DIR = path.join(ROOT, 'build', 'browser', 'demo');
const ARTIFACTS = path.join(ROOT, 'build', 'browser-artifacts');
const COOKIE = 'coze_demo';
const APP = JSON.parse(fs.readFileSync(
  path.join(ROOT, 't', 'data', 'coze_oauth_config_web.json'), 'utf8'));
const USER = {
  id: '7380000000000000001',
  user_name: 'alice_test',
  nick_name: 'Alice',
  avatar_url: 'https://p.coze.test/avatar/alice.png',
};
const START_DEADLINE_MS = 30000;
const STOP_DEADLINE_MS = 10000;

let demo = null;          // demo/run.sh
let demoExited = null;    // resolves with its exit code / signal
let demoLog = '';
let profileDir = null;
let context = null;
let page = null;
let failed = false;
const blocked = [];       // requests to anywhere but 127.0.0.1
const pageErrors = [];

// ---------------------------------------------------------------- helpers

function portOpen(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

const tick = (ms) => new Promise((r) => setTimeout(r, ms));

// polls until fn() is truthy; no blind sleeps, a deadline instead
async function until(what, fn, deadlineMs) {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await tick(100);
  }
}

async function getJSON(url) {
  const r = await fetch(url);
  assert.equal(r.status, 200, `GET ${url}`);
  return r.json();
}

function refreshesAtMock() {
  return getJSON(`${MOCK}/__mock/requests?endpoint=token`)
    .then((log) => log.filter((e) => e.grant_type === 'refresh_token'));
}

async function text(sel) {
  return (await page.textContent(sel)).trim();
}

function keepArtifacts(name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  fs.writeFileSync(path.join(ARTIFACTS, 'run.sh.log'), demoLog);
  for (const f of ['error.log', 'access.log', 'mock.log']) {
    try {
      fs.copyFileSync(path.join(RUN_DIR, f), path.join(ARTIFACTS, f));
    } catch { /* not there */ }
  }
  if (!page) return Promise.resolve();
  const file = path.join(ARTIFACTS,
    name.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '') + '.png');
  return page.screenshot({ path: file, fullPage: true })
    .then(() => console.error(`screenshot: ${path.relative(ROOT, file)}`))
    .catch((e) => console.error(`no screenshot: ${e.message}`));
}

// one step of the flow: skipped once an earlier step failed
function step(name, fn) {
  test(name, { timeout: 30000 }, async (t) => {
    if (failed) {
      t.skip('an earlier step failed');
      return;
    }
    try {
      await fn();
    } catch (e) {
      failed = true;
      await keepArtifacts(name);
      throw e;
    }
  });
}

// ------------------------------------------------------- demo lifecycle

function killDemo(signal) {
  if (!demo || demo.exitCode !== null || demo.signalCode !== null) return;
  try {
    process.kill(demo.pid, signal);
  } catch { /* gone */ }
}

async function stopDemo() {
  if (!demo) return;
  killDemo('SIGTERM');
  let timer;
  const stopped = await Promise.race([demoExited, new Promise((r) => {
    timer = setTimeout(r, STOP_DEADLINE_MS);
  })]);
  clearTimeout(timer);
  if (stopped === undefined) {
    // run.sh did not stop its children in time: end the whole group
    console.error('demo/run.sh ignored SIGTERM; killing its group');
    try { process.kill(-demo.pid, 'SIGKILL'); } catch { /* gone */ }
    await demoExited;
  }
  await until('ports 8080 and 8090 to close',
    async () => !(await portOpen(8080)) && !(await portOpen(8090)),
    STOP_DEADLINE_MS);
}

// Ctrl-C or a killed test process still stops the demo
for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]]) {
  process.once(sig, () => {
    killDemo('SIGTERM');
    if (profileDir) {
      try { fs.rmSync(profileDir, { recursive: true, force: true }); } catch {}
    }
    process.exit(code);
  });
}
process.once('exit', () => killDemo('SIGTERM'));

before(async () => {
  fs.rmSync(ARTIFACTS, { recursive: true, force: true });
  for (const port of [8080, 8090]) {
    if (await portOpen(port)) {
      throw new Error(`port ${port} is already in use (a running demo?)`);
    }
  }

  const env = { ...process.env, COZE_DEMO_DIR: RUN_DIR };
  delete env.COZE_OAUTH_CONFIG;              // always the mock
  delete env.COZE_DEMO_MOCK_PORT;
  demo = spawn(path.join(ROOT, 'demo', 'run.sh'), [], {
    cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
  });
  demo.stdout.on('data', (d) => { demoLog += d; });
  demo.stderr.on('data', (d) => { demoLog += d; });
  demoExited = new Promise((resolve) => {
    demo.once('exit', (code, sig) => resolve({ code, sig }));
  });

  try {
    await until('the demo on 127.0.0.1:8080', async () => {
      if (demo.exitCode !== null) {
        throw new Error(`demo/run.sh exited (${demo.exitCode}):\n${demoLog}`);
      }
      return (await portOpen(8080)) && (await portOpen(8090));
    }, START_DEADLINE_MS);
  } catch (e) {
    await keepArtifacts('demo-start');
    throw e;
  }

  profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'coze-chromium-'));
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
      '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync',
    ],
    viewport: { width: 1000, height: 800 },
  });
  context.setDefaultTimeout(10000);
  // the demo and the mock only: nothing leaves the machine (the mock's
  // avatar URLs point to an unresolvable host)
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.hostname === '127.0.0.1') return route.continue();
    blocked.push(u.href);
    return route.abort('blockedbyclient');
  });
  page = context.pages()[0] || await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
});

after(async () => {
  try {
    if (context) await context.close();
  } finally {
    if (profileDir) fs.rmSync(profileDir, { recursive: true, force: true });
    await stopDemo();
  }
});

// ----------------------------------------------------------------- steps

step('home page shows the client type and client id', async () => {
  const r = await page.goto(`${BASE}/`);
  assert.equal(r.status(), 200);
  await page.waitForFunction(
    () => document.getElementById('client-id').textContent !== '…');
  assert.equal(await text('#client-type'), APP.client_type);
  assert.equal(await text('#client-id'), APP.client_id);
  assert.equal(await text('#login'), 'Login with Coze');
});

step('"Login with Coze" goes through Coze and ends on /profile', async () => {
  const navs = [];
  const onRequest = (r) => { if (r.isNavigationRequest()) navs.push(r.url()); };
  page.on('request', onRequest);
  try {
    await page.click('#login');
    await page.waitForURL(`${BASE}/profile`);
  } finally {
    page.off('request', onRequest);
  }
  const authorize = navs.find((u) => u.startsWith(
    `${MOCK}/api/permission/oauth2/authorize?`));
  assert.ok(authorize, `no visit to the mock's authorize in ${navs}`);
  const q = new URL(authorize).searchParams;
  assert.equal(q.get('client_id'), APP.client_id);
  assert.equal(q.get('redirect_uri'), `${BASE}/callback`);
  assert.ok(navs.some((u) => u.startsWith(`${BASE}/callback?code=`)),
    `no callback in ${navs}`);

  await page.waitForFunction(
    () => document.getElementById('user-id').textContent !== '');
  assert.equal(await text('#user-id'), USER.id);
  assert.equal(await text('#user-name'), USER.user_name);
  assert.equal(await text('#nick-name'), USER.nick_name);
  assert.equal(await page.getAttribute('#avatar', 'src'), USER.avatar_url);
});

let accessToken = null;

step('tokens are masked; Show reveals a czu_ token; Copy copies it',
  async () => {
  for (const id of ['access-token', 'refresh-token']) {
    const masked = await text(`#${id}`);
    assert.match(masked, /•{8,}/, `${id} is not masked: ${masked}`);
  }
  await page.click('[data-toggle="access-token"]');
  assert.equal(await text('[data-toggle="access-token"]'), 'Hide');
  accessToken = await text('#access-token');
  assert.match(accessToken, /^czu_[A-Za-z0-9]{20,}$/);

  await context.grantPermissions(['clipboard-read', 'clipboard-write'],
    { origin: BASE });
  await page.click('[data-copy="access-token"]');
  await page.waitForFunction(
    () => document.getElementById('status').textContent !== '');
  assert.equal(await text('#status'), 'Copied');
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()),
    accessToken);

  await page.click('[data-toggle="refresh-token"]');
  const refreshToken = await text('#refresh-token');
  assert.doesNotMatch(refreshToken, /•/);
  assert.ok(refreshToken.length >= 20, refreshToken);
  await page.click('[data-toggle="refresh-token"]');
  assert.match(await text('#refresh-token'), /•{8,}/);
});

step('the expiry is shown as a date', async () => {
  const shown = await text('#expires');
  const m = /^(\d{9,}) \((.+)\)$/.exec(shown);
  assert.ok(m, `expiry not "<epoch> (<date>)": ${shown}`);
  const epoch = Number(m[1]);
  const now = Date.now() / 1000;
  assert.ok(epoch > now && epoch < now + 86400, `expiry ${epoch}`);
  const date = await page.evaluate(
    (e) => new Date(e * 1000).toLocaleString(), epoch);
  assert.equal(m[2], date);
  assert.match(m[2], /\d{4}/);
});

step('"Refresh Token" gets a new access token (one refresh at Coze)',
  async () => {
    assert.equal((await refreshesAtMock()).length, 0);
    await page.click('#refresh');
    await page.waitForFunction(() => !/Refreshing/.test(
      document.getElementById('status').textContent));
    assert.equal(await text('#status'), 'Token refreshed');
    const fresh = await text('#access-token');          // still shown
    assert.match(fresh, /^czu_[A-Za-z0-9]{20,}$/);
    assert.notEqual(fresh, accessToken);

    const refreshes = await refreshesAtMock();
    assert.equal(refreshes.length, 1, 'refresh_token grants at the mock');
    assert.equal(refreshes[0].status, 200);

    // the session cookie now carries the new token
    await page.reload();
    await page.waitForFunction(
      () => document.getElementById('user-id').textContent !== '');
    await page.click('[data-toggle="access-token"]');
    assert.equal(await text('#access-token'), fresh);
    assert.equal((await refreshesAtMock()).length, 1);
    accessToken = fresh;
  });

step('document.cookie cannot read the HttpOnly session cookie', async () => {
  const visible = await page.evaluate(() => document.cookie);
  assert.ok(!visible.split(/;\s*/).some((c) => c.startsWith(`${COOKIE}=`)),
    `document.cookie shows the session: ${visible}`);
  const cookies = await context.cookies(BASE);
  const session = cookies.find((c) => c.name === COOKIE);
  assert.ok(session, `no ${COOKIE} cookie in the browser`);
  assert.equal(session.httpOnly, true);
  assert.equal(session.path, '/');
});

step('Logout ends on the home page with the session cookie gone',
  async () => {
    await page.click('#logout');
    await page.waitForURL(`${BASE}/`);
    await page.waitForFunction(
      () => document.getElementById('client-id').textContent !== '…');
    assert.equal(await text('#client-id'), APP.client_id);
    const cookies = await context.cookies(BASE);
    assert.ok(!cookies.some((c) => c.name === COOKIE),
      `${COOKIE} still set: ${JSON.stringify(cookies)}`);
    const status = await page.evaluate(
      () => fetch('/me', { headers: { Accept: 'application/json' } })
        .then((r) => r.status));
    assert.equal(status, 401);
  });

step('/profile after logout redirects to Coze again', async () => {
  const r = await page.goto(`${BASE}/profile`);
  const chain = [];
  for (let q = r.request(); q; q = q.redirectedFrom()) chain.unshift(q.url());
  assert.equal(chain[0], `${BASE}/profile`);
  assert.ok(chain[1] && chain[1].startsWith(
    `${MOCK}/api/permission/oauth2/authorize?`),
  `/profile did not redirect to Coze: ${chain.join(' -> ')}`);
});

step('no script errors and no request left 127.0.0.1', async () => {
  assert.deepEqual(pageErrors, []);
  assert.ok(blocked.every((u) => u.startsWith('https://p.coze.test/')),
    `unexpected outside requests: ${blocked}`);
});
