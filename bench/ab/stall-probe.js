'use strict';
// Preload: longest event-loop stalls, by a setImmediate chain (every loop turn) and monitorEventLoopDelay(resolution 1).
const { performance, monitorEventLoopDelay } = require('node:perf_hooks');
const h = monitorEventLoopDelay({ resolution: 1 }); h.enable();
let last = performance.now(); const gaps = [];
const t0 = last;
function tick() { const now = performance.now(); const g = now - last; if (g > 1 && now - t0 > 2500) gaps.push([g, now - t0]); last = now; setImmediate(tick); }
setImmediate(tick);
process.on('SIGUSR2', () => {
  gaps.sort((a, b) => b[0] - a[0]);
  const out = { max: gaps[0]?.[0] ?? 0, top: gaps.slice(0, 8).map(([g, t]) => [+g.toFixed(2), +(t / 1000).toFixed(1)]), gaps: gaps.map(([g, t]) => [+g.toFixed(2), +(t / 1000).toFixed(3)]), over2: gaps.filter(g => g[0] > 2).length, eld_max: h.max / 1e6, eld_p99: h.percentile(99) / 1e6 };
  require('fs').writeFileSync(process.env.STALL_OUT, JSON.stringify(out));
});
