// The store keeps what "why was it slow" needs: each CPU sample's time (never merged away, unlike a
// Pyroscope upload) and the event-loop delay over time, written beside each cut's profiles.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { decodePprof } from '../../helpers/pprof-samples.mjs';

const require = createRequire(import.meta.url);
const { Profile, StringTable, ValueType, Sample, Label, Location, Line, Function: PprofFunction } = require('pprof-format');
const { ProfileStoreExporter } = require('../../../dist/store/write/profile-store-exporter.js');
const { buildProfilesOfCut } = require('../../../dist/profiler/profile-builder.js');
const { readStore, readEventLoopDelay } = require('../../../dist/store/read/reader.js');
const { loadCpuSamples } = require('../../../dist/store/read/span-cpu.js');

const scratch = mkdtempSync(path.join(tmpdir(), 'span-profiles-times-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const T = 1_780_000_000_000;
const LABELS = { span_id: '00f067aa0ba902b7', trace_id: '4bf92f3577b34da6a3ce929d0e0e4736', span_name: 'GET /x' };

/** A raw cut as @datadog/pprof hands it over: one sample per tick, values [count, wall, cpu], labels + time. */
function rawCut(ticks) {
  const strings = new StringTable();
  const fn = new PprofFunction({ id: 1, name: strings.dedup('work'), systemName: strings.dedup('work'), filename: strings.dedup('/app/w.js') });
  const loc = new Location({ id: 1, line: [new Line({ functionId: 1, line: 3 })] });
  const sample = ticks.map(
    (t) =>
      new Sample({
        locationId: [1],
        value: [1, 10_000_000, 9_000_000],
        label: [
          ...Object.entries(LABELS).map(([k, v]) => new Label({ key: strings.dedup(k), str: strings.dedup(v) })),
          new Label({ key: strings.dedup('end_timestamp_ns'), num: BigInt(Math.round(t * 1000)) * 1000n }),
        ],
      }),
  );
  const raw = new Profile({
    sampleType: [['sample', 'count'], ['wall', 'nanoseconds'], ['cpu', 'nanoseconds']].map(([type, unit]) => new ValueType({ type: strings.dedup(type), unit: strings.dedup(unit) })),
    sample,
    location: [loc],
    function: [fn],
    stringTable: strings,
    periodType: new ValueType({ type: strings.dedup('wall'), unit: strings.dedup('nanoseconds') }),
    period: 10_000_000,
  });
  return { raw, startMs: T, endMs: T + 15_000, intervalMicros: 10_000, wall: false };
}

test('the store keeps every sample with its time; a merged (Pyroscope) build of the same cut does not', async () => {
  const dir = path.join(scratch, 'times');
  const exporter = new ProfileStoreExporter({ dir, serviceName: 'shop', maxBytes: 1 << 30, eventLoopDelay: false });
  const cut = rawCut([T + 10.25, T + 20.5, T + 30.75]);
  exporter.export(cut);
  await exporter.shutdown(Date.now() + 10_000);

  const files = readdirSync(path.join(dir, 'shop'));
  assert.deepEqual(files.map((f) => f.replace(/_\d+\./, '_PID.')), ['20260528T202640.000Z_20260528T202655.000Z_PID.cpu.pb.gz']);
  const stored = decodePprof(readFileSync(path.join(dir, 'shop', files[0])));
  assert.deepEqual(
    stored.samples.map((s) => [s.numLabels.end_timestamp_ns, s.values]),
    [T + 10.25, T + 20.5, T + 30.75].map((t) => [t * 1e6, [1, 9_000_000]]),
  );
  // The reader turns the label into a time with microsecond precision.
  const { profiles } = await readStore(dir);
  const { samples } = await loadCpuSamples(profiles);
  assert.deepEqual(samples.map((s) => s.timeMs), [T + 10.25, T + 20.5, T + 30.75]);
  assert.ok(samples.every((s) => s.pid === process.pid));

  // What Pyroscope gets from the same (unchanged) cut: one merged sample, no time.
  const [merged] = await buildProfilesOfCut(cut);
  const decoded = decodePprof(merged.data);
  assert.equal(decoded.samples.length, 1);
  assert.deepEqual(decoded.samples[0].values, [3, 27_000_000]);
  assert.equal(decoded.samples[0].numLabels.end_timestamp_ns, undefined);
});

test('the event-loop delay of each cut is written as gzipped OTLP/JSON metrics and read back', async () => {
  const dir = path.join(scratch, 'loop');
  const exporter = new ProfileStoreExporter({ dir, serviceName: 'shop', maxBytes: 1 << 30 });
  await new Promise((resolve) => setTimeout(resolve, 50));
  const blockedAt = Date.now();
  while (Date.now() - blockedAt < 200); // a 200 ms stall
  await new Promise((resolve) => setTimeout(resolve, 30));
  const now = Date.now();
  exporter.export({ ...rawCut([now - 5]), startMs: now - 1000, endMs: now });
  await exporter.shutdown(Date.now() + 10_000);

  const names = readdirSync(path.join(dir, 'shop')).sort();
  const loopName = names.find((n) => n.endsWith('.loop.json.gz'));
  assert.ok(loopName, `a loop file among ${names}`);
  // Independent reading: gunzip + JSON.parse, OTLP metrics shape.
  const request = JSON.parse(gunzipSync(readFileSync(path.join(dir, 'shop', loopName))).toString('utf8'));
  const metrics = request.resourceMetrics[0].scopeMetrics[0].metrics;
  assert.deepEqual(metrics.map((m) => [m.name, m.unit]), [
    ['nodejs.eventloop.delay.max', 's'],
    ['nodejs.eventloop.delay.p99', 's'],
    ['nodejs.eventloop.delay.mean', 's'],
  ]);
  const max = Math.max(...metrics[0].gauge.dataPoints.map((p) => p.asDouble));
  assert.ok(max >= 0.15 && max < 1, `max delay ${max} s reflects the 200 ms stall`);

  const contents = await readStore(dir);
  assert.equal(contents.loopFiles.length, 1);
  assert.equal(contents.profiles.length, 1, 'the loop file is not taken for a profile');
  const { points, problems } = await readEventLoopDelay(contents.loopFiles);
  assert.deepEqual(problems, []);
  assert.ok(points.some((p) => p.maxNanos >= 150e6), JSON.stringify(points));
  assert.equal(points[0].pid, process.pid);
});

/** A cut with nothing of the app in it: only idle ticks (the store writes no file for it). */
function idleCut(startMs, endMs) {
  const strings = new StringTable();
  const fn = new PprofFunction({ id: 1, name: strings.dedup('(idle)'), systemName: strings.dedup('(idle)'), filename: strings.dedup('') });
  const loc = new Location({ id: 1, line: [new Line({ functionId: 1, line: 0 })] });
  const raw = new Profile({
    sampleType: [['sample', 'count'], ['wall', 'nanoseconds'], ['cpu', 'nanoseconds']].map(([type, unit]) => new ValueType({ type: strings.dedup(type), unit: strings.dedup(unit) })),
    sample: [new Sample({ locationId: [1], value: [90, 900_000_000, 0], label: [] })],
    location: [loc],
    function: [fn],
    stringTable: strings,
    periodType: new ValueType({ type: strings.dedup('wall'), unit: strings.dedup('nanoseconds') }),
    period: 10_000_000,
  });
  return { raw, startMs, endMs, intervalMicros: 10_000, wall: false };
}

test('a stall after an idle cut, drained when that cut was exported late, is written with the next cut', async () => {
  // A cut's export waits for the names of spans running at the cut, so the delay it drains can reach into the
  // next interval; an idle cut writes nothing, and must not take such a stall down with it.
  const dir = path.join(scratch, 'idle-then-stall');
  const exporter = new ProfileStoreExporter({ dir, serviceName: 'shop', maxBytes: 1 << 30 });
  await new Promise((resolve) => setTimeout(resolve, 50));
  const idleEnd = Date.now();
  await new Promise((resolve) => setTimeout(resolve, 20));
  const blockedAt = Date.now();
  while (Date.now() - blockedAt < 200); // a 200 ms stall after the idle cut's end
  await new Promise((resolve) => setTimeout(resolve, 30));
  exporter.export(idleCut(idleEnd - 1000, idleEnd));
  await exporter.flush(Date.now() + 10_000);
  let written = [];
  try {
    written = readdirSync(path.join(dir, 'shop'));
  } catch {
    // No directory: nothing written.
  }
  assert.deepEqual(written, [], 'the idle cut wrote nothing');
  const now = Date.now();
  exporter.export({ ...rawCut([now - 5]), startMs: idleEnd, endMs: now });
  await exporter.shutdown(Date.now() + 10_000);

  const contents = await readStore(dir);
  const { points } = await readEventLoopDelay(contents.loopFiles);
  const stall = points.filter((p) => p.timeMs >= blockedAt && p.startMs <= blockedAt + 180);
  assert.ok(stall.some((p) => p.maxNanos >= 150e6), `the stall's points: ${JSON.stringify(points)}`);
});

test('profile kinds the reader does not know (heap) are listed but never read as CPU', async () => {
  const dir = path.join(scratch, 'kinds');
  const exporter = new ProfileStoreExporter({ dir, serviceName: 'shop', maxBytes: 1 << 30, eventLoopDelay: false });
  exporter.export(rawCut([T + 1]));
  await exporter.shutdown(Date.now() + 10_000);
  const cpuName = readdirSync(path.join(dir, 'shop'))[0];
  const { writeFileSync, copyFileSync } = await import('node:fs');
  copyFileSync(path.join(dir, 'shop', cpuName), path.join(dir, 'shop', cpuName.replace('.cpu.', '.heap.')));
  writeFileSync(path.join(dir, 'shop', 'notes.txt'), 'x');
  const contents = await readStore(dir);
  assert.deepEqual(contents.profiles.map((p) => p.kind).sort(), ['cpu', 'heap']);
  const cpu = await loadCpuSamples(contents.profiles);
  assert.equal(cpu.profilesRead, 1);
  assert.equal(cpu.samples.length, 1);
});
