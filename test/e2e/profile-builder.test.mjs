// buildProfiles: raw @datadog/pprof time profile -> merged, pruned, limit-respecting CPU (+ wall) pprof.
// The first test profiles real work under two span contexts; the others feed synthetic raw profiles
// that break each Pyroscope limit. Output is decoded with pprof-format (and `go tool pprof` when present).
import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { goPprofAvailable, goPprofRaw } from '../helpers/go-pprof.mjs';
import { decodePprof, sumValues } from '../helpers/pprof-samples.mjs';

const require = createRequire(import.meta.url);
const { buildProfiles } = require('../../dist/profiler/profile-builder.js');
const { PYROSCOPE_PROFILE_LIMITS } = require('../../dist/profiler/profile-limits.js');
const { time } = require('@datadog/pprof');
const { isAsyncContextFrameActive } = require('@datadog/pprof/out/src/async-context-frame');
const { Profile, StringTable, ValueType, Sample, Label, Location, Line, Function: PprofFunction } = require('pprof-format');

// Fixed amounts of work (not time), so CPU attributed to each must come out ~ 2:1.
function burnAlpha(iterations) {
  let x = 0;
  for (let i = 0; i < iterations; i++) x += Math.sqrt(i + (x % 7));
  return x;
}
function burnBeta(iterations) {
  let x = 0;
  for (let i = 0; i < iterations; i++) x += Math.sqrt(i + (x % 7));
  return x;
}

const ALPHA = { span_id: 'a1a1a1a1a1a1a1a1', trace_id: 'a'.repeat(32), span_name: 'GET /alpha' };
const BETA = { span_id: 'b2b2b2b2b2b2b2b2', trace_id: 'b'.repeat(32), span_name: 'GET /beta' };

/** Everything the builder must preserve, summed over raw samples. */
function rawTotals(raw) {
  const [count, wall, cpu] = [0, 1, 2];
  let ticks = 0;
  let wallNs = 0;
  let cpuNs = 0;
  let cpuTicks = 0;
  for (const s of raw.sample) {
    const c = Number(s.value[count]);
    ticks += c;
    wallNs += Number(s.value[wall]);
    cpuNs += Number(s.value[cpu]);
    if (Number(s.value[cpu]) > 0) cpuTicks += c;
  }
  return { ticks, wallNs, cpuNs, cpuTicks };
}

function decodeAll(encoded) {
  return encoded.map((e) => ({ encoded: e, decoded: decodePprof(e.data) }));
}

/** Every function is used by a location and every location by a sample: nothing left unpruned. */
function assertPruned(profile) {
  const usedLocations = new Set(profile.sample.flatMap((s) => s.locationId.map(Number)));
  const usedFunctions = new Set(profile.location.flatMap((l) => l.line.map((line) => Number(line.functionId))));
  assert.deepEqual(new Set(profile.location.map((l) => Number(l.id))), usedLocations, 'every location is used');
  assert.deepEqual(new Set(profile.function.map((f) => Number(f.id))), usedFunctions, 'every function is used');
}

