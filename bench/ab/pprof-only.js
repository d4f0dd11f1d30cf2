'use strict';
// For bench/ab/loop-ab.mjs: V8's sampler started the way the agent starts it (pprof's time profiler,
// 10 ms, contexts in the AsyncContextFrame), with no span linking, cut every PPROF_ONLY_INTERVAL_MS (15000) by
// pprof's own stop (which serializes the profile); `--require` it after an agent run with
// OTEL_PYROSCOPE_START_PROFILING=false to separate the sampler's own cost from the linking's.
const time = require('@datadog/pprof/out/src/time-profiler');
time.start({ intervalMicros: 10_000, durationMillis: 15_000, withContexts: true, useCPED: true, lineNumbers: false, workaroundV8Bug: true, collectCpuTime: true });
setInterval(() => time.stop(true), Number(process.env.PPROF_ONLY_INTERVAL_MS ?? 15_000)).unref();
