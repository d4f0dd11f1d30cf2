// The OTLP profiles encoder, read back by a decoder we did not write: protobufjs over the
// opentelemetry-proto files kept in test/fixtures (profiles/v1development). A real @datadog/pprof run
// under two span contexts, then synthetic raw profiles for the edges.
import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import {
  decodeOtlpProfilesJson,
  decodeOtlpProfilesProtobuf,
  flattenOtlpProfiles,
  otlpProfilesProblems,
} from './helpers/otlp-profiles.mjs';

const require = createRequire(import.meta.url);
const { buildOtlpProfiles, encodeOtlpProfilesJson, encodeOtlpProfilesProtobuf, encodeOtlpProfilesProtobufSliced } = require('../dist/export/otlp-profiles-encoder.js');
const { SAMPLE_TIME_LABEL } = require('../dist/export/profile-exporter.js');
const { time } = require('@datadog/pprof');
const { isAsyncContextFrameActive } = require('@datadog/pprof/out/src/async-context-frame');
const { Profile, StringTable, ValueType, Sample, Label, Location, Line, Function: PprofFunction } = require('pprof-format');

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

const ALPHA = { span_id: 'a1a1a1a1a1a1a1a1', trace_id: '0a'.repeat(16), span_name: 'GET /alpha' };
const BETA = { span_id: 'b2b2b2b2b2b2b2b2', trace_id: '0b'.repeat(16), span_name: 'GET /beta' };

const CONTEXT = {
  resourceAttributes: {
    'service.name': 'encoder-test',
    'service.instance.id': 'instance-1',
    'process.pid': 4242,
    'host.arch': 'amd64',
    ratio: 0.25,
    flag: false,
    zero: 0,
    tags: ['a', 'b'],
    // Long enough that every enclosing length needs three varint bytes.
    long: 'x'.repeat(20_000),
  },
  scopeName: '@acme/span-profiles',
  scopeVersion: '0.1.0',
};

/** A real time profile of burnAlpha under ALPHA and burnBeta under BETA, labelled like the agent's. */
function profileRealWork() {
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
  const startMs = Date.now();
  time.start({ intervalMicros: 1000, durationMillis: 2000, withContexts: true, collectCpuTime: true, useCPED });
  let raw;
  try {
    for (let round = 0; round < 5; round++) {
      underSpan(ALPHA, () => burnAlpha(2e6));
      underSpan(BETA, () => burnBeta(1e6));
    }
  } finally {
    // As the agent's profiler does: span labels plus the sample's time in Unix nanoseconds.
    raw = time.stop(false, ({ context }) => {
      const timeLabel = context?.timestamp === undefined ? {} : { [SAMPLE_TIME_LABEL]: Number(context.timestamp) * 1000 };
      return { ...(context?.context ?? {}), ...timeLabel };
    });
  }
  return { raw, startMs, endMs: Date.now() };
}

function rawTotals(raw) {
  let cpuTicks = 0;
  let wallNs = 0;
  let unsampledCpuTicks = 0;
  for (const s of raw.sample) {
    const [count, wall, cpu] = s.value.map(Number);
    wallNs += wall;
    if (cpu > 0 && count > 0) cpuTicks += count;
    if (cpu > 0 && count === 0) unsampledCpuTicks += Math.round(cpu / 1e6);
  }
  return { cpuTicks, wallNs, unsampledCpuTicks };
}

let real;
async function realRun() {
  if (!real) {
    const { raw, startMs, endMs } = profileRealWork();
    const before = Buffer.from(raw.encode());
    const request = await buildOtlpProfiles({ raw, startMs, endMs, intervalMicros: 1000, wall: true }, CONTEXT);
    const protobuf = encodeOtlpProfilesProtobuf(request);
    const json = encodeOtlpProfilesJson(request);
    real = { raw, startMs, endMs, before, request, protobuf, json, decoded: decodeOtlpProfilesProtobuf(protobuf) };
  }
  return real;
}

