'use strict';
// Preload: longest event-loop stalls, by a setImmediate chain (every loop turn) and monitorEventLoopDelay(resolution 1).
// Each turn longer than 1 ms is noted with its wall time and its own time (see below): on a shared machine the wall
// gap includes time the thread was preempted, the own time only what the thread itself ran (or slept).
const { performance, monitorEventLoopDelay } = require('node:perf_hooks');
const h = monitorEventLoopDelay({ resolution: 1 }); h.enable();
// A turn's own time: its wall time less the time the thread waited for a CPU while runnable (preempted by
// other processes), from /proc/thread-self/schedstat's run_delay (ns, updated whenever the thread is switched
// back in, so exact for every completed wait). The thread CPU clocks Node offers move in 4 ms ticks here.
const fs = require('node:fs');
let statFd = -1; try { statFd = fs.openSync('/proc/thread-self/schedstat', 'r'); } catch {}
const statBuf = Buffer.alloc(96);
const runDelayMs = () => { const n = fs.readSync(statFd, statBuf, 0, 96, 0); const f = statBuf.toString('latin1', 0, n).split(' '); return Number(f[1]) / 1e6; };
const cpuNow = statFd >= 0
  ? () => performance.now() - runDelayMs()
  : () => { const u = process.threadCpuUsage(); return (u.user + u.system) / 1000; };
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
  const out = { max: gaps[0]?.[0] ?? 0, top: gaps.slice(0, 8).map(([g, t]) => [+g.toFixed(2), +(t / 1000).toFixed(1)]), gaps: gaps.map(([g, t, c]) => [+g.toFixed(2), +(t / 1000).toFixed(3), +c.toFixed(2)]), over2: gaps.filter(g => g[0] > 2).length, eld_max: h.max / 1e6, t0, eld_p99: h.percentile(99) / 1e6 };
  require('fs').writeFileSync(process.env.STALL_OUT, JSON.stringify(out));
});
