// End to end against the rule-applying Pyroscope receiver (test/helpers/pyroscope-receiver.mjs): an app that
// names its spans per request (raw URLs, very long multi-byte names) under load, on every server version the
// agent may meet (1.x, 2.0.0, 2.2.x, and one that does not tell its version), on Node 22, 24 and 26.
// Asserted: no upload refused, series per upload and in total bounded, trace_id present exactly when the
// server keeps it out of series, span names cut at UTF-8 boundaries, the same CPU in Pyroscope as in the
// local store (nothing lost), and the store keeping trace_id and the real names.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { readPprofFile } from '../helpers/pprof-samples.mjs';
import { PYROSCOPE_VERSIONS, startPyroscopeReceiver } from '../helpers/pyroscope-receiver.mjs';
import { runConcurrently } from '../helpers/span-linkage.mjs';
import { fixturePath, killAllApps, nodeBinary, spawnApp } from '../helpers/spawn-app.mjs';

after(killAllApps);

const MAX_SPAN_NAMES = 20;
const REQUESTS = 400;
const LONG_REQUESTS = 30;
const CPU_FILE = /\.cpu\.pb\.gz$/;

/** Runs the app against a receiver until SIGTERM has flushed everything; returns what both sides saw. */
async function runApp({ receiverOptions, node = 24 }) {
  const pyroscope = await startPyroscopeReceiver(receiverOptions);
  after(() => pyroscope.close());
  const app = await spawnApp({
    app: fixturePath('span-names-app/index.js'),
    nodeBinary: await nodeBinary(node),
    env: {
      PYROSCOPE_SERVER_ADDRESS: pyroscope.url,
      PYROSCOPE_UPLOAD_INTERVAL: '1s',
      SPAN_PROFILES_MAX_SPAN_NAMES: String(MAX_SPAN_NAMES),
      SPAN_PROFILES_STORE: 'always',
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_LOG_LEVEL: 'info',
    },
  });
  // The long multi-byte names first (so some are among the names admitted), then a name per request;
  // 8 concurrent clients: hundreds of requests a second here.
  const paths = [
    ...Array.from({ length: LONG_REQUESTS }, (_, i) => `/long/${i}?bytes=${1000 + i * 200}&ms=5`),
    ...Array.from({ length: REQUESTS }, (_, i) => `/items/${i}?ms=2`),
  ];
  await runConcurrently(app, paths, 8);
  app.kill('SIGTERM');
  const exit = await app.waitForExit(30_000);
  const serviceDir = path.join(app.storeDir, 'fixture-span-names-app');
  const stored = existsSync(serviceDir)
    ? readdirSync(serviceDir).filter((n) => CPU_FILE.test(n)).map((n) => readPprofFile(path.join(serviceDir, n)))
    : [];
  return { pyroscope, app, exit, stored };
}

const cpuOf = (profiles) => profiles.reduce((n, p) => n + p.samples.reduce((m, s) => m + s.values[1], 0), 0);
const BYTES_LIMIT = 200;

function checkRun(run, { traceId }) {
  const { pyroscope, app, exit, stored } = run;
  assert.ok(exit.signal === 'SIGTERM' || exit.code === 143, `exit ${JSON.stringify(exit)}: ${app.stderr()}`);
  assert.deepEqual(pyroscope.rejections.map((r) => `${r.status} ${r.reason}`), [], 'no upload refused');
  assert.ok(pyroscope.uploads.length >= 2, `${pyroscope.uploads.length} uploads`);
  const samples = pyroscope.uploads.flatMap((u) => u.samples);
  const linked = samples.filter((s) => s.labels.span_id);
  assert.ok(linked.length > 50, `${linked.length} linked samples`);

  // trace_id exactly when the server keeps it out of series.
  assert.equal(linked.filter((s) => 'trace_id' in s.labels).length, traceId ? linked.length : 0);
  assert.equal(pyroscope.buildInfoRequests.length, 1, 'the version is asked once');

  // Series: per upload and over the whole run, bounded by the span name limit (+1 overflow, +1 unlabelled).
  for (const upload of pyroscope.uploads) assert.ok(upload.series.length <= MAX_SPAN_NAMES + 2, `${upload.series.length} series in one upload`);
  assert.ok(pyroscope.series.size <= MAX_SPAN_NAMES + 2, `${pyroscope.series.size} series in total`);
  const names = new Set(linked.map((s) => s.labels.span_name).filter(Boolean));
  assert.ok(names.size <= MAX_SPAN_NAMES + 1, `${names.size} span names`);
  assert.ok(names.has('(other span names)'), 'names beyond the limit go under the overflow name');

  // Names cut at a UTF-8 boundary: valid, short, marked.
  for (const name of names) {
    assert.ok(Buffer.byteLength(name) <= BYTES_LIMIT, `${Buffer.byteLength(name)} bytes`);
    assert.ok(!name.includes('\uFFFD'), `broken UTF-8 in ${JSON.stringify(name)}`);
  }
  assert.ok([...names].some((n) => n.startsWith('GET /long/ünïcødé') && n.endsWith('…')), 'a long multi-byte name, cut');

  // One warning, naming the cause and the fix.
  const warnings = app.stderr().match(/warn: .*distinct span names.*/g) ?? [];
  assert.equal(warnings.length, 1, app.stderr());
  assert.match(warnings[0], /raw URLs or ids/);

  // Nothing lost: Pyroscope got the CPU time the local store got, cut by cut. The store writes no file for
  // an idle cut (Pyroscope still gets it), so compare the cuts the store has.
  assert.ok(stored.length >= 2, 'the store has the cuts too');
  const storedCuts = new Set(stored.map((p) => Math.floor(Number(p.timeNanos / 1_000_000n) / 1000)));
  const uploadsOfStoredCuts = pyroscope.uploads.filter((u) => storedCuts.has(Number(u.query.from)));
  assert.equal(cpuOf(uploadsOfStoredCuts), cpuOf(stored));
  const storedLinked = stored.flatMap((p) => p.samples).filter((s) => s.labels.span_id);
  assert.ok(storedLinked.every((s) => /^[0-9a-f]{32}$/.test(s.labels.trace_id)), 'the store always keeps trace_id');
  assert.ok(new Set(storedLinked.map((s) => s.labels.span_name)).size > MAX_SPAN_NAMES, 'the store keeps the real names');
}

describe('an app naming spans per request, against each Pyroscope version', { concurrency: 2 }, () => {
  const cases = [
    ['1.x', { version: PYROSCOPE_VERSIONS.v1 }, false],
    ['2.0.0', { version: PYROSCOPE_VERSIONS.v200 }, false],
    ['2.2.x', { version: PYROSCOPE_VERSIONS.v22 }, true],
    ['2.2.x that does not answer buildinfo', { version: PYROSCOPE_VERSIONS.v22, buildInfo: false }, false],
  ];
  for (const [what, receiverOptions, traceId] of cases) {
    test(`${what}: trace_id ${traceId ? 'sent' : 'left out'}, series bounded, nothing refused or lost`, async () => {
      checkRun(await runApp({ receiverOptions }), { traceId });
    });
  }
});

describe('Node 22 and 26', { concurrency: 2 }, () => {
  for (const node of [22, 26]) {
    test(`Node ${node}, a 1.x server and a 2.2.x one`, async () => {
      checkRun(await runApp({ node, receiverOptions: { version: PYROSCOPE_VERSIONS.v1 } }), { traceId: false });
      checkRun(await runApp({ node, receiverOptions: { version: PYROSCOPE_VERSIONS.v22 } }), { traceId: true });
    });
  }
});
