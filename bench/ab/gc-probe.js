'use strict';
// Preload for bench/ab/cpu-ab.mjs (GC=1): V8's garbage collections from perf_hooks 'gc' entries, counted
// from the start of the measured load to its end, then written to GC_OUT as JSON:
// count and total/longest pause by kind (minor = scavenge, major = mark-compact, incremental, weak callbacks).
// The first SIGUSR1 starts the count, the second writes it (SIGUSR2 ends OpenTelemetry's register's process:
// something it loads re-raises it).
const { PerformanceObserver, constants } = require('node:perf_hooks');
const KINDS = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};
let stats = {};
const fresh = () => Object.fromEntries(Object.values(KINDS).map((k) => [k, { count: 0, ms: 0, maxMs: 0 }]));
stats = fresh();
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const s = stats[KINDS[entry.detail?.kind ?? entry.kind] ?? 'minor'];
    s.count++;
    s.ms += entry.duration;
    if (entry.duration > s.maxMs) s.maxMs = entry.duration;
  }
}).observe({ entryTypes: ['gc'] });
let started = false;
process.on('SIGUSR1', () => {
  if (!started) {
    started = true;
    stats = fresh();
    return;
  }
  const mem = process.memoryUsage();
  require('node:fs').writeFileSync(process.env.GC_OUT, JSON.stringify({ ...stats, heapUsedMb: mem.heapUsed / 2 ** 20, externalMb: mem.external / 2 ** 20 }));
});
