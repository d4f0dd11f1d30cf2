'use strict';
// Preload for bench/ab/toggle-part.mjs, after the agent's register: switches one part of the running agent
// off and on every PHASE_MS (1000) and notes the CPU per HTTP request of each whole phase (the first
// WARMUP_PHASES, 4, left out); on SIGUSR2 prints {"toggle":{"on":[µs...],"off":[µs...]}}. Within one process
// the phases see the same machine speed, so a 1-2 % cost shows where cross-process rounds cannot show it.
//   TOGGLE=binding  the context binding (pprof's native setContext at every span switch)
//   TOGGLE=heap     V8's sampling heap profiler under the agent's heap profiler
// The part is switched between phases, so the switch's own CPU counts in neither.
const { served } = require('./served-requests.js');

const PHASE_MS = Number(process.env.PHASE_MS || 1000);
const WARMUP_PHASES = Number(process.env.WARMUP_PHASES || 4);

function partOf(name) {
  const profiling = globalThis[Symbol.for('acme.span-profiles.agent')]?.profiling;
  if (name === 'heap') {
    const { pprof, samplingIntervalBytes, stackDepth } = profiling.heapProfiler.options;
    return { off: () => pprof.heap.stop(), on: () => pprof.heap.start(samplingIntervalBytes, stackDepth) };
  }
  if (name === 'binding') {
    const binding = profiling.cpuProfiler.options.binding;
    return { off: () => binding.uninstall(), on: () => binding.install() };
  }
  throw new Error(`TOGGLE=${name}: binding or heap`);
}

const phases = { on: [], off: [] };
// The agent starts its profilers right after the register: look for them once the app runs.
setTimeout(() => {
  const part = partOf(process.env.TOGGLE);
  let on = true;
  let phase = 0;
  let cpu = process.cpuUsage();
  let seen = served();
  setInterval(() => {
    const used = process.cpuUsage(cpu);
    const count = served() - seen;
    if (phase++ >= WARMUP_PHASES && count > 0) phases[on ? 'on' : 'off'].push((used.user + used.system) / count);
    if (on) part.off();
    else part.on();
    on = !on;
    cpu = process.cpuUsage();
    seen = served();
  }, PHASE_MS).unref();
}, 500).unref();

process.on('SIGUSR2', () => process.stdout.write(`${JSON.stringify({ toggle: phases })}\n`));
