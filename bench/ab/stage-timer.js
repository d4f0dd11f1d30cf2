'use strict';
// Preload after the agent: times the synchronous stages of each cut and prints them at SIGUSR2.
const { performance } = require('node:perf_hooks');
const D = process.env.STAGE_DIST;
const log = [];
function wrap(obj, name, label) { const f = obj[name]; obj[name] = function (...a) { const t = performance.now(); try { return f.apply(this, a); } finally { log.push([label, performance.now() - t, t]); } }; }
const tp = require('@datadog/pprof/out/src/time-profiler'); wrap(tp, 'stop', 'pprof.time.stop'); wrap(tp, 'stopV2', 'pprof.time.stopV2');
const hp = require('@datadog/pprof/out/src/heap-profiler'); wrap(hp, 'profile', 'pprof.heap.profile');
const ser = require('@datadog/pprof/out/src/profile-serializer');
wrap(require(D + '/store/write/profile-store-exporter.js').ProfileStoreExporter.prototype, 'export', 'store.export(cut)');
wrap(require(D + '/profiler/heap-profiler.js').HeapProfiler.prototype, 'collect', 'heap.collect');
wrap(require(D + '/profiler/cpu-profiler.js').CpuProfiler.prototype, 'collect', 'cpu.collect');
const sb = require(D + '/profiler/profile-builder.js'); 
process.on('SIGUSR1', () => { const agg = {}; for (const [l, d] of log) (agg[l] ??= []).push(+d.toFixed(2)); require('fs').writeFileSync(process.env.STAGE_OUT, JSON.stringify(agg)); });
