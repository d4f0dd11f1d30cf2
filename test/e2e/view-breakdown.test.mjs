// The view's answer to "why was this request slow": the span page's CPU lane (who held the event loop
// while the request was open) and its breakdown with the blocked-by list, the list sorted by blocked
// time, and the trace as a Chrome trace-event file; over a store written by the store's writers with
// timed samples: GET /slow waits on a timer while POST /import runs a 300 ms loop.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildCpuProfile, labelsOf, makeSpans, T0, writeStore } from '../helpers/store-fixtures.mjs';

const require = createRequire(import.meta.url);
const { startViewServer } = require('../../dist/cli/view/server.js');
const { loopFileName } = require('../../dist/store/layout.js');
const { eventLoopDelayToOtlpJson } = require('../../dist/store/event-loop-delay.js');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'view-breakdown-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const CHROMIUM = '/usr/bin/chromium';
const missingBrowser = existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is missing (apt-get install -y chromium)`;
if (missingBrowser && process.env.CI === 'true') throw new Error(`view browser tests need a browser under CI: ${missingBrowser}`);

let server;
let indexedServer;
let ids;
before(async () => {
  const dir = path.join(scratch, 'store');
  const spans = await makeSpans('shop', [
    { name: 'GET /slow', startMs: T0, durationMs: 400, children: [{ name: 'setTimeout wait', startMs: T0 + 5, durationMs: 390 }] },
    { name: 'POST /import', startMs: T0 + 40, durationMs: 320 },
    { name: 'GET /health', startMs: T0 + 500, durationMs: 2 },
  ]);
  const roots = spans.filter((s) => s.attributes['pyroscope.profile.id'] !== undefined);
  const [slow, importing, health] = ['GET /slow', 'POST /import', 'GET /health'].map((n) => roots.find((s) => s.name === n));
  ids = { slow: slow.spanContext().spanId, importing: importing.spanContext().spanId, health: health.spanContext().spanId, trace: slow.spanContext().traceId };
  const samples = [{ stack: [['handleSlow', '/app/slow.js', 3]], cpuMs: 10, labels: labelsOf(slow), timeMs: T0 + 10 }];
  for (let t = T0 + 60; t <= T0 + 350; t += 10) samples.push({ stack: [['parseCsv', '/app/import.js', 9], ['importRows', '/app/import.js', 30]], cpuMs: 10, labels: labelsOf(importing), timeMs: t });
  samples.push({ stack: [['(garbage collector)', '', 0]], cpuMs: 10, timeMs: T0 + 370 });
  samples.push({ stack: [['handleSlow', '/app/slow.js', 5]], cpuMs: 10, labels: labelsOf(slow), timeMs: T0 + 395 });
  const profile = buildCpuProfile(samples, { startMs: T0, endMs: T0 + 1000 });
  await writeStore(dir, { service: 'shop', spans, profiles: [{ data: profile, startMs: T0, endMs: T0 + 1000 }] });
  // The event-loop delay the agent measured in that second: 290 ms, the loop's stall.
  const points = [{ startMs: T0, timeMs: T0 + 1000, maxNanos: 290e6, p99Nanos: 290e6, meanNanos: 20e6 }];
  writeFileSync(path.join(dir, 'shop', loopFileName(T0, T0 + 1000, process.pid)), gzipSync(eventLoopDelayToOtlpJson(points, 'shop', process.pid)));
  server = await startViewServer({ dir, host: '127.0.0.1', port: 0 });
  // The same store answered from its SQLite index, as a large store is.
  indexedServer = await startViewServer({ dir, host: '127.0.0.1', port: 0, indexAboveBytes: 0 });
});
after(async () => {
  await server?.close();
  await indexedServer?.close();
});

for (const mode of ['whole store', 'index']) {
const api = async (pathAndQuery) => {
  const response = await fetch(`${(mode === 'index' ? indexedServer : server).url}api/${pathAndQuery}`);
  return { status: response.status, headers: response.headers, text: await response.text() };
};

describe(`view API (${mode})`, () => {
  test('the span page has the breakdown and the CPU lane of the waiting request', async () => {
    const { status, text } = await api(`span/${ids.slow}`);
    assert.equal(status, 200);
    const detail = JSON.parse(text);
    const b = detail.breakdown;
    assert.equal(b.durationNanos, 400e6);
    assert.equal(b.cpuNanos + b.blockedNanos + b.waitingNanos, b.durationNanos);
    assert.equal(b.blockedBy[0].name, 'POST /import');
    assert.deepEqual(b.blockedBy[0].functions, ['parseCsv']);
    assert.equal(b.blockedBy[0].cpuNanos, 305e6); // its first tick follows a 50 ms gap: it claims 1.5 periods
    assert.equal(b.blockedBy[1].name, '(outside any span)');
    assert.equal(b.cpuNanos, 25e6);

    assert.equal(detail.loopDelayMaxNanos, 290e6);
    const lane = detail.lane;
    assert.equal(lane.startMs, T0);
    assert.equal(lane.endMs, T0 + 400);
    assert.deepEqual(
      lane.segments.map((s) => [s.kind, s.fromMs - T0, s.untilMs - T0, s.spanId ?? null]),
      [
        ['self', 0, 10, null],
        ['other', 45, 350, ids.importing], // the first tick after a gap claims 1.5 periods
        ['outside', 355, 370, null],
        ['self', 380, 395, null],
      ],
    );
  });

  test('the list sorts by blocked time and carries it', async () => {
    const { body } = { body: JSON.parse((await api('roots?sort=blocked')).text) };
    assert.deepEqual(body.roots.map((r) => r.name), ['GET /slow', 'POST /import', 'GET /health']);
    assert.equal(body.roots[0].blockedNanos, 320e6);
    assert.equal(body.roots[1].blockedNanos, 5e6); // the GC stretch [355, 370] overlaps its end
  });

  test('the Chrome trace parses and holds the trace\'s spans as slices and its samples as instant events', async () => {
    const { status, headers, text } = await api(`span/${ids.slow}/chrome-trace`);
    assert.equal(status, 200);
    assert.match(headers.get('content-disposition') ?? '', new RegExp(`trace-${ids.trace}\\.json`));
    const trace = JSON.parse(text);
    assert.ok(Array.isArray(trace.traceEvents));
    const slices = trace.traceEvents.filter((e) => e.ph === 'X');
    assert.deepEqual(slices.map((e) => e.name).sort(), ['GET /slow', 'setTimeout wait']);
    for (const e of slices) {
      assert.equal(typeof e.ts, 'number');
      assert.equal(typeof e.pid, 'number');
      assert.equal(typeof e.tid, 'number');
    }
    const root = slices.find((e) => e.name === 'GET /slow');
    assert.equal(root.ts, 0);
    assert.equal(root.dur, 400_000);
    assert.equal(root.args.spanId, ids.slow);
    const instants = trace.traceEvents.filter((e) => e.ph === 'i');
    assert.deepEqual(instants.map((e) => [e.name, e.ts]), [['handleSlow', 10_000], ['handleSlow', 395_000]]);
    assert.ok(trace.traceEvents.some((e) => e.ph === 'M' && e.name === 'process_name' && e.args.name === 'shop'));
  });

  test('the list by duration and by CPU, and the store summary', async () => {
    const byDuration = JSON.parse((await api('roots?sort=duration')).text);
    assert.deepEqual(byDuration.roots.map((r) => [r.name, r.durationMs, r.cpuNanos]), [
      ['GET /slow', 400, 20e6],
      ['POST /import', 320, 300e6],
      ['GET /health', 2, 0],
    ]);
    assert.equal(byDuration.total, 3);
    const byCpu = JSON.parse((await api('roots?sort=cpu&name=import')).text);
    assert.deepEqual(byCpu.roots.map((r) => r.name), ['POST /import']);
    const summary = JSON.parse((await api('store')).text);
    assert.deepEqual(summary.services, ['shop']);
    assert.deepEqual(summary.rootSpanNames.map((n) => n.name).sort(), ['GET /health', 'GET /slow', 'POST /import']);
    assert.equal((await api('span/0123456789abcdef')).status, 404);
  });
});
}

describe('view in a browser: the CPU lane and the blocked-by panel', { skip: missingBrowser ? `skipped: ${missingBrowser}` : false }, () => {
  test('the lane shows who ran, links to the blocker, and the panel names it with its function', async () => {
    const { chromium } = require('playwright-core');
    const context = await chromium.launchPersistentContext(mkdtempSync(path.join(scratch, 'profile-')), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1360, height: 940 },
    });
    try {
      const errors = [];
      const page = context.pages()[0] ?? (await context.newPage());
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(`${server.url}span/${ids.slow}`);
      const lane = page.getByTestId('cpu-lane');
      await lane.waitFor();
      const kinds = await lane.locator('.lane-seg').evaluateAll((nodes) => nodes.map((n) => n.dataset.kind));
      assert.deepEqual(kinds, ['self', 'other', 'outside', 'self']);
      const other = lane.locator('a.lane-seg.other');
      assert.equal(await other.getAttribute('href'), `/span/${ids.importing}`);
      assert.match(await other.getAttribute('title'), /POST \/import/);
      // The lane's segments sit where their times are on the waterfall's axis.
      const track = await lane.locator('.lane-track').boundingBox();
      const box = await other.boundingBox();
      const traceMs = 400; // the trace: GET /slow and its child
      assert.ok(Math.abs((box.x - track.x) / track.width - 45 / traceMs) < 0.02, 'starts at +45 ms');
      assert.ok(Math.abs(box.width / track.width - 305 / traceMs) < 0.02, 'lasts 305 ms');

      const panel = page.getByTestId('blocked-by');
      const firstRow = panel.locator('tbody tr').first();
      assert.match(await firstRow.innerText(), /POST \/import\s+305 ms\s+1\s+parseCsv/);
      assert.match(await page.getByTestId('breakdown').innerText(), /Blocked 320 ms \(80%\)/);
      assert.equal(await page.getByTestId('loop-delay').innerText(), 'event-loop delay up to 290 ms');

      await other.click();
      await page.waitForURL(`**/span/${ids.importing}`);
      await page.getByTestId('breakdown').waitFor();
      assert.match(await page.getByTestId('breakdown').innerText(), /Own CPU 305 ms/);

      await page.goto(`${server.url}?sort=blocked`);
      await page.locator('table.roots tbody tr').first().waitFor();
      const firstListed = await page.locator('table.roots tbody tr').first().innerText();
      assert.match(firstListed, /GET \/slow/);
      assert.match(firstListed, /320 ms/);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });
});
