// Within an upload interval the sampler is stopped and restarted whenever the thread has been busy for
// PIECE_BUSY_SAMPLES sampling intervals (each native stop stays short); the pieces reach the destinations as the interval's one cut, with every
// sample, its time and its span, and no hole at the piece boundaries. Real sampler, real context binding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
const { createContextKey, ROOT_CONTEXT } = require('@opentelemetry/api');
const { loadNativeProfiler } = require('../../../dist/profiler/native-profiler.js');
const { createContextBinding } = require('../../../dist/linking/context-binding.js');
const { CpuProfiler, PIECE_BUSY_SAMPLES } = require('../../../dist/profiler/cpu-profiler.js');
const { SpanLabels } = require('../../../dist/linking/span-labels.js');
const { SAMPLE_TIME_LABEL } = require('../../../dist/profile-format.js');

const load = loadNativeProfiler();
const INTERVAL_MICROS = 1000;
const UPLOAD_MS = 5000;

function burn(ms) {
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) for (let i = 0; i < 1000; i++) x += Math.sqrt(i);
  return x;
}

test('an interval stopped in pieces reaches the destination as one cut with every span\'s samples, times unbroken', { skip: !load.ok && load.reason }, async () => {
  const { pprof } = load;
  const manager = new AsyncLocalStorageContextManager().enable();
  const key = createContextKey('span labels');
  const { binding } = createContextBinding({ mode: 'async-hooks' }, pprof.time, manager, (ctx) => ctx.getValue(key));
  const cuts = [];
  const destination = { export: (cut) => cuts.push(cut), shutdown: async () => {} };
  // The process's early first cut (first-cut.test.mjs) left out: this is about one interval's pieces.
  const profiler = new CpuProfiler({ pprof, binding, samplingIntervalMicros: INTERVAL_MICROS, uploadIntervalMs: UPLOAD_MS, wall: false, addSpanName: true, exporters: [destination], firstCutBusyMs: Infinity });
  // What the sampler recorded before each stop (its count restarts at every stop): the cut must hold all of it.
  const stop = pprof.time.stop;
  let recorded = 0;
  pprof.time.stop = function (...args) {
    recorded += pprof.time.getState()[pprof.time.constants.kSampleCount];
    return stop.apply(this, args);
  };
  profiler.start();
  const startedMs = Date.now();
  const spans = [];
  try {
    // Five spans, one after another, each burning CPU for 600 ms in 20 ms slices (the piece timer runs between).
    for (let k = 0; k < 5; k++) {
      const labels = new SpanLabels(`${k}`.padStart(16, 'a'), 't'.repeat(32), { name: `job ${k}` }, Date.now() * 1e6);
      spans.push(labels);
      const until = performance.now() + 600;
      while (performance.now() < until) {
        manager.with(ROOT_CONTEXT.setValue(key, labels), () => burn(20));
        await new Promise((resolve) => setImmediate(resolve));
      }
      labels.ended(`job ${k}`, Date.now() * 1e6);
    }
    const busyMs = Date.now() - startedMs;
    assert.ok(busyMs < UPLOAD_MS - 300, `the work fits in the first interval (${busyMs} ms)`);
    const piecesBeforeCut = profiler.stats.pieces;
    await new Promise((resolve) => setTimeout(resolve, UPLOAD_MS - (Date.now() - startedMs) + 500));
    await profiler.shutdown(Date.now() + 15_000);
    // 3 s of CPU at 1 ms a sample is up to 3,000 samples: several pieces of PIECE_BUSY_SAMPLES.
    assert.ok(piecesBeforeCut >= 2, `pieces stopped within the interval: ${piecesBeforeCut}`);
  } finally {
    if (profiler.isRunning) await profiler.shutdown(Date.now() + 5000);
    manager.disable();
    pprof.time.stop = stop;
  }

  assert.ok(cuts.length >= 1);
  const first = cuts[0];
  assert.ok(first.endMs - first.startMs >= UPLOAD_MS - 100, 'the first cut is the whole interval, not a piece');
  const strings = first.raw.stringTable.strings;
  const labelOf = (sample, name) => sample.label.find((l) => strings[Number(l.key)] === name);
  const bySpan = new Map();
  for (const sample of first.raw.sample) {
    const id = labelOf(sample, 'span_id');
    const time = labelOf(sample, SAMPLE_TIME_LABEL);
    if (id === undefined || time === undefined) continue;
    const spanId = strings[Number(id.str)];
    if (!bySpan.has(spanId)) bySpan.set(spanId, []);
    bySpan.get(spanId).push(Number(time.num) / 1e6);
  }
  assert.equal(bySpan.size, spans.length, 'every span has samples in the one cut');
  let total = 0;
  for (const labels of spans) total += bySpan.get(labels.spanId).length;
  assert.ok(total >= PIECE_BUSY_SAMPLES * 2, `samples of the spans in the cut: ${total}`);
  // Nothing lost at the piece boundaries: the cuts hold a tick for each sample the sampler recorded (a few
  // are dropped natively when no V8 sample matches their time).
  const ticks = cuts.reduce((n, cut) => n + cut.raw.sample.reduce((m, sample) => m + Number(sample.value[0]), 0), 0);
  assert.ok(ticks <= recorded && ticks >= 0.97 * recorded, `ticks in the cuts ${ticks}, samples recorded ${recorded}`);
  // One profile: one period over all of it, the cut's own duration.
  assert.ok(Number(first.raw.period) >= INTERVAL_MICROS * 1000 && Number(first.raw.period) <= 2 * INTERVAL_MICROS * 1000);
});

test('an idle app is not restarted within the interval', { skip: !load.ok && load.reason }, async () => {
  const { pprof } = load;
  const manager = new AsyncLocalStorageContextManager().enable();
  const { binding } = createContextBinding({ mode: 'async-hooks' }, pprof.time, manager, () => undefined);
  const profiler = new CpuProfiler({ pprof, binding, samplingIntervalMicros: 10_000, uploadIntervalMs: 60_000, wall: false, addSpanName: true, exporters: [] });
  profiler.start();
  try {
    for (let i = 0; i < 8; i++) await new Promise((resolve) => setTimeout(resolve, 250));
    assert.equal(profiler.stats.pieces, 0);
  } finally {
    await profiler.shutdown(Date.now() + 5000);
    manager.disable();
  }
});
