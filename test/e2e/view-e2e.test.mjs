// End to end in a real headless browser (Debian's chromium driven by playwright-core): run a fixture
// app under the agent so it writes a real store, load the view over that store, open the heaviest
// request, and check that its flame graph shows the function that request burned its CPU in, with
// hover details, zoom and search working. Saves a screenshot. A synthetic store with malformed files
// checks that what cannot be read is a visible note.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { fixturePath, spawnApp } from '../helpers/spawn-app.mjs';
import { writeViewStore } from '../helpers/view-store.mjs';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'view-e2e-'));

// The fixture's order route burns ORDER_CPU_MS of CPU in computeOrderTotals, its user route
// USER_CPU_MS in renderUserProfile: by construction every order request outweighs every user request.
const SERVICE = 'express-shop';
const ORDER_CPU_MS = 300;
const USER_CPU_MS = 30;
const HEAVY_ROUTE = 'GET /orders/:orderId';
const BURNING_FUNCTION = 'computeOrderTotals';

const require = createRequire(import.meta.url);
const { startViewServer } = require('../../dist/cli/view/server.js');
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
// The test artifact is written on every run; the README's copy only when asked (UPDATE_README_SCREENSHOT=1),
// so a test run leaves the work tree clean.
const SCREENSHOTS = [
  path.join(repoRoot, 'test-artifacts', 'view-span.png'),
  ...(process.env.UPDATE_README_SCREENSHOT === '1' ? [path.join(repoRoot, 'docs', 'view-span.png')] : []),
];

// No browser: CI must have one (.ci/run installs it), a developer's machine may not.
const missingBrowser = existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is missing (apt-get install -y chromium)`;
if (missingBrowser && process.env.CI === 'true') {
  throw new Error(`view end-to-end tests need a browser under CI: ${missingBrowser}`);
}
const skip = missingBrowser ? `skipped: ${missingBrowser}` : false;

after(() => rmSync(scratch, { recursive: true, force: true }));

/** A fresh browser profile, loopback-only traffic, page errors collected. */
async function openBrowser() {
  const { chromium } = require('playwright-core');
  const context = await chromium.launchPersistentContext(mkdtempSync(path.join(scratch, 'profile-')), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1360, height: 940 },
  });
  const offLoopback = [];
  await context.route('**/*', (route) => {
    const { hostname } = new URL(route.request().url());
    if (hostname === '127.0.0.1' || hostname === 'localhost') return route.continue();
    offLoopback.push(route.request().url());
    return route.abort();
  });
  const errors = [];
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console error: ${message.text()}`);
  });
  return { context, page, errors, offLoopback };
}

/**
 * Runs the express fixture under the agent, sends it concurrent order and user requests, and stops it
 * with SIGTERM so the agent flushes the last profile and spans. Returns the store the agent wrote (the
 * app's own fresh SPAN_PROFILES_DIR, removed when the calling suite ends).
 */
async function storeFromAgentRun() {
  const app = await spawnApp({
    app: fixturePath('express-app/index.js'),
    loader: 'require',
    env: { PYROSCOPE_UPLOAD_INTERVAL: '1s', OTEL_SERVICE_NAME: SERVICE },
  });
  const requests = [];
  for (let i = 1; i <= 3; i++) {
    requests.push(app.request(`/orders/${1000 + i}?ms=${ORDER_CPU_MS}`));
    requests.push(app.request(`/users/${i}?ms=${USER_CPU_MS}`));
  }
  const responses = await Promise.all(requests);
  assert.deepEqual(responses.map((r) => r.status), responses.map(() => 200), app.stderr());
  app.kill('SIGTERM');
  const exit = await app.waitForExit(30_000);
  assert.ok(exit.signal === 'SIGTERM' || exit.code === 143, `the app ends as SIGTERM asks: ${JSON.stringify(exit)}\n${app.stderr()}`);
  assert.doesNotMatch(app.stderr(), /\[span-profiles\] error/);

  const files = readdirSync(path.join(app.storeDir, SERVICE));
  const listing = `${app.storeDir}/${SERVICE}: ${files.join(', ')}`;
  assert.ok(files.some((f) => f.endsWith('.cpu.pb.gz')), `the agent wrote a CPU profile (${listing})`);
  assert.ok(files.some((f) => f.endsWith('.spans.jsonl.zst')), `the agent wrote its spans (${listing})`);
  return app.storeDir;
}

