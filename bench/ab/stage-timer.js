'use strict';
// Preload after the agent: times the synchronous stages of each cut and writes them at SIGUSR1 (to STAGE_OUT).
// Each stage's list of durations (ms); "builder slice" is the longest slice of the raw cut builder per cut.
const { performance } = require('node:perf_hooks');
const D = process.env.STAGE_DIST;
const log = [];
function wrap(obj, name, label) {
  const f = obj?.[name]; if (typeof f !== 'function') return;
  obj[name] = function (...a) { const t = performance.now(); try { return f.apply(this, a); } finally { log.push([label, performance.now() - t, t]); } };
}
const tryRequire = (m) => { try { return require(m); } catch { return undefined; } };
const tp = require('@datadog/pprof/out/src/time-profiler'); wrap(tp, 'stop', 'pprof.time.stop');
const hp = require('@datadog/pprof/out/src/heap-profiler'); wrap(hp, 'profile', 'pprof.heap.profile'); wrap(hp, 'v8Profile', 'pprof.heap.v8Profile');
wrap(require(D + '/store/write/profile-store-exporter.js').ProfileStoreExporter.prototype, 'export', 'store.export(cut)');
wrap(require(D + '/store/write/profile-store-exporter.js').ProfileStoreExporter.prototype, 'exportHeap', 'store.exportHeap(cut)');
wrap(require(D + '/profiler/heap-profiler.js').HeapProfiler.prototype, 'collect', 'heap.collect');
wrap(require(D + '/profiler/cpu-profiler.js').CpuProfiler.prototype, 'collect', 'cpu.collect');
const tb = require(D + '/linking/span-time-bounds.js'); wrap(tb, 'separateSamplesAfterSpanEnd', 'separateSamplesAfterSpanEnd'); wrap(tb, 'capSpanCpu', 'capSpanCpu');
wrap(require(D + '/profiler/sampler-gaps.js'), 'separateUnsampledCpu', 'separateUnsampledCpu');
wrap(require(D + '/linking/late-span-names.js').PendingSpanNames.prototype, 'applyTo', 'unnamed.applyTo');
const enc = tryRequire(D + '/export/otlp-profiles-encoder.js'); wrap(enc, 'encodeOtlpProfilesProtobuf', 'otlp.encodeProtobuf');
const lab = tryRequire(D + '/export/pyroscope-labels.js');
const rcb = tryRequire(D + '/profiler/raw-cut-builder.js');
if (rcb) { const fin = rcb.RawCutBuilder.prototype.finish; rcb.RawCutBuilder.prototype.finish = function () { if (typeof this.longestSliceMs === 'number') log.push(['builder slice', this.longestSliceMs, 0]); const t = performance.now(); try { return fin.call(this); } finally { log.push(['builder.finish', performance.now() - t, t]); } }; }
// Every slice of a sliced walk (SliceClock), with its start, so cut-stall.mjs can tell what the longest turns held.
const sc = tryRequire(D + '/slice-clock.js');
if (sc) {
  const { tick, end } = sc.SliceClock.prototype;
  sc.SliceClock.prototype.tick = function (work) { const start = this.start; const r = tick.call(this, work); if (r !== undefined) log.push(['slice', performance.now() - start, start]); return r; };
  sc.SliceClock.prototype.end = function () { log.push(['slice', performance.now() - this.start, this.start]); return end.call(this); };
}
// Durations by stage, and under __log every entry as [stage, ms, start (performance.now)].
process.on('SIGUSR1', () => { const agg = {}; for (const [l, d] of log) (agg[l] ??= []).push(+d.toFixed(2)); agg.__log = log.map(([l, d, t]) => [l, +d.toFixed(3), +t.toFixed(3)]); require('fs').writeFileSync(process.env.STAGE_OUT, JSON.stringify(agg)); });
