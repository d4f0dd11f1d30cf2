'use strict';
// Preload: longest event-loop stalls, by a setImmediate chain (every loop turn) and monitorEventLoopDelay(resolution 1).
// Each turn longer than 1 ms is noted with its wall time and the main thread's CPU time in it: on a shared machine
// the wall gap includes time the thread was preempted, the CPU gap only what the thread itself ran.
const { performance, monitorEventLoopDelay } = require('node:perf_hooks');
const h = monitorEventLoopDelay({ resolution: 1 }); h.enable();
const cpuNow = () => { const u = process.threadCpuUsage(); return (u.user + u.system) / 1000; };
let last = performance.now(); let lastCpu = cpuNow(); const gaps = [];
const t0 = last;
function tick() {
  const now = performance.now(); const cpu = cpuNow(); const g = now - last; const c = cpu - lastCpu;
  if ((g > 1 || c > 1) && now - t0 > 2500) gaps.push([g, now - t0, c]);
  last = now; lastCpu = cpu; setImmediate(tick);
}
setImmediate(tick);
process.on('SIGUSR2', () => {
  gaps.sort((a, b) => b[0] - a[0]);
  const out = { max: gaps[0]?.[0] ?? 0, top: gaps.slice(0, 8).map(([g, t]) => [+g.toFixed(2), +(t / 1000).toFixed(1)]), gaps: gaps.map(([g, t, c]) => [+g.toFixed(2), +(t / 1000).toFixed(3), +c.toFixed(2)]), over2: gaps.filter(g => g[0] > 2).length, eld_max: h.max / 1e6, eld_p99: h.percentile(99) / 1e6 };
  require('fs').writeFileSync(process.env.STALL_OUT, JSON.stringify(out));
});
