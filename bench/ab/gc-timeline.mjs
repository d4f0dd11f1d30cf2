// V8's collections over time under a fixed request rate, per config, from the checkout:
//   APP=http|express|pg RATE=400 OPEN_S=14 taskset -c 1 node bench/ab/gc-timeline.mjs <rounds> <config> <config> ...
// config as in cpu-ab.mjs ([label=]kind[:dist][,VAR=value...], ab-configs.mjs; the register with metrics and logs
// off, as in the bench). Each config's app runs under --trace-gc on core 0: WARMUP_S (4.5) of closed-loop load,
// then OPEN_S seconds at RATE req/s in open loop from core 1. Per run: p99 and the longest answer, the app's CPU in
// each second of the open loop (% of a core: a rise at a fixed rate is the app getting slower), and every
// collection of the open loop with its time (s from the open loop's start), the heap before and after, and its
// pause; SHOW_MS (5) hides the shorter ones. What it is for: a pause that comes and goes with time (the first
// profile cuts after start, say) does not show in a median, and one run of the bench's 2 s windows cannot tell
// whether a long pause is steady or a transient. Extra Node flags for the app: NODE_FLAGS (space-separated),
// before the config's own; e.g. NODE_FLAGS="--require ./bench/ab/pprof-only.js" with a `noprof` config runs
// pprof's time profiler alone.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AS_IN_THE_BENCH, abConfigs, startAbSink, abProcessEnv } from './ab-configs.mjs';
import { readCpuMs } from '../lib/proc.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const [, , roundsArg = '1', ...specs] = process.argv;
const RATE = Number(process.env.RATE ?? 400);
const WARMUP_MS = Number(process.env.WARMUP_S ?? 4.5) * 1000;
const OPEN_MS = Number(process.env.OPEN_S ?? 14) * 1000;
const SHOW_MS = Number(process.env.SHOW_MS ?? 5);
const NODE_FLAGS = (process.env.NODE_FLAGS ?? '').split(' ').filter(Boolean).map((f) => (f.startsWith('./') ? path.join(root, f) : f));

const sink = await startAbSink();
const configs = abConfigs(specs, sink.url, AS_IN_THE_BENCH);
const { abApp: makeAbApp, startAbServer, runAbLoad, runAbOpenLoad, stopOnSignals } = await import('./ab-app.mjs');
const abApp = await makeAbApp();
let current;
stopOnSignals(abApp, () => current);

// `[pid:isolate]     1234 ms: Scavenge 72.5 (80.1) -> 31.1 (84.0) MB, pooled: 0 MB, 22.55 / 0.00 ms ...`: the time is
// from the isolate's start, which is the app's performance.now() origin to within a few ms.
const GC_LINE = /(\d+) ms: (Scavenge|Mark-Compact|Minor Mark-Sweep)[^\n]*?(\d+\.\d+) \(\d+\.\d+\) -> (\d+\.\d+) \(\d+\.\d+\) MB, (?:pooled: [\d.]+ MB, )?(\d+\.\d+) \//g;

async function once(config) {
  const env = abProcessEnv(config, abApp.env, 'gc-timeline');
  const spawnedAt = performance.now();
  const server = await startAbServer(abApp, config, env, ['--trace-gc', ...NODE_FLAGS]);
  current = server.child;
  try {
    await runAbLoad(abApp, server.port, WARMUP_MS);
    const openFrom = performance.now() - spawnedAt;
    const cpu = [];
    let last = readCpuMs(server.child.pid);
    const timer = setInterval(() => {
      const now = readCpuMs(server.child.pid);
      cpu.push(Math.round((now - last) / 10));
      last = now;
    }, 1000);
    const result = await runAbOpenLoad(abApp, server.port, RATE, OPEN_MS);
    clearInterval(timer);
    const openTo = performance.now() - spawnedAt;
    const collections = [...server.output().matchAll(GC_LINE)]
      .map((m) => ({ at: (Number(m[1]) - openFrom) / 1000, kind: m[2], before: Number(m[3]), after: Number(m[4]), pauseMs: Number(m[5]) }))
      .filter((c) => c.at >= 0 && c.at <= (openTo - openFrom) / 1000);
    return { latency: result.latencyMs, cpu, collections };
  } finally {
    server.child.kill('SIGKILL');
    await server.closed;
  }
}

for (let r = 0; r < Number(roundsArg); r++) {
  for (const config of r % 2 ? [...configs].reverse() : configs) {
    const { latency, cpu, collections } = await once(config);
    const scavenges = collections.filter((c) => c.kind === 'Scavenge').map((c) => c.pauseMs).sort((a, b) => a - b);
    console.log(
      `${config.label.padEnd(12)} p99 ${latency.p99.toFixed(1)} ms, longest answer ${latency.max.toFixed(1)} ms; ` +
        `${collections.length} collections, scavenge median ${(scavenges[scavenges.length >> 1] ?? 0).toFixed(1)} ms, longest ${(scavenges.at(-1) ?? 0).toFixed(1)} ms`,
    );
    console.log(`${''.padEnd(12)} app CPU % by second: ${cpu.join(' ')}`);
    for (const c of collections.filter((x) => x.pauseMs >= SHOW_MS)) {
      console.log(`${''.padEnd(12)} ${c.at.toFixed(2).padStart(6)} s  ${c.kind.padEnd(12)} ${c.before} -> ${c.after} MB  ${c.pauseMs.toFixed(1)} ms`);
    }
  }
}
sink.close();
await abApp.stop();
process.exit(0);
