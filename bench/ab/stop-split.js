'use strict';
// Preload after the agent (STAGES=./bench/ab/stop-split.js bench/ab/stall-run.mjs ...): per profile cut, the time of
// pprof's native stop (V8 stop + restart + the tree copy) and of pprof's JS serialization (when pprof serializes), with the tree's size.
const { performance } = require('node:perf_hooks');
const b = require('@datadog/pprof/out/src/time-profiler-bindings');
const ser = require('@datadog/pprof/out/src/profile-serializer');
const log = [];
const P = b.TimeProfiler.prototype;
const origStop = P.stop;
let last;
P.stop = function (restart) { const t = performance.now(); const r = origStop.call(this, restart); const d = performance.now() - t; let stuck; try { stuck = this.v8ProfilerStuckEventLoopDetected(); } catch {} let nodes = 0, ctx = 0; const st = r && r.topDownRoot ? [r.topDownRoot] : []; while (st.length) { const n = st.pop(); nodes++; ctx += n.contexts ? n.contexts.length : 0; for (const c of n.children) st.push(c); } last = { native: +d.toFixed(2), stuck, nodes, ctx, dur: r ? (r.endTime - r.startTime) / 1000 : 0 }; log.push(last); return r; };
const origSer = ser.serializeTimeProfile;
ser.serializeTimeProfile = function (prof, ...a) {
  const t = performance.now(); const r = origSer.call(this, prof, ...a); const d = performance.now() - t;
  if (last) { last.ser = +d.toFixed(2); last.samples = r.sample.length; }
  return r;
};
process.on('SIGUSR1', () => { require('fs').writeFileSync(process.env.STAGE_OUT, JSON.stringify(log)); });
