// CPU that no sample saw goes to its own frame instead of inflating the next sample's span.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Profile, ValueType, Function: Fn, Location, Line, Sample, Label, StringTable } = require('pprof-format');
const { addUnsampledCpu, separateUnsampledCpu } = require('../../../dist/profiler/sampler-gaps.js');
const { UNSAMPLED_CPU_FRAME } = require('../../../dist/profile-format.js');

function rawProfile(samples) {
  const strings = new StringTable();
  const s = (x) => strings.dedup(x);
  const fn = new Fn({ id: 1, name: s('work'), systemName: s('work') });
  const loc = new Location({ id: 1, line: [new Line({ functionId: 1, line: 3 })] });
  return new Profile({
    sampleType: [new ValueType({ type: s('sample'), unit: s('count') }), new ValueType({ type: s('wall'), unit: s('nanoseconds') }), new ValueType({ type: s('cpu'), unit: s('nanoseconds') })],
    function: [fn],
    location: [loc],
    sample: samples.map(([count, cpu, span]) => new Sample({ locationId: [1], value: [count, count * 10e6, cpu], label: span ? [new Label({ key: s('span_id'), str: s(span) })] : [] })),
    stringTable: strings,
  });
}

test('a sample carrying more than two intervals of CPU keeps two; the rest is unattributed', () => {
  const raw = rawProfile([
    [1, 9e6, 'aaaaaaaaaaaaaaaa'],
    [1, 140e6, 'bbbbbbbbbbbbbbbb'],
    [3, 50e6, undefined],
    [0, 300e6, undefined],
  ]);
  const total = raw.sample.reduce((sum, s) => sum + Number(s.value[2]), 0);
  const moved = separateUnsampledCpu(raw, 10_000);
  assert.equal(moved, 120e6);
  assert.deepEqual(raw.sample.slice(0, 4).map((s) => Number(s.value[2])), [9e6, 20e6, 50e6, 300e6]);
  const extra = raw.sample[4];
  assert.equal(extra.label.length, 0, 'no span is credited');
  const fnId = raw.location.find((l) => l.id === extra.locationId[0]).line[0].functionId;
  assert.equal(raw.stringTable.strings[raw.function.find((f) => f.id === fnId).name], UNSAMPLED_CPU_FRAME);
  assert.equal(raw.sample.reduce((sum, s) => sum + Number(s.value[2]), 0), total, 'total CPU preserved');
});

test('nothing to move leaves the profile untouched', () => {
  const raw = rawProfile([[1, 12e6, 'aaaaaaaaaaaaaaaa']]);
  assert.equal(separateUnsampledCpu(raw, 10_000), 0);
  assert.equal(raw.sample.length, 1);
  assert.equal(raw.function.length, 1);
});

test('CPU added to the unsampled frame twice in one cut lands in one sample under one frame', () => {
  const raw = rawProfile([[1, 140e6, 'bbbbbbbbbbbbbbbb']]);
  separateUnsampledCpu(raw, 10_000);
  addUnsampledCpu(raw, 5e6); // as the cap of a span at its duration adds its excess
  const frames = raw.location.filter((l) => raw.stringTable.strings[Number(raw.function.find((f) => f.id === l.line[0].functionId).name)] === UNSAMPLED_CPU_FRAME);
  assert.equal(frames.length, 1);
  const unsampled = raw.sample.filter((s) => Number(s.locationId[0]) === Number(frames[0].id));
  assert.equal(unsampled.length, 1);
  assert.equal(Number(unsampled[0].value[2]), 140e6 - 20e6 + 5e6);
});
