// The raw cut we build from the sampler's tree, a slice at a time, holds what @datadog/pprof's own serializer
// makes of the same tree: same stacks, values, labels, period. The tree comes from the real sampler.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { loadNativeProfiler, stopSampler } = require('../dist/profiler/native-profiler.js');
const { RawCutBuilder } = require('../dist/profiler/raw-cut-builder.js');
const serializer = require('@datadog/pprof/out/src/profile-serializer');

const load = loadNativeProfiler();
const INTERVAL_MICROS = 1000;
const TIME_LABEL = 'sample_time';

/** Burns CPU in a few distinct functions and call paths for about `ms`. */
function busy(ms) {
  const end = performance.now() + ms;
  let x = 0;
  const leafA = (n) => { for (let i = 0; i < n; i++) x += Math.sqrt(i); };
  const leafB = (n) => { for (let i = 0; i < n; i++) x += Math.sin(i); };
  const mid = (n) => (n % 2 ? leafA(n * 100) : leafB(n * 100));
  while (performance.now() < end) {
    mid(7);
    mid(8);
    [1, 2, 3].map((k) => leafA(k * 50));
  }
  return x;
}

/** Profiles work under three contexts (two spans and none) and returns the stopped tree. */
async function sampleTree(pprof) {
  const spanA = { span_id: 'aaaaaaaaaaaaaaaa', trace_id: 't1' };
  const spanB = { span_id: 'bbbbbbbbbbbbbbbb', trace_id: 't2', span_name: 'GET /b' };
  pprof.time.start({ intervalMicros: INTERVAL_MICROS, durationMillis: 10_000, withContexts: true, collectCpuTime: true, useCPED: false, workaroundV8Bug: false });
  try {
    for (let round = 0; round < 4; round++) {
      pprof.time.setContext({ labels: spanA });
      busy(40);
      pprof.time.setContext({ labels: spanB });
      busy(30);
      pprof.time.setContext({});
      busy(20);
      // Idle ticks: no wall time, and the ones without a context are dropped.
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
    global.gc?.();
    const stopped = stopSampler(pprof.time, false, undefined, []);
    assert.ok('tree' in stopped, 'pprof hands over its tree');
    return stopped.tree;
  } finally {
    if (pprof.time.isStarted()) pprof.time.stop(false);
  }
}

/** Sample labels as our agent gives them: the context's labels (shared), the time added per sample. */
const labelsOf = (context) => context.context?.labels ?? {};
const generateLabels = ({ context }) => {
  if (context === undefined) return {};
  const time = context.timestamp === undefined ? undefined : Number(context.timestamp) * 1000;
  const labels = labelsOf(context);
  return time === undefined ? labels : { ...labels, [TIME_LABEL]: time };
};

/** Each sample as text (frames, labels, values), sorted: comparable across string tables and ids. */
function canonical(profile) {
  const strings = profile.stringTable.strings;
  const functions = new Map(profile.function.map((f) => [Number(f.id), f]));
  const locations = new Map(profile.location.map((l) => [Number(l.id), l]));
  const frame = (id) => {
    const line = locations.get(Number(id)).line[0];
    const fn = functions.get(Number(line.functionId));
    return `${strings[Number(fn.name)]}@${strings[Number(fn.filename)]}:${line.line}:${line.column ?? 0}`;
  };
  const label = (l) => `${strings[Number(l.key)]}=${l.str ? strings[Number(l.str)] : String(l.num)}`;
  return profile.sample
    .map((s) => `${Array.from(s.locationId, frame).join(';')} | ${s.label.map(label).join(',')} | ${s.value.map(Number).join(',')}`)
    .sort();
}

function header(profile) {
  const strings = profile.stringTable.strings;
  return {
    sampleType: profile.sampleType.map((t) => `${strings[Number(t.type)]}/${strings[Number(t.unit)]}`),
    periodType: `${strings[Number(profile.periodType.type)]}/${strings[Number(profile.periodType.unit)]}`,
    period: Number(profile.period),
    durationNanos: Number(profile.durationNanos),
  };
}

test('the raw cut built from the tree equals pprof serializing it (compiled locations, columns dropped)', { skip: !load.ok && load.reason }, async () => {
  const tree = await sampleTree(load.pprof);
  const theirs = serializer.serializeTimeProfile(tree, INTERVAL_MICROS, undefined, true, generateLabels, [], 'drop');
  // A tiny slice budget: the walk yields many times, and the result must not depend on it.
  const builder = new RawCutBuilder({ intervalMicros: INTERVAL_MICROS, labelsOf, timeLabel: TIME_LABEL, keepColumns: false, sliceMs: 0.05 });
  await builder.add(tree);
  const ours = builder.finish();
  assert.ok(theirs.sample.length > 50, `enough samples to compare (${theirs.sample.length})`);
  assert.deepEqual(header(ours), header(theirs));
  assert.deepEqual(canonical(ours), canonical(theirs));
  const labelled = ours.sample.filter((s) => s.label.length > 1).length;
  assert.ok(labelled > 20, `samples with span labels (${labelled})`);
  assert.ok(idleWall(ours) > 0, 'the profile has idle ticks');
});

test('with columns kept for the symbolizer, the same frames as pprof with its column-keeping source mapper', { skip: !load.ok && load.reason }, async () => {
  const tree = await sampleTree(load.pprof);
  const columnKeeper = { mappingInfo: (location) => ({ ...location, missingMapFile: true }) };
  const theirs = serializer.serializeTimeProfile(tree, INTERVAL_MICROS, columnKeeper, true, generateLabels, [], 'emit');
  const builder = new RawCutBuilder({ intervalMicros: INTERVAL_MICROS, labelsOf, timeLabel: TIME_LABEL, keepColumns: true });
  await builder.add(tree);
  const ours = builder.finish();
  assert.deepEqual(header(ours), header(theirs));
  assert.deepEqual(canonical(ours), canonical(theirs));
  assert.ok(ours.location.some((l) => Number(l.line[0].column) > 0), 'columns kept');
});

test('two stopped pieces make one cut: every sample of both, one period over both', { skip: !load.ok && load.reason }, async () => {
  const first = await sampleTree(load.pprof);
  const second = await sampleTree(load.pprof);
  const builder = new RawCutBuilder({ intervalMicros: INTERVAL_MICROS, labelsOf, timeLabel: TIME_LABEL, keepColumns: false });
  await builder.add(first);
  await builder.add(second);
  const ours = builder.finish();
  assert.equal(builder.pieceCount, 2);
  const a = serializer.serializeTimeProfile(first, INTERVAL_MICROS, undefined, true, generateLabels, [], 'drop');
  const b = serializer.serializeTimeProfile(second, INTERVAL_MICROS, undefined, true, generateLabels, [], 'drop');
  // Ticks and CPU add up; wall time is each piece's ticks at the one period of the cut.
  const sum = (p, i) => p.sample.reduce((n, s) => n + Number(s.value[i]), 0);
  assert.equal(sum(ours, 0), sum(a, 0) + sum(b, 0));
  assert.equal(sum(ours, 2), sum(a, 2) + sum(b, 2));
  assert.equal(sum(ours, 1), sum(ours, 0) * Number(ours.period) - idleWall(ours));
  assert.equal(Number(ours.durationNanos), Number(a.durationNanos) + Number(b.durationNanos));
  const times = (p) => p.sample.flatMap((s) => s.label.filter((l) => p.stringTable.strings[Number(l.key)] === TIME_LABEL).map((l) => Number(l.num))).sort((x, y) => x - y);
  assert.deepEqual(times(ours), [...times(a), ...times(b)].sort((x, y) => x - y), 'every sample keeps its time');
});

/** Idle ticks have no wall time: what count x period over-counts. */
function idleWall(profile) {
  const strings = profile.stringTable.strings;
  const idleFn = profile.function.filter((f) => strings[Number(f.name)] === '(idle)').map((f) => Number(f.id));
  const idleLoc = new Set(profile.location.filter((l) => idleFn.includes(Number(l.line[0].functionId))).map((l) => Number(l.id)));
  return profile.sample.filter((s) => idleLoc.has(Number(s.locationId[0]))).reduce((n, s) => n + Number(s.value[0]) * Number(profile.period), 0);
}