test('real @datadog/pprof run: CPU per span, merged, totals preserved, right types', async () => {
  const useCPED = isAsyncContextFrameActive();
  const als = new AsyncLocalStorage();
  const underSpan = (labels, fn) => {
    if (useCPED) {
      als.run(labels, () => {
        time.setContext(labels);
        fn();
      });
    } else {
      time.setContext(labels);
      fn();
      time.setContext({});
    }
  };
  // No warm-up calls: a burn function optimized before the run gets inlined into its caller and its
  // frame disappears from the profile.
  const startMs = Date.now();
  time.start({ intervalMicros: 1000, durationMillis: 2000, withContexts: true, collectCpuTime: true, useCPED });
  let raw;
  try {
    for (let round = 0; round < 6; round++) {
      underSpan(ALPHA, () => burnAlpha(2e6));
      underSpan(BETA, () => burnBeta(1e6));
    }
  } finally {
    raw = time.stop(false, ({ context }) => context?.context ?? {});
  }
  const endMs = Date.now();

  const totals = rawTotals(raw);
  const rawLabelled = raw.sample.filter((s) => s.label.length > 0).length;
  assert.ok(rawLabelled > 100, `expected > 100 labelled ticks, got ${rawLabelled}`);

  const out = decodeAll(await buildProfiles(raw, { intervalMicros: 1000, startMs, endMs, wall: true }));
  assert.deepEqual(out.map((o) => o.encoded.kind), ['cpu', 'wall']);
  const [{ encoded: cpuEncoded, decoded: cpu }, { decoded: wall }] = out;

  // Types, period, time range.
  assert.deepEqual(cpu.sampleTypes, ['samples/count', 'cpu/nanoseconds']);
  assert.equal(cpu.periodType, 'cpu/nanoseconds');
  assert.equal(cpu.period, 1_000_000);
  assert.deepEqual(wall.sampleTypes, ['samples/count', 'wall/nanoseconds']);
  assert.equal(wall.periodType, 'wall/nanoseconds');
  assert.equal(cpu.timeNanos, BigInt(startMs) * 1_000_000n);
  assert.equal(cpu.durationNanos, BigInt(endMs - startMs) * 1_000_000n);
  assert.equal(cpuEncoded.sampleCount, cpu.samples.length);
  assert.equal(cpuEncoded.intervalMicros, 1000);

  // Merged: far fewer samples than labelled ticks, nothing lost.
  assert.ok(cpu.samples.length < rawLabelled / 4, `${cpu.samples.length} samples from ${rawLabelled} labelled ticks`);
  assert.equal(sumValues(cpu.samples, 1), totals.cpuNs, 'CPU time preserved');
  assert.equal(sumValues(cpu.samples, 0), totals.cpuTicks, 'ticks that used CPU preserved');
  assert.equal(sumValues(wall.samples, 1), totals.wallNs, 'wall time preserved');
  assert.equal(sumValues(wall.samples, 0), totals.ticks, 'ticks preserved');
  assert.ok(cpu.samples.every((s) => s.values[1] > 0), 'no zero-CPU sample in the CPU profile');
  const keys = cpu.samples.map((s) => `${s.stack.join(';')}|${JSON.stringify(s.labels)}`);
  assert.equal(new Set(keys).size, keys.length, 'no two samples share stack and labels');
  assertPruned(cpu.profile);
  assertPruned(wall.profile);

  // Attribution: burnAlpha's CPU is alpha's, burnBeta's is beta's, about 2:1.
  const cpuOf = (fn, spanName) =>
    cpu.samples.filter((s) => s.stack.includes(fn) && s.labels.span_name === spanName).reduce((t, s) => t + s.values[1], 0);
  const alpha = cpuOf('burnAlpha', ALPHA.span_name);
  const beta = cpuOf('burnBeta', BETA.span_name);
  const alphaAll = cpu.samples.filter((s) => s.stack.includes('burnAlpha')).reduce((t, s) => t + s.values[1], 0);
  assert.ok(alpha >= 0.95 * alphaAll, `burnAlpha CPU labelled alpha: ${alpha} of ${alphaAll}`);
  const ratio = alpha / beta;
  assert.ok(ratio > 1.4 && ratio < 2.8, `alpha:beta CPU should be ~2, got ${ratio.toFixed(2)}`);
  for (const s of cpu.samples) {
    if (Object.keys(s.labels).length === 0) continue;
    assert.deepEqual(Object.keys(s.labels).sort(), ['span_id', 'span_name', 'trace_id']);
    const expected = s.labels.span_name === ALPHA.span_name ? ALPHA : BETA;
    assert.deepEqual(s.labels, expected);
  }

  // Runtime frames survive untouched.
  const rawNames = new Set(raw.function.map((f) => raw.stringTable.strings[Number(f.name)]));
  const cpuFrames = new Set(cpu.samples.flatMap((s) => s.stack));
  for (const name of ['Non JS threads activity', 'Garbage Collection']) {
    if (rawNames.has(name)) assert.ok(cpuFrames.has(name), `${name} kept`);
  }
  const gc = cpu.samples.find((s) => s.stack[0] === 'Garbage Collection');
  if (gc) assert.deepEqual(gc.stack, ['Garbage Collection', 'Node.js']);

  // The independent decoder reads the same profile.
  if (goPprofAvailable()) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'profile-builder-'));
    try {
      const file = path.join(dir, 'cpu.pb.gz');
      writeFileSync(file, cpuEncoded.data);
      const go = await goPprofRaw(file);
      assert.deepEqual(go.sampleTypes, ['samples/count', 'cpu/nanoseconds']);
      assert.equal(go.periodType, 'cpu/nanoseconds');
      assert.equal(sumValues(go.samples, 1), totals.cpuNs);
      assert.ok(go.samples.some((s) => s.labels.span_name === ALPHA.span_name && s.stack.includes('burnAlpha')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

// ---- synthetic raw profiles, shaped like @datadog/pprof's output ----

/**
 * samples: [{ stack: ['leaf', ..., 'root'], labels: {k: string|number}, values: [count, wall, cpu] }].
 * cpu: false leaves out the cpu/nanoseconds type (a profiler run without collectCpuTime).
 */
function rawProfile(samples, { cpu = true } = {}) {
  const strings = new StringTable();
  const functions = new Map();
  const locationOf = (name) => {
    let fn = functions.get(name);
    if (!fn) {
      const id = functions.size + 1;
      fn = {
        fn: new PprofFunction({ id, name: strings.dedup(name), systemName: strings.dedup(name), filename: strings.dedup('/app/x.js') }),
        loc: new Location({ id, line: [new Line({ functionId: id, line: id })] }),
      };
      functions.set(name, fn);
    }
    return fn.loc.id;
  };
  const types = [['sample', 'count'], ['wall', 'nanoseconds'], ...(cpu ? [['cpu', 'nanoseconds']] : [])];
  const sample = samples.map(
    (s) =>
      new Sample({
        locationId: s.stack.map(locationOf),
        value: cpu ? s.values : s.values.slice(0, 2),
        label: Object.entries(s.labels ?? {}).map(([key, value]) =>
          typeof value === 'number'
            ? new Label({ key: strings.dedup(key), num: value })
            : new Label({ key: strings.dedup(key), str: strings.dedup(value) }),
        ),
      }),
  );
  return new Profile({
    sampleType: types.map(([type, unit]) => new ValueType({ type: strings.dedup(type), unit: strings.dedup(unit) })),
    sample,
    location: [...functions.values()].map((f) => f.loc),
    function: [...functions.values()].map((f) => f.fn),
    stringTable: strings,
    periodType: new ValueType({ type: strings.dedup('wall'), unit: strings.dedup('nanoseconds') }),
    period: 10_000_000,
  });
}

const OPTS = { intervalMicros: 10_000, startMs: 1_700_000_000_000, endMs: 1_700_000_015_000, wall: true };
const span = (i) => ({
  span_id: i.toString(16).padStart(16, '0'),
  trace_id: i.toString(16).padStart(32, '0'),
  span_name: `GET /r${i % 3}`,
});

test('merges identical (stack, labels) whatever the label order; zero-CPU only in wall; Non-JS only in CPU', async () => {
  const labels = { span_id: '00000000000000aa', trace_id: 'f'.repeat(32), span_name: 'GET /x' };
  const reordered = { span_name: 'GET /x', trace_id: 'f'.repeat(32), span_id: '00000000000000aa' };
  const raw = rawProfile([
    { stack: ['work', 'main'], labels, values: [1, 10_000_000, 9_000_000] },
    { stack: ['work', 'main'], labels: reordered, values: [1, 10_000_000, 8_000_000] },
    { stack: ['work', 'main'], labels, values: [1, 10_000_000, 0] }, // idle-ish tick: wall only
    { stack: ['work', 'main'], labels: { ...labels, span_id: '00000000000000bb' }, values: [1, 10_000_000, 7_000_000] },
    { stack: ['work', 'main'], labels: { ...labels, n: 5 }, values: [1, 10_000_000, 1] },
    { stack: ['work', 'main'], labels: { ...labels, n: 6 }, values: [1, 10_000_000, 1] },
    { stack: ['work', 'main'], values: [3, 30_000_000, 20_000_000] },
    { stack: ['Non JS threads activity', 'Node.js'], values: [0, 0, 5_000_000] },
    { stack: ['unused', 'main'], values: [0, 0, 0] },
  ]);
  const [cpu, wall] = decodeAll(await buildProfiles(raw, OPTS)).map((o) => o.decoded);

  const find = (p, spanId, n) =>
    p.samples.filter((s) => s.labels.span_id === spanId && s.numLabels.n === n && s.stack[0] === 'work');
  assert.deepEqual(find(cpu, '00000000000000aa', undefined).map((s) => s.values), [[2, 17_000_000]]);
  assert.deepEqual(find(wall, '00000000000000aa', undefined).map((s) => s.values), [[3, 30_000_000]]);
  assert.deepEqual(find(cpu, '00000000000000bb', undefined).map((s) => s.values), [[1, 7_000_000]]);
  assert.equal(find(cpu, '00000000000000aa', 5).length, 1, 'numeric labels keep sets apart');
  assert.equal(find(cpu, '00000000000000aa', 6).length, 1);
  assert.deepEqual(cpu.samples.find((s) => s.stack[0] === 'Non JS threads activity')?.values, [0, 5_000_000]);
  assert.equal(wall.samples.find((s) => s.stack[0] === 'Non JS threads activity'), undefined);
  assert.equal(cpu.samples.length, 6);
  assert.equal(wall.samples.length, 5);
  assert.ok(!cpu.profile.stringTable.strings.includes('unused'), 'unused function pruned');
  assert.equal(sumValues(cpu.samples, 1), 9_000_000 + 8_000_000 + 7_000_000 + 2 + 20_000_000 + 5_000_000);
});

test('sample times: dropped so samples merge by default, kept apart with keepSampleTimes', async () => {
  const labels = { span_id: '00000000000000aa', trace_id: 'f'.repeat(32), span_name: 'GET /x' };
  const raw = rawProfile([
    { stack: ['work', 'main'], labels: { ...labels, end_timestamp_ns: 1_700_000_001_000_000_000 }, values: [1, 10_000_000, 9_000_000] },
    { stack: ['work', 'main'], labels: { ...labels, end_timestamp_ns: 1_700_000_002_000_000_000 }, values: [1, 10_000_000, 8_000_000] },
    { stack: ['work', 'main'], labels: { end_timestamp_ns: 1_700_000_003_000_000_000 }, values: [1, 10_000_000, 7_000_000] },
  ]);
  const [merged] = decodeAll(await buildProfiles(raw, { ...OPTS, wall: false })).map((o) => o.decoded);
  assert.deepEqual(
    merged.samples.map((s) => [s.labels.span_id, s.numLabels.end_timestamp_ns, s.values]),
    [['00000000000000aa', undefined, [2, 17_000_000]], [undefined, undefined, [1, 7_000_000]]],
  );
  assert.ok(!merged.profile.stringTable.strings.includes('end_timestamp_ns'), 'the dropped key is not in the string table');

  const [kept] = decodeAll(await buildProfiles(raw, { ...OPTS, wall: false, keepSampleTimes: true })).map((o) => o.decoded);
  assert.deepEqual(
    kept.samples.map((s) => [s.labels.span_id, s.numLabels.end_timestamp_ns, s.values]),
    [
      ['00000000000000aa', 1_700_000_001_000_000_000, [1, 9_000_000]],
      ['00000000000000aa', 1_700_000_002_000_000_000, [1, 8_000_000]],
      [undefined, 1_700_000_003_000_000_000, [1, 7_000_000]],
    ],
  );
});

test('without cpu/nanoseconds in the raw profile only the wall profile is built, and only if asked', async () => {
  const raw = rawProfile([{ stack: ['f'], values: [1, 10_000_000] }], { cpu: false });
  assert.deepEqual((await buildProfiles(raw, OPTS)).map((p) => p.kind), ['wall']);
  assert.deepEqual(await buildProfiles(raw, { ...OPTS, wall: false }), []);
});

test('an empty raw profile gives one valid, empty CPU profile', async () => {
  const out = decodeAll(await buildProfiles(rawProfile([]), { ...OPTS, wall: false }));
  assert.equal(out.length, 1);
  assert.deepEqual(out[0].decoded.sampleTypes, ['samples/count', 'cpu/nanoseconds']);
  assert.equal(out[0].decoded.samples.length, 0);
});

test(`more than ${PYROSCOPE_PROFILE_LIMITS.maxSamples} distinct samples are split across profiles, totals preserved`, async () => {
  const n = 40_001;
  const samples = [];
  for (let i = 0; i < n; i++) {
    samples.push({ stack: [`leaf${i % 7}`, 'main'], labels: span(i), values: [1, 10_000_000, 1000 + i] });
  }
  const out = decodeAll(await buildProfiles(rawProfile(samples), OPTS));
  const cpu = out.filter((o) => o.encoded.kind === 'cpu').map((o) => o.decoded);
  const wall = out.filter((o) => o.encoded.kind === 'wall').map((o) => o.decoded);
  assert.equal(cpu.length, 3, 'fewest parts that fit');
  assert.equal(wall.length, 3);
  for (const p of [...cpu, ...wall]) {
    assert.ok(p.samples.length <= PYROSCOPE_PROFILE_LIMITS.maxSamples, `${p.samples.length} samples`);
    assert.equal(p.timeNanos, BigInt(OPTS.startMs) * 1_000_000n, 'every part covers the same interval');
    assertPruned(p.profile);
  }
  const all = cpu.flatMap((p) => p.samples);
  assert.equal(all.length, n);
  assert.equal(sumValues(all, 1), samples.reduce((t, s) => t + s.values[2], 0));
  assert.equal(sumValues(all, 0), n);
  assert.equal(new Set(all.map((s) => s.labels.span_id)).size, n, 'every span kept');
  assert.equal(sumValues(wall.flatMap((p) => p.samples), 1), n * 10_000_000);
});

test(`a profile over ${PYROSCOPE_PROFILE_LIMITS.maxBytes} bytes uncompressed is split, totals preserved`, async () => {
  const n = 2500;
  const samples = [];
  for (let i = 0; i < n; i++) {
    // 2 KB of distinct label text per sample: ~5 MB of strings in all.
    samples.push({
      stack: ['handler', 'main'],
      labels: { ...span(i), span_name: `GET /${String(i).padStart(6, '0')}/${'x'.repeat(2000)}` },
      values: [1, 10_000_000, 2_000_000],
    });
  }
  const out = decodeAll(await buildProfiles(rawProfile(samples), { ...OPTS, wall: false }));
  assert.ok(out.length >= 2, `expected a split, got ${out.length} profile(s)`);
  for (const { decoded } of out) {
    assert.ok(decoded.uncompressedBytes <= PYROSCOPE_PROFILE_LIMITS.maxBytes, `${decoded.uncompressedBytes} bytes`);
  }
  const all = out.flatMap((o) => o.decoded.samples);
  assert.equal(all.length, n);
  assert.equal(sumValues(all, 1), n * 2_000_000);
  assert.equal(new Set(all.map((s) => s.labels.span_name)).size, n);
  assert.equal(out.reduce((t, o) => t + o.encoded.sampleCount, 0), n);
});

test(`a sample with more than ${PYROSCOPE_PROFILE_LIMITS.maxLabelsPerSample} labels keeps the span labels and 100 in all`, async () => {
  const many = {};
  for (let i = 0; i < 150; i++) many[`extra_${String(i).padStart(3, '0')}`] = `v${i}`;
  const labels = { ...many, ...span(7) }; // span labels last, so keeping "the first 100" would lose them
  const raw = rawProfile([
    { stack: ['f', 'main'], labels, values: [1, 10_000_000, 3_000_000] },
    { stack: ['f', 'main'], labels, values: [1, 10_000_000, 4_000_000] },
  ]);
  const [cpu] = decodeAll(await buildProfiles(raw, { ...OPTS, wall: false })).map((o) => o.decoded);
  assert.equal(cpu.samples.length, 1);
  const [sample] = cpu.samples;
  assert.equal(sample.values[1], 7_000_000);
  assert.equal(cpu.profile.sample[0].label.length, PYROSCOPE_PROFILE_LIMITS.maxLabelsPerSample);
  assert.deepEqual(
    { span_id: sample.labels.span_id, trace_id: sample.labels.trace_id, span_name: sample.labels.span_name },
    span(7),
  );
});
