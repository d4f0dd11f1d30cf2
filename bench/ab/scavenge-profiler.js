'use strict';
// Does a running V8 CPU profiler make garbage collection dearer? With a profiler attached, V8 reports every
// object a scavenge moves (Heap::OnMoveEvent, for the profiler's code map). One process, a synthetic
// allocation load whose objects survive a scavenge or two (a ring of the latest 20,000), pprof's wall
// profiler (as the agent starts it: CPED contexts, CPU time, 10 ms) started and stopped in ABBA phases;
// per phase: scavenges and their pause (v8.GCProfiler), and work done per CPU ms. Ratios are on ÷ off,
// paired by phase pair, median:
//   taskset -c 0 node bench/ab/scavenge-profiler.js        (PHASE_MS=1000, PAIRS=12)
const v8 = require('node:v8');
const pprof = require('@datadog/pprof');

const PHASE_MS = Number(process.env.PHASE_MS ?? 1000);
const PAIRS = Number(process.env.PAIRS ?? 12);
const ring = new Array(20_000);
let next = 0;

/** Allocates for `ms` of wall time; returns the number of objects made. */
function allocate(ms) {
  const end = Date.now() + ms;
  let made = 0;
  while (Date.now() < end) {
    for (let k = 0; k < 1000; k++) {
      next++;
      ring[next % ring.length] = { id: next, pair: [next, next + 1], key: 'k' + (next & 1023) };
      made++;
    }
  }
  return made;
}

const phases = { on: [], off: [] };
let phase = 0;
function step() {
  const on = phase % 2 === Math.floor(phase / 2) % 2; // on off off on on off ...
  if (on) pprof.time.start({ intervalMicros: 10_000, durationMillis: 60_000, withContexts: true, collectCpuTime: true, useCPED: true, lineNumbers: false });
  const gc = new v8.GCProfiler();
  gc.start();
  const cpu0 = process.cpuUsage();
  const made = allocate(PHASE_MS);
  const cpu = process.cpuUsage(cpu0);
  const scavenges = gc.stop().statistics.filter((s) => s.gcType === 'Scavenge');
  if (on) pprof.time.stop(false);
  const cpuUs = cpu.user + cpu.system;
  const pauseUs = scavenges.reduce((sum, s) => sum + s.cost, 0);
  phases[on ? 'on' : 'off'].push({ pauseMs: pauseUs / 1000 / Math.max(1, scavenges.length), scavenges: scavenges.length, gcShare: pauseUs / cpuUs, madePerCpuMs: made / (cpuUs / 1000) });
  if (++phase < PAIRS * 2) setImmediate(step);
  else report();
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function report() {
  const ratio = (key) => median(phases.on.map((p, i) => p[key] / phases.off[i][key])).toFixed(3);
  const med = (side, key) => median(phases[side].map((p) => p[key])).toFixed(3);
  console.log(
    JSON.stringify({
      pairs: PAIRS,
      scavengePauseMs: { on: med('on', 'pauseMs'), off: med('off', 'pauseMs'), ratio: ratio('pauseMs') },
      scavenges: { ratio: ratio('scavenges') },
      gcShareOfCpu: { on: med('on', 'gcShare'), off: med('off', 'gcShare') },
      workPerCpuMs: { ratio: ratio('madePerCpuMs') },
    }),
  );
}

setTimeout(step, 500);
