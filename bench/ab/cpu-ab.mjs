// Interleaved A/B of server CPU time per request (utime+stime from /proc; the system part shown too), from the checkout:
//   taskset -c 1 node bench/ab/cpu-ab.mjs <rounds> <config> <config> ...
// config: [label=]kind[:dist][,VAR=value...], kind bare | otel | full | noprof (ab-configs.mjs says what each runs)
// A round in which any server was less than MIN_BUSY (0.85) busy on its core is left out (contention).
// Env: APP=http|express|pg (bench/ab/ab-app.mjs), WORK_ITERS (15000), CONNECTIONS (10),
//   WARMUP_S (2), DURATION_S (5), REF (label the ratios are to; default otel when given, else the first),
//   THREADS=1 (the server's CPU per request by thread: main thread, V8's profiler thread, V8's and libuv's workers),
//   GC=1 (bench/ab/gc-probe.js: V8 GCs during the measured load, per 1,000 requests: minor/major count, pause ms, longest).
// The app runs on core 0 (taskset -c 0); the sink, this script and the load client share core 1. Each round
// runs every config once, the order reversed every other round; the ratio to REF is taken within a round.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { medianWithInterval, formatInterval } from '../lib/median-ci.mjs';
import { abConfigs, startAbSink, abProcessEnv } from './ab-configs.mjs';
import { readCpuTimesMs, readMemory, readThreadCpuMs } from '../lib/proc.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const [, , roundsArg = '6', ...specs] = process.argv;
const rounds = Number(roundsArg);

const sink = await startAbSink();
const configs = abConfigs(specs, sink.url);
// Started once the configs are known to be valid: with APP=pg it starts PostgreSQL.
const { abApp: makeAbApp, startAbServer, runAbLoad, stopOnSignals } = await import('./ab-app.mjs');
const abApp = await makeAbApp();
const load = (port, durationMs) => runAbLoad(abApp, port, durationMs, 10);

let current;
stopOnSignals(abApp, () => current);

async function once(config) {
  const env = abProcessEnv(config, abApp.env, 'cpu-ab');
  const gcOut = `/tmp/cpu-ab-gc-${process.pid}.json`;
  const probe = process.env.GC === '1' ? ['--require', path.join(here, 'gc-probe.js')] : [];
  const { child, port } = await startAbServer(abApp, config, { ...env, GC_OUT: gcOut }, probe);
  current = child;
  await load(port, Number(process.env.WARMUP_S ?? 2) * 1000);
  if (probe.length > 0) child.kill('SIGUSR1');
  const threads0 = process.env.THREADS === '1' ? readThreadCpuMs(child.pid) : undefined;
  const cpu0 = readCpuTimesMs(child.pid);
  const t0 = performance.now();
  const result = await load(port, Number(process.env.DURATION_S ?? 5) * 1000);
  const cpu1 = readCpuTimesMs(child.pid);
  const threads1 = threads0 === undefined ? undefined : readThreadCpuMs(child.pid);
  let gc;
  if (probe.length > 0) {
    child.kill('SIGUSR1');
    for (let i = 0; i < 50 && gc === undefined; i++) {
      await new Promise((r) => setTimeout(r, 20));
      try {
        gc = JSON.parse(fs.readFileSync(gcOut, 'utf8'));
        fs.rmSync(gcOut);
      } catch {}
    }
  }
  const cpuMs = cpu1.user + cpu1.system - cpu0.user - cpu0.system;
  const busy = cpuMs / (performance.now() - t0);
  const mem = readMemory(child.pid);
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await new Promise((r) => child.once('close', r));
  }
  const per1k = 1000 / result.completed;
  const gcFields = gc === undefined ? {} : { minorPer1k: gc.minor.count * per1k, majorPer1k: (gc.major.count + gc.incremental.count) * per1k, gcMsPer1k: (gc.minor.ms + gc.major.ms + gc.incremental.ms + gc.weakcb.ms) * per1k, gcMaxMs: Math.max(gc.minor.maxMs, gc.major.maxMs, gc.incremental.maxMs), majorMaxMs: gc.major.maxMs };
  const threadFields = {};
  if (threads1 !== undefined) for (const [name, ms] of Object.entries(threads1)) threadFields[`thread ${name}`] = ((ms - (threads0[name] ?? 0)) * 1000) / result.completed;
  return { ...threadFields, busy, cpuUs: (cpuMs * 1000) / result.completed, sysUs: ((cpu1.system - cpu0.system) * 1000) / result.completed, rps: result.requestsPerSecond, errors: result.errors, peakMb: mem.peakRssKb / 1024, p99: result.latencyMs.p99, ...gcFields };
}