test('protobufjs decodes the request and finds every proto rule kept', async () => {
  const { decoded } = await realRun();
  assert.deepEqual(otlpProfilesProblems(decoded), []);
  const dict = decoded.dictionary;
  assert.equal(dict.stringTable[0], '');
  assert.equal(new Set(dict.stringTable).size, dict.stringTable.length, 'strings deduplicated');
  assert.ok(dict.linkTable.length >= 3, 'the zero link and one per span');
  for (const link of dict.linkTable) {
    assert.equal(link.traceId.length, 16);
    assert.equal(link.spanId.length, 8);
  }
  assert.deepEqual(dict.linkTable[0].traceId, Buffer.alloc(16), 'link 0 is 16 zero bytes');
  assert.deepEqual(dict.linkTable[0].spanId, Buffer.alloc(8));
});

test('the sliced protobuf encoding (what the exporter sends) is byte for byte the one-piece encoding', async () => {
  const { request, protobuf } = await realRun();
  // A budget of 0 ms: it yields at every pause.
  const sliced = await encodeOtlpProfilesProtobufSliced(request, 0);
  assert.ok(protobuf.length > 1000);
  assert.ok(Buffer.from(sliced).equals(Buffer.from(protobuf)));
});

test('one profile per sample type: CPU as samples/count with a cpu period, wall as wall/nanoseconds', async () => {
  const { decoded, raw, startMs, endMs } = await realRun();
  const profiles = flattenOtlpProfiles(decoded);
  assert.deepEqual(
    profiles.map((p) => [p.sampleType, p.periodType, p.period]),
    [
      ['samples/count', 'cpu/nanoseconds', 1_000_000],
      ['wall/nanoseconds', 'wall/nanoseconds', 1_000_000],
    ],
  );
  const [cpu, wall] = profiles;
  for (const p of profiles) {
    assert.equal(p.timeNanos, BigInt(startMs) * 1_000_000n);
    assert.equal(p.durationNanos, BigInt(endMs - startMs) * 1_000_000n);
    assert.equal(p.profileId.length, 16);
  }
  assert.notDeepEqual(cpu.profileId, wall.profileId);
  const totals = rawTotals(raw);
  const sum = (samples) => samples.reduce((t, s) => t + s.values[0], 0);
  assert.equal(sum(cpu.samples), totals.cpuTicks + totals.unsampledCpuTicks, 'every CPU tick counted once');
  assert.equal(sum(wall.samples), totals.wallNs, 'wall time preserved');
  const keys = cpu.samples.map((s) => `${s.stack.join(';')}|${JSON.stringify(s.labels)}`);
  assert.equal(new Set(keys).size, keys.length, 'samples of the same stack, link and attributes are merged');
});

test('CPU samples carry one timestamp per tick, inside the profile, and no values', async () => {
  const { decoded, raw } = await realRun();
  const [cpu] = flattenOtlpProfiles(decoded);
  const rawCpu = decoded.resourceProfiles[0].scopeProfiles[0].profiles[0];
  const timed = rawCpu.samples.filter((s) => s.timestampsUnixNano.length > 0);
  assert.ok(timed.length > 0);
  assert.ok(timed.every((s) => s.values.length === 0), 'timestamps-only shape');
  const tickTimes = raw.sample
    .filter((s) => Number(s.value[2]) > 0 && Number(s.value[0]) > 0)
    .map((s) => s.label.find((l) => raw.stringTable.strings[Number(l.key)] === SAMPLE_TIME_LABEL))
    .filter(Boolean).length;
  assert.equal(cpu.samples.reduce((t, s) => t + s.timestamps.length, 0), tickTimes);
  const start = cpu.timeNanos - 50_000_000n;
  const end = cpu.timeNanos + cpu.durationNanos + 50_000_000n;
  for (const s of cpu.samples) for (const t of s.timestamps) assert.ok(t >= start && t <= end, `timestamp ${t} outside the profile`);
});

