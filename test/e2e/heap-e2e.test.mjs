// Heap profiles end to end. The TypeScript fixture (tsc with .js.map files) retains objects in
// retainRecords(); under the agent, the heap profile uploaded to Pyroscope and the one stored locally
// show that function first by in-use space, at its .ts lines, with the sample types Pyroscope names
// `memory:inuse_space:bytes:space:bytes` and `memory:inuse_objects:count:space:bytes`. Decoded with
// `go tool pprof`. SPAN_PROFILES_HEAP=false sends none.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../helpers/cli-run.mjs';
import { goPprofRaw, goPprofSkipReason, goPprofTop } from '../helpers/go-pprof.mjs';
import { startPyroscopeReceiver } from '../helpers/pyroscope-receiver.mjs';
import { killAllApps, spawnApp } from '../helpers/spawn-app.mjs';
import { buildTsFixture, cleanup, markedFunction } from '../helpers/ts-fixture.mjs';
import { waitUntil } from '../helpers/wait-for.mjs';

after(killAllApps);

const skip = goPprofSkipReason();
const require = createRequire(import.meta.url);
const CHROMIUM = '/usr/bin/chromium';
const noBrowser = existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is missing (apt-get install -y chromium)`;
if (noBrowser && process.env.CI === 'true') throw new Error(`the heap view test needs a browser under CI: ${noBrowser}`);

/**
 * The profile type ids Pyroscope's /ingest gives a pprof upload: `__name__` from the sample types by
 * `metricName` (grafana/pyroscope pkg/og/convert/pprof/profile.go: `wall` if any sample type is wall;
 * else the first containing `cpu` is process_cpu; `alloc_`/`inuse_`/`space`/`objects` is memory), then
 * one id per sample type, `<__name__>:<type>:<unit>:<period type>:<period unit>`
 * (pkg/model profile type ids, as Grafana lists them).
 */
function pyroscopeProfileTypes(upload) {
  const types = upload.sampleTypes.map((t) => t.split('/'));
  let name;
  if (types.some(([type]) => type === 'wall')) name = 'wall';
  for (const [type] of types) {
    if (name) break;
    if (type.includes('cpu')) name = 'process_cpu';
    else if (type.includes('alloc_') || type.includes('inuse_') || type === 'space' || type === 'objects') name = 'memory';
  }
  const period = upload.periodType.split('/');
  return types.map(([type, unit]) => `${name}:${type}:${unit}:${period[0]}:${period[1]}`);
}

function heapFilesIn(dir) {
  return existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.heap.pb.gz')).sort() : [];
}

async function runRetaining(build, env = {}) {
  const receiver = await startPyroscopeReceiver();
  const app = await spawnApp({
    app: build.entry,
    env: {
      PYROSCOPE_SERVER_ADDRESS: receiver.url,
      SPAN_PROFILES_STORE: 'always',
      PYROSCOPE_UPLOAD_INTERVAL: '2s',
      OTEL_TRACES_EXPORTER: 'none',
      SPAN_PROFILES_HEAP: undefined, // the agent's default: on
      ...env,
    },
  });
  // About 40 MB retained in retainRecords, far above anything else the app keeps.
  for (let i = 0; i < 8; i++) await app.request('/retain?count=20000');
  return { receiver, app, serviceDir: path.join(app.storeDir, 'fixture-ts-app') };
}

describe('heap profiles', { skip }, () => {
  let build;
  let run;
  let heapUpload;
  let storedFile;
  before(async () => {
    build = await buildTsFixture('tsc-maps');
    run = await runRetaining(build);
    const isHeap = (u) => u.sampleTypes.includes('inuse_space/bytes');
    const retainedAt = Date.now();
    heapUpload = await run.receiver.waitForUploads((all) => all.find((u) => isHeap(u) && Number(u.timeNanos) / 1e6 >= retainedAt), 30_000);
    storedFile = await waitUntil(() => heapFilesIn(run.serviceDir).at(-1), { timeoutMs: 20_000, what: 'a stored heap profile' });
    storedFile = path.join(run.serviceDir, storedFile);
  });
  after(async () => {
    await run?.receiver.close();
    if (build) cleanup(build);
  });

  test('uploads as Pyroscope memory profile types', () => {
    assert.deepEqual(pyroscopeProfileTypes(heapUpload).sort(), ['memory:inuse_objects:count:space:bytes', 'memory:inuse_space:bytes:space:bytes']);
    assert.equal(heapUpload.query.spyName, 'nodespy');
    assert.equal(heapUpload.appName, 'fixture-ts-app');
    assert.equal(heapUpload.query.format, 'pprof');
  });

  test('heap samples carry no span labels', () => {
    for (const sample of heapUpload.samples) {
      assert.equal(sample.labels.span_id, undefined);
      assert.equal(sample.labels.span_name, undefined);
    }
  });

  for (const where of ['uploaded', 'stored']) {
    test(`the ${where} profile has the retaining function first by in-use space, at its .ts lines`, async () => {
      let file = storedFile;
      if (where === 'uploaded') {
        file = path.join(build.dir, 'heap-upload.pb.gz');
        writeFileSync(file, heapUpload.body);
      }
      const top = await goPprofTop(file, { sampleIndex: 'inuse_space' });
      assert.equal(top.rows[0]?.name, 'retainRecords', `top rows: ${top.rows.slice(0, 5).map((r) => `${r.name} ${r.flat}`).join(', ')}`);
      assert.ok(top.rows[0].flat > 0.5 * top.total, `retainRecords holds ${top.rows[0].flat} of ${top.total}`);
      const raw = await goPprofRaw(file);
      const { file: ts, first, last } = markedFunction('retainRecords');
      const frames = [...raw.locations.values()].flat().filter((f) => f.name === 'retainRecords');
      assert.ok(frames.length > 0);
      for (const frame of frames) {
        assert.equal(frame.file, ts);
        assert.ok(frame.line >= first && frame.line <= last, `line ${frame.line} outside ${first}..${last}`);
      }
      assert.deepEqual(raw.sampleTypes, ['inuse_objects/count', 'inuse_space/bytes']);
      assert.equal(raw.periodType, 'space/bytes');
    });
  }

  test('span-profiles report --heap: the retaining function first, at its .ts line', async () => {
    const { file: ts, first, last } = markedFunction('retainRecords');
    const text = await runCli(['report', '--heap', run.app.storeDir]);
    assert.equal(text.code, 0, text.stderr);
    const lines = text.stdout.split('\n');
    const header = lines.findIndex((l) => /IN USE\s+SHARE\s+OBJECTS\s+FUNCTION/.test(l));
    assert.ok(header > 0, text.stdout);
    assert.match(lines[header + 1], /retainRecords\s+\S*hot\.ts:\d+$/, text.stdout);
    assert.match(text.stdout, /Heap samples have no span/);
    const json = await runCli(['report', '--heap', '--json', run.app.storeDir]);
    assert.equal(json.code, 0, json.stderr);
    const report = JSON.parse(json.stdout);
    const [top] = report.sites;
    assert.equal(top.function, 'retainRecords');
    assert.equal(top.file, ts);
    assert.ok(top.line >= first && top.line <= last, `line ${top.line}`);
    assert.ok(top.inuseBytes > 0.5 * report.inuseBytes);
    assert.equal(report.snapshots.length, 1);
  });

  test('span-profiles view: the heap page draws the heap flame graph and lists the retainer', { skip: noBrowser }, async () => {
    const { startViewServer } = require('../../dist/cli/view/server.js');
    const server = await startViewServer({ dir: run.app.storeDir, host: '127.0.0.1', port: 0 });
    const profileDir = mkdtempSync(path.join(os.tmpdir(), 'span-profiles-heap-view-'));
    const { chromium } = require('playwright-core');
    const context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
    try {
      const errors = [];
      const page = context.pages()[0] ?? (await context.newPage());
      page.on('pageerror', (error) => errors.push(error.message));
      const api = await (await fetch(new URL('/api/heap', server.url))).json();
      assert.equal(api.retainers[0].name, 'retainRecords');
      assert.ok(api.flame.value > 0 && api.flame.value === api.inuseBytes);
      await page.goto(new URL('/heap', server.url).href);
      const frame = page.locator('[data-testid="flame-graph"] g.frame[name="retainRecords"]').first();
      await frame.waitFor({ state: 'attached', timeout: 15_000 });
      await page.locator('[data-testid="retainers"] tbody tr').first().waitFor();
      assert.match(await page.locator('[data-testid="retainers"] tbody tr').first().innerText(), /retainRecords[\s\S]*hot\.ts/);
      assert.match(await page.locator('.summary').innerText(), /MiB in use/);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
      await server.close();
      rmSync(profileDir, { recursive: true, force: true });
    }
  });
});

describe('heap profiles off', { skip }, () => {
  let build;
  before(async () => {
    build = await buildTsFixture('tsc-maps');
  });
  after(() => build && cleanup(build));

  test('SPAN_PROFILES_HEAP=false: CPU profiles flow, no heap profile anywhere', async () => {
    const run = await runRetaining(build, { SPAN_PROFILES_HEAP: 'false' });
    try {
      const load = setInterval(() => void run.app.request('/?ms=50').catch(() => undefined), 100);
      try {
        await run.receiver.waitForUploads((all) => all.filter((u) => u.sampleTypes.includes('cpu/nanoseconds')).length >= 2, 30_000);
      } finally {
        clearInterval(load);
      }
      assert.equal(run.receiver.uploads.filter((u) => u.sampleTypes.some((t) => t.startsWith('inuse_'))).length, 0);
      assert.deepEqual(heapFilesIn(run.serviceDir), []);
    } finally {
      await run.receiver.close();
    }
  });
});