const results = Object.fromEntries(configs.map((c) => [c.label, []]));
const MIN_BUSY = Number(process.env.MIN_BUSY ?? 0.85);
const ref = process.env.REF ?? (results.otel ? 'otel' : configs[0].label);
for (let r = 0; r < rounds; r++) {
  const order = r % 2 ? [...configs].reverse() : configs;
  const round = {};
  for (const c of order) round[c.label] = await once(c);
  // A server that got less than MIN_BUSY of its core (another process pinned there) is not comparable:
  // its CPU per request inflates with the contention. Such a round is reported and left out.
  const starved = configs.filter((c) => !(round[c.label].busy >= MIN_BUSY && round[c.label].errors === 0));
  const line = configs.map((c) => `${c.label} ${round[c.label].cpuUs.toFixed(1)}us ${round[c.label].rps.toFixed(0)}/s x${(round[c.label].cpuUs / round[ref].cpuUs).toFixed(3)} busy ${(round[c.label].busy * 100).toFixed(0)}%`).join(' · ');
  if (starved.length > 0) {
    console.error(`round ${r + 1} left out (${starved.map((c) => c.label).join(', ')} under ${MIN_BUSY * 100} % busy): ${line}`);
    continue;
  }
  for (const c of configs) {
    const x = round[c.label];
    x.ratio = x.cpuUs / round[ref].cpuUs;
    results[c.label].push(x);
  }
  console.error(`round ${r + 1}: ${line}`);
}
const stat = (label, key) => medianWithInterval(results[label].map((x) => x[key]));
console.log(`app ${path.basename(abApp.script)}, ${results[ref].length} of ${rounds} interleaved rounds kept (server >= ${MIN_BUSY * 100} % busy), ${process.env.DURATION_S ?? 5} s each, ratio = CPU/request / ${ref} in the same round`);
for (const c of configs) {
  console.log(
    `${c.label.padEnd(14)} CPU us/req ${formatInterval(stat(c.label, 'cpuUs'))} (system ${formatInterval(stat(c.label, 'sysUs'))})  x${ref} ${formatInterval(stat(c.label, 'ratio'), 3)}  req/s ${formatInterval(stat(c.label, 'rps'), 0)}  peak RSS MB ${formatInterval(stat(c.label, 'peakMb'))}  p99 ms ${formatInterval(stat(c.label, 'p99'), 2)}  errors ${results[c.label].reduce((s, x) => s + x.errors, 0)}`,
  );
  if (process.env.THREADS === '1') {
    const names = [...new Set(results[c.label].flatMap((x) => Object.keys(x).filter((k) => k.startsWith('thread '))))];
    const per = names.map((k) => `${k.slice(7)} ${formatInterval(medianWithInterval(results[c.label].map((x) => x[k] ?? 0)), 1)}`);
    console.log(`${''.padEnd(14)} CPU us/req by thread: ${per.join('  ')}`);
  }
  if (process.env.GC === '1' && results[c.label].every((x) => x.minorPer1k !== undefined)) {
    console.log(
      `${''.padEnd(14)} GC per 1k req: minor ${formatInterval(stat(c.label, 'minorPer1k'))}  major ${formatInterval(stat(c.label, 'majorPer1k'), 2)}  pause ms ${formatInterval(stat(c.label, 'gcMsPer1k'))}  longest pause ms ${formatInterval(stat(c.label, 'gcMaxMs'), 2)}  longest major ms ${formatInterval(stat(c.label, 'majorMaxMs'), 2)}`,
    );
  }
}
sink.close();
await abApp.stop();
process.exit(0);
