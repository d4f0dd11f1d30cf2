// The process's first cut comes once the JavaScript thread has run for FIRST_CUT_BUSY_MS, not at the end of a full
// upload interval (a small first profile: see cpu-profiler.ts for what a large one sets off); every later cut
// comes at the interval. Real sampler.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
const { loadNativeProfiler } = require('../../../dist/profiler/native-profiler.js');
const { createContextBinding } = require('../../../dist/linking/context-binding.js');
const { CpuProfiler, FIRST_CUT_BUSY_MS } = require('../../../dist/profiler/cpu-profiler.js');

const load = loadNativeProfiler();
const UPLOAD_MS = 20_000;

/** The thread's CPU time, ms. */
const threadCpuMs = () => {
  const { user, system } = typeof process.threadCpuUsage === 'function' ? process.threadCpuUsage() : process.cpuUsage();
  return (user + system) / 1000;
};

/**
 * Burns `ms` of this thread's CPU (not of wall time: beside other tests the thread gets less than the wall
 * clock) in 20 ms slices, yielding between them so the profiler's timers run; gives up after 9 s of wall time.
 */
async function busy(ms) {
  const end = threadCpuMs() + ms;
  const giveUp = performance.now() + 9000;
  while (threadCpuMs() < end && performance.now() < giveUp) {
    const slice = performance.now() + 20;
    let x = 0;
    while (performance.now() < slice) for (let i = 0; i < 1000; i++) x += Math.sqrt(i);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

async function until(check, ms) {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 50));
}

function profilerWith(pprof, options) {
  const manager = new AsyncLocalStorageContextManager().enable();
  const { binding } = createContextBinding({ mode: 'async-hooks' }, pprof.time, manager, () => undefined);
  const cuts = [];
  const destination = { export: (cut) => cuts.push(cut), shutdown: async () => {} };
  const profiler = new CpuProfiler({ pprof, binding, samplingIntervalMicros: 10_000, uploadIntervalMs: UPLOAD_MS, wall: false, addSpanName: true, exporters: [destination], ...options });
  return { profiler, cuts, manager };
}

test('the first cut comes after FIRST_CUT_BUSY_MS of CPU, the next one at the interval', { skip: !load.ok && load.reason }, async () => {
  const { profiler, cuts, manager } = profilerWith(load.pprof, {});
  const startedMs = Date.now();
  profiler.start();
  try {
    await busy(FIRST_CUT_BUSY_MS + 400);
    await until(() => cuts.length > 0, 3000);
    assert.equal(cuts.length, 1, 'one cut, early');
    assert.ok(cuts[0].endMs - startedMs < UPLOAD_MS / 2, `the first cut ended ${cuts[0].endMs - startedMs} ms after the start`);
    assert.ok(cuts[0].raw.sample.length > 0, 'it holds the samples taken so far');
    // More work: no second early cut, the next one waits for the interval.
    await busy(FIRST_CUT_BUSY_MS + 400);
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal(cuts.length, 1, 'no second early cut');
  } finally {
    await profiler.shutdown(Date.now() + 5000);
    manager.disable();
  }
});

test('firstCutBusyMs: Infinity keeps the first cut at the interval', { skip: !load.ok && load.reason }, async () => {
  const { profiler, cuts, manager } = profilerWith(load.pprof, { firstCutBusyMs: Infinity });
  profiler.start();
  try {
    await busy(FIRST_CUT_BUSY_MS + 400);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal(cuts.length, 0);
  } finally {
    await profiler.shutdown(Date.now() + 5000);
    manager.disable();
  }
});

test('an idle process gets no early cut', { skip: !load.ok && load.reason }, async () => {
  const { profiler, cuts, manager } = profilerWith(load.pprof, {});
  profiler.start();
  try {
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(cuts.length, 0);
  } finally {
    await profiler.shutdown(Date.now() + 5000);
    manager.disable();
  }
});