test("every sample is linked to its span's trace and span id; span_name is a sample attribute", async () => {
  const { decoded } = await realRun();
  const [cpu] = flattenOtlpProfiles(decoded);
  const cpuIn = (fn, spanId) => cpu.samples.filter((s) => s.stack.includes(fn) && s.labels.span_id === spanId).reduce((t, s) => t + s.values[0], 0);
  const all = (fn) => cpu.samples.filter((s) => s.stack.includes(fn)).reduce((t, s) => t + s.values[0], 0);
  assert.ok(all('burnAlpha') > 50, `burnAlpha ticks: ${all('burnAlpha')}`);
  assert.ok(cpuIn('burnAlpha', ALPHA.span_id) >= 0.95 * all('burnAlpha'));
  assert.ok(cpuIn('burnBeta', BETA.span_id) >= 0.95 * all('burnBeta'));
  for (const s of cpu.samples) {
    if (s.labels.span_id === undefined) continue;
    const expected = s.labels.span_id === ALPHA.span_id ? ALPHA : BETA;
    assert.deepEqual(s.labels, expected);
  }
});

test('every frame is marked profile.frame.type=v8js', async () => {
  const { decoded } = await realRun();
  const dict = decoded.dictionary;
  for (const [i, location] of dict.locationTable.entries()) {
    if (i === 0) continue;
    const attributes = location.attributeIndices.map((a) => dict.attributeTable[a]);
    assert.deepEqual(
      attributes.map((a) => [dict.stringTable[a.keyStrindex], a.value.stringValue]),
      [['profile.frame.type', 'v8js']],
    );
  }
});

test('resource attributes and scope arrive with their types', async () => {
  const { decoded } = await realRun();
  const [profile] = flattenOtlpProfiles(decoded);
  assert.deepEqual(profile.resource, CONTEXT.resourceAttributes);
  assert.deepEqual(profile.scope, { name: '@acme/span-profiles', version: '0.1.0' });
  const kinds = Object.fromEntries(decoded.resourceProfiles[0].resource.attributes.map((kv) => [kv.key, kv.value.value]));
  assert.equal(kinds['process.pid'], 'intValue');
  assert.equal(kinds.ratio, 'doubleValue');
  assert.equal(kinds.flag, 'boolValue');
  assert.equal(kinds.zero, 'intValue');
});

test('OTLP/JSON carries the same profiles, links as hex', async () => {
  const { decoded, json } = await realRun();
  const parsed = JSON.parse(json);
  assert.match(parsed.dictionary.linkTable[1].spanId, /^[0-9a-f]{16}$/);
  assert.match(parsed.dictionary.linkTable[1].traceId, /^[0-9a-f]{32}$/);
  const fromJson = decodeOtlpProfilesJson(json);
  assert.deepEqual(otlpProfilesProblems(fromJson), []);
  const strip = (profiles) => profiles.map(({ profileId, ...rest }) => rest);
  assert.deepEqual(strip(flattenOtlpProfiles(fromJson)), strip(flattenOtlpProfiles(decoded)));
});

test('the raw cut is not changed (other destinations read it too)', async () => {
  const { raw, before } = await realRun();
  assert.deepEqual(Buffer.from(raw.encode()), before);
});

/** A synthetic raw profile: count, wall, cpu columns; `samples` as [locationIds, [count, wall, cpu], labels]. */
function syntheticRaw(samples) {
  const strings = new StringTable();
  const fn = (id, name) => new PprofFunction({ id, name: strings.dedup(name), systemName: strings.dedup(name), filename: strings.dedup('/app/x.js') });
  const functions = [fn(1, 'main'), fn(2, 'work'), fn(3, '(CPU between samples)'), fn(4, 'work')];
  // Locations 2 and 4 say the same (same function name and file, no line): one dictionary entry.
  const locations = [1, 2, 3, 4].map((id) => new Location({ id, line: [new Line({ functionId: id === 4 ? 4 : id, line: 0 })] }));
  const label = (key, value) =>
    typeof value === 'number'
      ? new Label({ key: strings.dedup(key), num: value, numUnit: strings.dedup('bytes') })
      : new Label({ key: strings.dedup(key), str: strings.dedup(value) });
  return new Profile({
    sampleType: [
      new ValueType({ type: strings.dedup('sample'), unit: strings.dedup('count') }),
      new ValueType({ type: strings.dedup('wall'), unit: strings.dedup('nanoseconds') }),
      new ValueType({ type: strings.dedup('cpu'), unit: strings.dedup('nanoseconds') }),
    ],
    sample: samples.map(
      ([ids, values, labels]) => new Sample({ locationId: ids, value: values, label: Object.entries(labels).map(([k, v]) => label(k, v)) }),
    ),
    location: locations,
    function: functions,
    stringTable: strings,
  });
}

