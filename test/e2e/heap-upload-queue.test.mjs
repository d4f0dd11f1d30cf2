// Heap profiles in the Pyroscope exporter's queue. A heap profile is a snapshot, so while the
// server does not answer only the newest one waits: heap uploads never push CPU profiles out of the
// bounded queue. Against a loopback /ingest that holds its answers.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodePprof } from '../helpers/pprof-samples.mjs';

const require = createRequire(import.meta.url);
const { PyroscopeExporter } = require('../../dist/export/pyroscope.js');
const { Function: PprofFunction, Line, Location, Profile, Sample, StringTable, ValueType } = require('pprof-format');

function heapCut(n) {
  const strings = new StringTable();
  const profile = new Profile({
    sampleType: [new ValueType({ type: strings.dedup('inuse_objects'), unit: strings.dedup('count') }), new ValueType({ type: strings.dedup('inuse_space'), unit: strings.dedup('bytes') })],
    periodType: new ValueType({ type: strings.dedup('space'), unit: strings.dedup('bytes') }),
    period: 524288,
    function: [new PprofFunction({ id: 1, name: strings.dedup(`retain${n}`), systemName: strings.dedup(`retain${n}`), filename: strings.dedup('/app/a.ts') })],
    location: [new Location({ id: 1, line: [new Line({ functionId: 1, line: 3 })] })],
    sample: [new Sample({ locationId: [1], value: [n, n * 1000] })],
    stringTable: strings,
  });
  const startMs = 1_700_000_000_000 + n * 15_000;
  return { raw: profile, startMs, endMs: startMs + 15_000, intervalBytes: 524288 };
}

const cpu = (n) => ({ kind: 'cpu', data: Buffer.from(`cpu-${n}`), startMs: 1_700_000_000_000 + n * 15_000, endMs: 1_700_000_015_000 + n * 15_000, sampleCount: 1, intervalMicros: 10_000 });

test('while the server holds its answers, a newer heap profile replaces the waiting one; CPU profiles all wait', async () => {
  const held = [];
  const bodies = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      bodies.push(Buffer.concat(chunks));
      held.push(res);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const exporter = new PyroscopeExporter({
    serverAddress: `http://127.0.0.1:${server.address().port}`,
    appName: 'shop',
    tags: {},
    timeoutMs: 10_000,
    queueSize: 3,
    retry: { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 5 },
    traceId: 'off', // no version probe: this server holds every request it gets
  });
  try {
    exporter.enqueue(cpu(1)); // in flight, held
    for (const step of [() => exporter.exportHeap(heapCut(1)), () => exporter.enqueue(cpu(2)), () => exporter.exportHeap(heapCut(2)), () => exporter.enqueue(cpu(3)), () => exporter.exportHeap(heapCut(3))]) {
      step();
      await sleep(30); // heap profiles are encoded in the background
    }
    assert.equal(exporter.counters.dropped, 2, 'the two older heap snapshots');
    while (bodies.length < 4) {
      while (held.length === 0) await sleep(5);
      held.shift().end();
      await sleep(5);
    }
    held.shift()?.end();
    await exporter.flush(Date.now() + 5000);
    const sent = bodies.map((b) => (b.toString().startsWith('cpu-') ? b.toString() : `heap ${decodePprof(b).samples[0].values[0]}`));
    assert.deepEqual(sent, ['cpu-1', 'cpu-2', 'cpu-3', 'heap 3']);
    const heap = decodePprof(bodies[3]);
    assert.deepEqual(heap.sampleTypes, ['inuse_objects/count', 'inuse_space/bytes']);
    assert.equal(heap.periodType, 'space/bytes');
  } finally {
    await exporter.shutdown(Date.now());
    server.closeAllConnections();
    server.close();
  }
});

test("a heap profile over Pyroscope's limits keeps its heaviest samples; the cut is not changed", async () => {
  const { encodeHeapCut } = require('../../dist/profiler/heap-profiler.js');
  const cut = heapCut(1);
  const strings = cut.raw.stringTable;
  for (let i = 2; i <= 100; i++) {
    const name = strings.dedup(`site${i}`);
    cut.raw.function.push(new PprofFunction({ id: i, name, systemName: name, filename: strings.dedup('/app/a.ts') }));
    cut.raw.location.push(new Location({ id: i, line: [new Line({ functionId: i, line: i })] }));
    cut.raw.sample.push(new Sample({ locationId: [i], value: [1, i * 1000] }));
  }
  const bySamples = decodePprof((await encodeHeapCut(cut, { maxSamples: 10, maxBytes: 4 * 1024 * 1024 })).data);
  assert.equal(bySamples.samples.length, 10);
  assert.deepEqual(bySamples.samples.map((s) => s.values[1]).sort((a, b) => b - a), [100, 99, 98, 97, 96, 95, 94, 93, 92, 91].map((i) => i * 1000));
  const full = await encodeHeapCut(cut, { maxSamples: 1000, maxBytes: 4 * 1024 * 1024 });
  assert.equal(full.sampleCount, 100);
  const tight = await encodeHeapCut(cut, { maxSamples: 1000, maxBytes: full.data.length > 0 ? decodePprof(full.data).uncompressedBytes - 1 : 0 });
  assert.ok(tight.sampleCount < 100 && tight.sampleCount >= 1);
  assert.ok(decodePprof(tight.data).uncompressedBytes < decodePprof(full.data).uncompressedBytes);
  assert.equal(cut.raw.sample.length, 100, 'the shared cut keeps every sample');
});
