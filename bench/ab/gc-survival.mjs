// What survives V8's young-generation collections under each config, from V8's own trace, from the checkout:
//   taskset -c 1 node bench/ab/gc-survival.mjs <seconds> <config> <config> ...
// config: [label=]kind[:dist][,VAR=value...] as in ab-configs.mjs (bare | otel | full | noprof); OpenTelemetry's
// register gets metrics and logs off, as in the bench's overhead section.
// Each config's app runs once on core 0 with --trace-gc-nvp under closed-loop load (CONNECTIONS, default 16)
// from core 1; the first WARMUP_S (4) seconds are left out. Per scavenge: bytes that survived it (copied
// within the young generation or promoted), bytes promoted to the old generation, pause, and the global
// handles whose young objects survived or died (pprof's sample contexts are such handles); then the
// scavenges and mark-compacts per 1,000 requests, the young generation's largest capacity, and peak RSS.
// Bytes surviving each scavenge is what makes V8 grow its young generation (peak RSS) and promote (full
// collections): it found the pooled-connection WeakMap (src/tracing/operation-context.ts). PHASES=1 adds V8's
// time per scavenge phase (where a longer pause goes); SERIES=1 lists what each scavenge promoted (steady, as
// for something kept a while on every request, or in bursts). One run per config: processes differ (any
// config sometimes settles where every scavenge promotes ~2.5 MB), so repeat a config before reading a
// difference into it.
import { readMemory } from '../lib/proc.mjs';
import { AS_IN_THE_BENCH, abConfigs, startAbSink, withoutAgentEnv } from './ab-configs.mjs';

const [, , secondsArg = '12', ...specs] = process.argv;
const WARMUP_MS = Number(process.env.WARMUP_S ?? 4) * 1000;
const sink = await startAbSink();
const configs = abConfigs(specs, sink.url, AS_IN_THE_BENCH);
// Started once the configs are known to be valid: with APP=pg it starts PostgreSQL.
const { abApp: makeAbApp, startAbServer, runAbLoad } = await import('./ab-app.mjs');
const abApp = await makeAbApp();

/** `--trace-gc-nvp` lines after the warm-up, as name → value records. */
function collections(trace) {
  const found = [];
  for (const line of trace.split('\n')) {
    const at = /\s(\d+) ms: pause=/.exec(line);
    if (at === null || Number(at[1]) < WARMUP_MS) continue;
    found.push(Object.fromEntries([...line.matchAll(/(\w[\w.]*)=(\S+)/g)].map((m) => [m[1], m[2]])));
  }
  return found;
}

const mean = (rows, key) => rows.reduce((sum, row) => sum + Number(row[key] ?? 0), 0) / Math.max(1, rows.length);

async function run(config) {
  const env = { ...withoutAgentEnv(), WORK_ITERS: process.env.WORK_ITERS ?? '15000', ...abApp.env, ...config.env };
  const server = await startAbServer(abApp, config, env, ['--trace-gc-nvp']);
  const { completed } = await runAbLoad(abApp, server.port, Number(secondsArg) * 1000);
  const { peakRssKb } = readMemory(server.child.pid);
  server.child.kill('SIGKILL');
  await server.closed;
  const trace = server.output();
  // Requests in the traced window, assuming a steady rate over the run.
  const requests = (completed * Math.max(0, Number(secondsArg) * 1000 - WARMUP_MS)) / (Number(secondsArg) * 1000);
  const all = collections(trace);
  const scavenges = all.filter((row) => row.gc === 's');
  const perK = (n) => ((n * 1000) / Math.max(1, requests)).toFixed(2);
  const kb = (bytes) => (bytes / 1024).toFixed(0);
  console.log(
    `${config.label.padEnd(10)} ${completed} requests · per scavenge: survived ${kb(mean(scavenges, 'new_space_survived'))} KB, ` +
      `promoted ${kb(mean(scavenges, 'promoted'))} KB, pause ${mean(scavenges, 'pause').toFixed(2)} ms, global handles ` +
      `survived ${mean(scavenges, 'nodes_copied_in_new').toFixed(0)} / died ${mean(scavenges, 'nodes_died_in_new').toFixed(0)} · ` +
      `per 1k requests: ${perK(scavenges.length)} scavenges, ${perK(all.length - scavenges.length)} mark-compacts · young generation up to ` +
      `${Math.max(0, ...scavenges.map((row) => Number(row.new_space_capacity))) / 1048576} MB · peak RSS ${(peakRssKb / 1024).toFixed(0)} MB`,
  );
  // Whether the promotion is steady (something kept a while on every request) or comes in bursts (a cut, a batch).
  if (process.env.SERIES === '1') console.log(`${''.padEnd(10)} promoted KB per scavenge: ${scavenges.map((row) => (Number(row.promoted) / 1024).toFixed(0)).join(' ')}`);
  if (process.env.PHASES === '1') {
    // Where a scavenge's pause goes: V8's own phase times (ms), those over 0.05 ms on average.
    const phases = Object.keys(scavenges[0] ?? {}).filter((key) => /^(scavenge|semi_space|scavenge\.|weak|evacuate|clear|background)/.test(key));
    const shown = phases.map((key) => [key, mean(scavenges, key)]).filter(([, ms]) => ms >= 0.05);
    console.log(`${''.padEnd(10)} phases: ${shown.map(([key, ms]) => `${key} ${ms.toFixed(2)}`).join(', ')}`);
  }
}

try {
  for (const config of configs) await run(config);
} finally {
  sink.close();
  await abApp.stop();
}
