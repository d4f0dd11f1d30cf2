// A span is only charged for CPU it can have used: nothing sampled after it ended, at most its duration.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Profile, ValueType, Function: Fn, Location, Line, Sample, Label, StringTable } = require('pprof-format');
const bounds = require('../../../dist/linking/span-time-bounds.js');
const { SpanLabels } = require('../../../dist/linking/span-labels.js');
const { AFTER_SPAN_ENDED_FRAME, UNSAMPLED_CPU_FRAME } = require('../../../dist/profile-format.js');
const { buildProfiles } = require('../../../dist/profiler/profile-builder.js');
const { decodePprof } = await import('../../helpers/pprof-samples.mjs');

const CPU = 2;

/** samples: [count, cpu, labels {span_id?, mark?}] all on the stack work < main (leaf first). */
function rawProfile(samples) {
  const strings = new StringTable();
  const s = (x) => strings.dedup(x);
  const stack = [1, 2];
  return new Profile({
    sampleType: [new ValueType({ type: s('sample'), unit: s('count') }), new ValueType({ type: s('wall'), unit: s('nanoseconds') }), new ValueType({ type: s('cpu'), unit: s('nanoseconds') })],
    function: [new Fn({ id: 1, name: s('work'), systemName: s('work') }), new Fn({ id: 2, name: s('main'), systemName: s('main') })],
    location: [new Location({ id: 1, line: [new Line({ functionId: 1, line: 3 })] }), new Location({ id: 2, line: [new Line({ functionId: 2, line: 1 })] })],
    sample: samples.map(([count, cpu, labels = {}]) => {
      const label = [];
      if (labels.span_id) label.push(new Label({ key: s('span_id'), str: s(labels.span_id) }), new Label({ key: s('trace_id'), str: s('0'.repeat(32)) }));
      if (labels.mark) label.push(new Label({ key: s(bounds.AFTER_SPAN_ENDED_MARK), num: 1 }));
      return new Sample({ locationId: stack, value: [count, count * 10e6, cpu], label });
    }),
    stringTable: strings,
  });
}

const totalCpu = (raw) => raw.sample.reduce((sum, s) => sum + Number(s.value[CPU]), 0);

test('a sample is after its span ended only when the whole interval it stands for is', () => {
  const labels = new SpanLabels('a'.repeat(16), 'b'.repeat(32), { name: 'GET' }, 1_000e6);
  const interval = 10e6;
  assert.equal(bounds.isAfterSpanEnd(labels, 5_000e6, interval), false, 'running span');
  labels.ended('GET /x', 2_000e6);
  assert.equal(bounds.isAfterSpanEnd(labels, 1_999e6, interval), false);
  assert.equal(bounds.isAfterSpanEnd(labels, 2_009e6, interval), false, 'its interval began before the end');
  assert.equal(bounds.isAfterSpanEnd(labels, 2_011e6, interval), true);
  assert.equal(bounds.isAfterSpanEnd(labels, undefined, interval), false, 'no sample time: not known to be after');
  const endedEarlier = new SpanLabels('a'.repeat(16), 'b'.repeat(32), { name: 'x' });
  endedEarlier.ended('x', -Infinity);
  assert.equal(bounds.isAfterSpanEnd(endedEarlier, undefined, interval), true, 'a span that ended before every sample');
});

test('samples after their span ended lose the span and sit under one root frame; CPU is kept', () => {
  const raw = rawProfile([
    [1, 10e6, { span_id: 'aaaaaaaaaaaaaaaa' }],
    [1, 7e6, { mark: true }],
    [2, 9e6, { mark: true }],
  ]);
  const total = totalCpu(raw);
  assert.equal(bounds.separateSamplesAfterSpanEnd(raw), 2);
  assert.equal(totalCpu(raw), total);
  const strings = raw.stringTable.strings;
  const frameName = (locationId) => {
    const location = raw.location.find((l) => Number(l.id) === Number(locationId));
    return strings[raw.function.find((f) => Number(f.id) === Number(location.line[0].functionId)).name];
  };
  for (const sample of raw.sample.slice(1)) {
    assert.deepEqual(sample.label, [], 'no labels left: not the span, not the marker');
    assert.deepEqual(Array.from(sample.locationId, frameName), ['work', 'main', AFTER_SPAN_ENDED_FRAME]);
  }
  assert.deepEqual(Array.from(raw.sample[0].locationId, frameName), ['work', 'main'], 'the shared stack array is not changed');
});

test('the bucket reaches Pyroscope as a frame, not a label: no new series', async () => {
  const raw = rawProfile([[1, 7e6, { mark: true }], [1, 5e6, { span_id: 'aaaaaaaaaaaaaaaa' }]]);
  bounds.separateSamplesAfterSpanEnd(raw);
  const [cpu] = await buildProfiles(raw, { intervalMicros: 10_000, startMs: 0, endMs: 1000, wall: false });
  const decoded = decodePprof(cpu.data);
  const after = decoded.samples.find((s) => s.stack.includes(AFTER_SPAN_ENDED_FRAME));
  assert.deepEqual(after.labels, {});
  assert.deepEqual(after.numLabels, {});
  assert.ok(!decoded.profile.stringTable.strings.includes(bounds.AFTER_SPAN_ENDED_MARK));
});

test('a span is charged at most its duration within the cut; the rest goes to the unsampled frame', () => {
  const short = new SpanLabels('a'.repeat(16), 'b'.repeat(32), { name: 'GET' }, 1_000_000e6 + 100e6);
  short.ended('GET /short', 1_000_000e6 + 102e6); // 2 ms
  const long = new SpanLabels('c'.repeat(16), 'b'.repeat(32), { name: 'GET' }, 1_000_000e6);
  long.ended('GET /long', 1_000_000e6 + 500e6);
  const spans = new bounds.SpansOfCut();
  spans.add(short);
  spans.add(long);
  const raw = rawProfile([
    [1, 15e6, { span_id: short.spanId }],
    [1, 5e6, { span_id: short.spanId }],
    [1, 20e6, { span_id: long.spanId }],
  ]);
  const total = totalCpu(raw);
  const moved = bounds.capSpanCpu(raw, spans, 1_000_000, 1_001_000);
  assert.equal(moved, 18e6);
  assert.deepEqual(raw.sample.slice(0, 3).map((s) => Number(s.value[CPU])), [1.5e6, 0.5e6, 20e6]);
  assert.equal(raw.sample.length, 4);
  assert.deepEqual(raw.sample[3].label, []);
  assert.equal(totalCpu(raw), total, 'total CPU preserved');
  const fn = raw.function.at(-1);
  assert.equal(raw.stringTable.strings[fn.name], UNSAMPLED_CPU_FRAME);
});

test('a span still running counts as running to the end of the cut; one across the cut start only from it', () => {
  const running = new SpanLabels('a'.repeat(16), 'b'.repeat(32), { name: 'GET' }, 0);
  const spans = new bounds.SpansOfCut();
  spans.add(running);
  const raw = rawProfile([[1, 30e6, { span_id: running.spanId }]]);
  // Cut of 20 ms: the span ran 20 ms of it.
  assert.equal(bounds.capSpanCpu(raw, spans, 5_000, 5_020), 10e6);
  assert.equal(Number(raw.sample[0].value[CPU]), 20e6);
});