test('CPU no tick saw becomes an estimated count; numeric labels become attributes with a unit; equal frames share an entry', async () => {
  const t0 = 1_750_000_000_000_000_000;
  const raw = syntheticRaw([
    [[2, 1], [1, 10e6, 10e6], { ...ALPHA, [SAMPLE_TIME_LABEL]: t0 }],
    [[2, 1], [1, 10e6, 9e6], { ...ALPHA, [SAMPLE_TIME_LABEL]: t0 + 10e6 }],
    [[4, 1], [1, 10e6, 11e6], { ...ALPHA, [SAMPLE_TIME_LABEL]: t0 + 20e6 }],
    [[2, 1], [1, 10e6, 0], { ...BETA, [SAMPLE_TIME_LABEL]: t0 + 30e6 }],
    [[2, 1], [1, 10e6, 10e6], { span_id: BETA.span_id, trace_id: BETA.trace_id, heap: 512, [SAMPLE_TIME_LABEL]: t0 + 40e6 }],
    [[3], [0, 0, 35e6], {}],
  ]);
  const request = await buildOtlpProfiles({ raw, startMs: t0 / 1e6, endMs: t0 / 1e6 + 1000, intervalMicros: 10_000, wall: true }, CONTEXT);
  const decoded = decodeOtlpProfilesProtobuf(encodeOtlpProfilesProtobuf(request));
  assert.deepEqual(otlpProfilesProblems(decoded), []);
  const [cpu, wall] = flattenOtlpProfiles(decoded);
  const byKey = Object.fromEntries(cpu.samples.map((s) => [`${s.stack.join('<')} ${s.labels.span_id ?? '-'} ${s.labels.heap ?? ''}`, s]));
  assert.deepEqual(Object.keys(byKey).sort(), [
    '(CPU between samples) - ',
    `work<main ${ALPHA.span_id} `,
    `work<main ${BETA.span_id} 512`,
  ]);
  assert.deepEqual(byKey[`work<main ${ALPHA.span_id} `].timestamps, [t0, t0 + 10e6, t0 + 20e6].map(BigInt), 'three ticks, one stack entry');
  assert.deepEqual(byKey['(CPU between samples) - '].values, [4], '35 ms at a 10 ms period: 4 ticks');
  assert.deepEqual(byKey['(CPU between samples) - '].timestamps, []);
  const heap = decoded.dictionary.attributeTable.find((a) => decoded.dictionary.stringTable[a.keyStrindex] === 'heap');
  assert.equal(decoded.dictionary.stringTable[heap.unitStrindex], 'bytes');
  assert.equal(decoded.dictionary.functionTable.filter((f) => decoded.dictionary.stringTable[f.nameStrindex] === 'work').length, 1);
  assert.equal(wall.samples.reduce((t, s) => t + s.values[0], 0), 50e6, 'the tick without CPU is in the wall profile');
  assert.equal(cpu.samples.length + 1, 4, 'the CPU profile leaves out the tick without CPU');
});

test('without the wall flag only the CPU profile is built', async () => {
  const raw = syntheticRaw([[[2, 1], [1, 10e6, 10e6], { ...ALPHA, [SAMPLE_TIME_LABEL]: 1_750_000_000_000_000_000 }]]);
  const request = await buildOtlpProfiles({ raw, startMs: 1_750_000_000_000, endMs: 1_750_000_001_000, intervalMicros: 10_000, wall: false }, CONTEXT);
  const profiles = flattenOtlpProfiles(decodeOtlpProfilesProtobuf(encodeOtlpProfilesProtobuf(request)));
  assert.deepEqual(profiles.map((p) => p.sampleType), ['samples/count']);
});
