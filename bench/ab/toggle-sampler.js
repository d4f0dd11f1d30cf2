'use strict';
// In-process A/B of V8's sampler itself (no span linking): `--require` it into an app run under the agent
// with OTEL_PYROSCOPE_START_PROFILING=false. It starts and stops pprof's time profiler (as the agent
// starts it: 10 ms, contexts in the AsyncContextFrame) every PHASE_MS (1000), counts the requests each
// phase served and the CPU it used, and on SIGUSR2 prints one JSON line: the CPU per request of every
// whole phase, with the sampler on and off. The first WARMUP_PHASES (4) are left out. Requests are HTTP
// requests, or span-loop.js's requests when that is the app (run it with a long MEASURE_MS).
const time = require('@datadog/pprof/out/src/time-profiler');
const heap = require('@datadog/pprof/out/src/heap-profiler');

// TOGGLE=heap toggles V8's sampling heap profiler instead (512 KiB, 64 frames, as the agent starts it).
const startIt = process.env.TOGGLE === 'heap'
  ? () => heap.start(512 * 1024, 64)
  : () => time.start({ intervalMicros: 10_000, durationMillis: 15_000, withContexts: true, useCPED: true, lineNumbers: false, workaroundV8Bug: true, collectCpuTime: true });
const stopIt = process.env.TOGGLE === 'heap' ? () => heap.stop() : () => time.stop(false);

const PHASE_MS = Number(process.env.PHASE_MS || 1000);
const WARMUP_PHASES = Number(process.env.WARMUP_PHASES || 4);
const { served } = require('./served-requests.js');
const phases = { on: [], off: [] };
let on = false;
let n = 0;
let cpu = process.cpuUsage();
let seen = 0;
setInterval(() => {
  const used = process.cpuUsage(cpu);
  const total = globalThis.spanLoopRequests ?? served();
  const count = total - seen;
  if (n++ >= WARMUP_PHASES && count > 0) phases[on ? 'on' : 'off'].push((used.user + used.system) / count);
  // Start/stop outside the measured phase: the CPU they take goes to neither.
  if (on) stopIt();
  else startIt();
  on = !on;
  cpu = process.cpuUsage();
  seen = globalThis.spanLoopRequests ?? served();
}, PHASE_MS).unref();
function report() {
  process.stdout.write(JSON.stringify({ toggle: phases }) + '\n', () => process.exit(0));
}
process.on('SIGUSR2', report);
if (process.env.TOGGLE_MS) setTimeout(report, Number(process.env.TOGGLE_MS)).unref();
