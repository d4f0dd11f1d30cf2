// Reading heap profiles back from the local store. A heap profile is a snapshot, so a range
// takes the last snapshot of each process and adds processes up; report --heap says so and fails
// clearly when there is none.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { after, test } from 'node:test';
import { runCli } from '../helpers/cli-run.mjs';

const require = createRequire(import.meta.url);
const { loadStoreHeap, heapSites, heapFlameTree } = require('../../dist/store/read/heap-reader.js');
const { profileFileName } = require('../../dist/store/layout.js');
const { Function: PprofFunction, Line, Location, Profile, Sample, StringTable, ValueType } = require('pprof-format');

const root = mkdtempSync(path.join(os.tmpdir(), 'span-profiles-heap-store-'));
after(() => rmSync(root, { recursive: true, force: true }));

const T0 = Date.UTC(2026, 10, 24, 20, 0, 0);

/** A heap profile as the agent writes it; `sites`: [[leaf, caller, bytes, objects]]. */
function heapProfile(sites) {
  const strings = new StringTable();
  const functions = [];
  const locations = [];
  const idOf = new Map();
  const locationOf = (name) => {
    if (!idOf.has(name)) {
      const id = idOf.size + 1;
      idOf.set(name, id);
      functions.push(new PprofFunction({ id, name: strings.dedup(name), systemName: strings.dedup(name), filename: strings.dedup(`/app/src/${name}.ts`) }));
      locations.push(new Location({ id, line: [new Line({ functionId: id, line: 10 + id })] }));
    }
    return idOf.get(name);
  };
  const sample = sites.map(([leaf, caller, bytes, objects]) => new Sample({ locationId: [locationOf(leaf), locationOf(caller)], value: [objects, bytes] }));
  return new Profile({
    sampleType: [new ValueType({ type: strings.dedup('inuse_objects'), unit: strings.dedup('count') }), new ValueType({ type: strings.dedup('inuse_space'), unit: strings.dedup('bytes') })],
    periodType: new ValueType({ type: strings.dedup('space'), unit: strings.dedup('bytes') }),
    period: 524288,
    sample,
    location: locations,
    function: functions,
    stringTable: strings,
  });
}

function writeHeap(dir, service, pid, fromMs, untilMs, sites) {
  mkdirSync(path.join(dir, service), { recursive: true });
  writeFileSync(path.join(dir, service, profileFileName('heap', fromMs, untilMs, pid)), zlib.gzipSync(heapProfile(sites).encode()));
}

const store = path.join(root, 'store');
writeHeap(store, 'shop', 101, T0, T0 + 15_000, [['loadCatalog', 'main', 4_000_000, 40]]);
writeHeap(store, 'shop', 101, T0 + 15_000, T0 + 30_000, [['cacheOrders', 'handleOrder', 3_000_000, 300], ['loadCatalog', 'main', 1_000_000, 10]]);
writeHeap(store, 'shop', 202, T0, T0 + 15_000, [['cacheOrders', 'handleOrder', 500_000, 50]]);

test('the last snapshot of each process, added up across processes', async () => {
  const heap = await loadStoreHeap(store);
  assert.deepEqual(heap.snapshots.map((s) => [s.pid, s.untilMs]), [[101, T0 + 30_000], [202, T0 + 15_000]]);
  assert.equal(heap.filesInRange, 3);
  assert.equal(heap.bytes, 4_500_000);
  assert.equal(heap.objects, 360);
  assert.equal(heap.intervalBytes, 524288);
  assert.deepEqual(heapSites(heap).map((s) => [s.name, s.bytes, s.objects, s.file]), [
    ['cacheOrders', 3_500_000, 350, '/app/src/cacheOrders.ts'],
    ['loadCatalog', 1_000_000, 10, '/app/src/loadCatalog.ts'],
  ]);
  const flame = heapFlameTree(heap, 'shop');
  assert.equal(flame.value, 4_500_000);
  assert.deepEqual(flame.children.map((c) => [c.name, c.value]), [['handleOrder', 3_500_000], ['main', 1_000_000]]);
  assert.deepEqual(flame.children[0].children.map((c) => [c.name, c.value, c.self]), [['cacheOrders', 3_500_000, 3_500_000]]);
});

test('a range that ends before the newer snapshot takes the older one', async () => {
  const heap = await loadStoreHeap(store, { untilMs: T0 + 10_000 });
  assert.equal(heap.bytes, 4_500_000 - 3_000_000 - 1_000_000 + 4_000_000);
  assert.equal(heapSites(heap)[0].name, 'loadCatalog');
});

test('report --heap: top retainers, and a clear failure without heap profiles', async () => {
  const out = await runCli(['report', '--heap', store]);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /heap in use at 2026-11-24 20:00:30Z, the last snapshot of 2 processes/);
  assert.match(out.stdout, /4\.3 MiB in 360 objects \(sampled every 512 KiB; estimates\)/);
  const rows = out.stdout.split('\n').filter((l) => /^\s+\d/.test(l));
  assert.match(rows[0], /3\.3 MiB\s+78%\s+350\s+cacheOrders\s+\/app\/src\/cacheOrders\.ts:11/);
  for (const line of out.stdout.split('\n')) assert.ok(line.length <= 80, line);

  const empty = path.join(root, 'empty');
  mkdirSync(path.join(empty, 'svc'), { recursive: true });
  const none = await runCli(['report', '--heap', empty]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no heap profiles in .* for the time range asked\.\nThe agent writes one every PYROSCOPE_UPLOAD_INTERVAL/);
  const missing = await runCli(['report', '--heap', path.join(root, 'nowhere')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no store at .*nowhere \(it does not exist\)/);
});

test('a heap file that is not a profile is named, the rest still read', async () => {
  const damaged = path.join(root, 'damaged');
  writeHeap(damaged, 'svc', 1, T0, T0 + 1000, [['a', 'b', 1000, 1]]);
  writeFileSync(path.join(damaged, 'svc', profileFileName('heap', T0, T0 + 1000, 2)), 'not gzip');
  const heap = await loadStoreHeap(damaged);
  assert.equal(heap.bytes, 1000);
  assert.equal(heap.problems.length, 1);
  assert.match(heap.problems[0].reason, /is not a gzipped pprof profile/);
});