describe('view in a browser over a store the agent wrote', { skip }, () => {
  let server;
  let browser;
  before(async () => {
    const storeDir = await storeFromAgentRun();
    server = await startViewServer({ dir: storeDir, host: '127.0.0.1', port: 0 });
    browser = await openBrowser();
  });
  after(async () => {
    await browser?.context.close();
    await server?.close();
  });

  test('the heaviest request opens on a flame graph showing the function that burned its CPU', async () => {
    const { page, errors, offLoopback } = browser;
    await page.goto(server.url);

    // The list is sorted by CPU: the first row is the heaviest request, an order by construction.
    const rows = page.locator('table.roots tbody tr');
    const firstRow = rows.first();
    await firstRow.waitFor({ timeout: 15_000 });
    assert.equal(await rows.count(), 6, 'one root span per request sent');
    assert.equal((await firstRow.locator('td.name').innerText()).trim(), HEAVY_ROUTE);
    const spanId = await firstRow.getAttribute('data-span-id');
    assert.match(spanId, /^[0-9a-f]{16}$/);
    await firstRow.locator('td.name a').click();
    await page.waitForURL(`**/span/${spanId}`);

    // Its trace and its flame graph. The route calls the function from several places (sync, timer,
    // immediate, after an await, in a child span), so it is in several stacks: use its widest frame.
    await page.locator('[data-testid="waterfall"] .wf-row.current').waitFor({ timeout: 15_000 });
    const frames = page.locator(`[data-testid="flame-graph"] g.frame[name="${BURNING_FUNCTION}"]`);
    await frames.first().waitFor({ state: 'attached', timeout: 15_000 });
    const widths = await frames.evaluateAll((els) => els.map((e) => e.getBoundingClientRect().width));
    const frame = frames.nth(widths.indexOf(Math.max(...widths)));
    await frame.waitFor({ state: 'visible' });
    const frameHandle = await frame.elementHandle();
    const graphBox = await page.locator('[data-testid="flame-graph"] svg').boundingBox();
    const frameBox = await frame.boundingBox();
    assert.ok(frameBox.width > graphBox.width * 0.05, `${BURNING_FUNCTION} is a visible share of the graph (${frameBox.width} of ${graphBox.width} px)`);
    await assertLabelShown(frame, BURNING_FUNCTION);

    // Hover: function, file:line, self and total.
    await frame.hover();
    const tip = page.locator('.flame-tip');
    await tip.waitFor({ state: 'visible' });
    const tipText = await tip.innerText();
    assert.match(tipText, new RegExp(BURNING_FUNCTION));
    assert.match(tipText, /:\d+/, 'file:line');
    assert.match(tipText, /Self[\s\S]*(ms|µs|s)/);
    assert.match(tipText, /Total[\s\S]*(ms|µs|s)/);

    // Search highlights and reports the share found.
    await page.locator('.flame-search').fill(BURNING_FUNCTION);
    await page.waitForFunction((name) => document.querySelector('.flame-details')?.textContent.includes(`Search “${name}”`), BURNING_FUNCTION);
    assert.match(await page.locator('.flame-details').innerText(), /\d+ frames?, .* of .* \(\d/);
    await page.locator('.flame-search').fill('');

    // Click zooms in: the frame then spans the graph's width.
    await frame.click();
    await page.waitForFunction(
      ([el, minWidth]) => el.querySelector('rect')?.getBoundingClientRect().width >= minWidth,
      [frameHandle, graphBox.width * 0.98],
    );
    await page.getByRole('button', { name: 'Reset zoom' }).click();
    await page.waitForFunction(
      ([el, width]) => Math.abs(el.querySelector('rect')?.getBoundingClientRect().width - width) < 2,
      [frameHandle, frameBox.width],
    );

    // The picture for the README: the span page from its top, hovering the function.
    assert.ok((await page.locator('body').innerText()).includes(HEAVY_ROUTE), `the page names the route ${HEAVY_ROUTE}`);
    await page.evaluate(() => window.scrollTo(0, 0));
    await frame.hover();
    await tip.waitFor({ state: 'visible' });
    for (const file of SCREENSHOTS) {
      mkdirSync(path.dirname(file), { recursive: true });
      await page.screenshot({ path: file, fullPage: true });
    }

    assert.deepEqual(errors, []);
    assert.deepEqual(offLoopback, [], 'the page loads nothing from the network');
  });

  test('the service flame graph and the comparison render', async () => {
    const { page, errors } = browser;
    await page.goto(new URL('/service', server.url).href);
    await page.locator(`[data-testid="flame-graph"] g.frame[name="${BURNING_FUNCTION}"]`).first().waitFor({ state: 'attached', timeout: 15_000 });
    await page.locator('[data-testid="flame-graph"] g.frame[name="renderUserProfile"]').first().waitFor({ state: 'attached' });

    await page.goto(server.url);
    const boxes = page.locator('table.roots tbody tr input[type="checkbox"]');
    await boxes.first().waitFor({ timeout: 15_000 });
    await boxes.nth(0).check();
    await boxes.nth(1).check();
    await page.getByRole('button', { name: 'Compare 2 selected' }).click();
    await page.waitForURL(/\/diff\?a=[0-9a-f]{16}&b=[0-9a-f]{16}$/);
    await page.locator('[data-testid="flame-graph"] g.frame').first().waitFor({ timeout: 15_000 });
    assert.match(await page.locator('.diff-summary').innerText(), /B − A/);
    assert.deepEqual(errors, []);
  });
});

describe('view in a browser over a damaged store', { skip }, () => {
  let server;
  let browser;
  before(async () => {
    const damaged = writeViewStore(path.join(scratch, 'damaged'), { malformed: true });
    server = await startViewServer({ dir: damaged.dir, host: '127.0.0.1', port: 0 });
    browser = await openBrowser();
  });
  after(async () => {
    await browser?.context.close();
    await server?.close();
  });

  test('skipped files are a visible note above the data, not a blank page', async () => {
    const { page, errors } = browser;
    await page.goto(server.url);
    const note = page.locator('#notes');
    await note.waitFor({ state: 'visible', timeout: 15_000 });
    assert.match(await note.innerText(), /3 things in the store could not be read/);
    await page.locator('table.roots tbody tr').first().waitFor();
    assert.ok((await page.locator('table.roots tbody tr').count()) > 3, 'the readable data is shown');
    await note.locator('summary').click();
    assert.match(await note.innerText(), /not a gzipped pprof profile/);
    assert.deepEqual(errors, []);
  });

  test('an unknown span shows an error message', async () => {
    const { page } = browser;
    await page.goto(new URL('/span/00000000deadbeef', server.url).href);
    const box = page.locator('.error-box');
    await box.waitFor({ timeout: 15_000 });
    assert.match(await box.innerText(), /no span 00000000deadbeef/);
  });
});

/** The frame's label (drawn after the zoom transition) names the function. */
async function assertLabelShown(frame, name) {
  await frame.locator('.d3-flame-graph-label').waitFor({ state: 'visible' });
  await frame.page().waitForFunction(
    ([el, text]) => el.querySelector('.d3-flame-graph-label')?.textContent === text,
    [await frame.elementHandle(), name],
  );
}
