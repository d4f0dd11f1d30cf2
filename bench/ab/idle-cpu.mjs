// What an idle app costs under each config: after a short load (so what the first requests load is loaded and
// compiled), the app sits idle; its CPU per second of idling, by thread (schedstat, exact), interleaved rounds.
//   APP=http taskset -c 1 node bench/ab/idle-cpu.mjs <rounds> <config> <config> ...
// config as in cpu-ab.mjs ([label=]kind[:dist][,VAR=value...], kinds bare | otel | full | noprof).
// Env: IDLE_S (10) seconds measured, SETTLE_S (3) seconds after the load before measuring.
import path from 'node:path';
import { medianWithInterval, formatInterval } from '../lib/median-ci.mjs';
import { abConfigs, startAbSink, abProcessEnv } from './ab-configs.mjs';
import { readThreadCpuMs } from '../lib/proc.mjs';

const [, , roundsArg = '3', ...specs] = process.argv;
const sink = await startAbSink();
const configs = abConfigs(specs, sink.url);
const { abApp: makeAbApp, startAbServer, runAbLoad } = await import('./ab-app.mjs');
const abApp = await makeAbApp();
const idleS = Number(process.env.IDLE_S ?? 10);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function once(config) {
  const env = abProcessEnv(config, abApp.env, 'idle-cpu');
  const { child, port, closed } = await startAbServer(abApp, config, env);
  await runAbLoad(abApp, port, 1000, 4);
  await sleep(Number(process.env.SETTLE_S ?? 3) * 1000);
  const before = readThreadCpuMs(child.pid);
  await sleep(idleS * 1000);
  const after = readThreadCpuMs(child.pid);
  child.kill('SIGKILL');
  await closed;
  const perSecond = {};
  let total = 0;
  for (const [name, ms] of Object.entries(after)) {
    const used = (ms - (before[name] ?? 0)) / idleS;
    total += used;
    if (used > 0.005) perSecond[name] = used;
  }
  return { total, perSecond };
}

const results = Object.fromEntries(configs.map((c) => [c.label, []]));
for (let r = 0; r < Number(roundsArg); r++) {
  for (const c of r % 2 ? [...configs].reverse() : configs) results[c.label].push(await once(c));
  console.error(`round ${r + 1}: ${configs.map((c) => `${c.label} ${results[c.label].at(-1).total.toFixed(2)} ms/s`).join(' · ')}`);
}
console.log(`app ${path.basename(abApp.script)} idle, ${idleS} s per run, CPU ms per second of idling (1 % of a core = 10 ms/s)`);
for (const c of configs) {
  const runs = results[c.label];
  const names = [...new Set(runs.flatMap((x) => Object.keys(x.perSecond)))];
  const byThread = names.map((n) => `${n} ${formatInterval(medianWithInterval(runs.map((x) => x.perSecond[n] ?? 0)), 2)}`).join('  ');
  console.log(`${c.label.padEnd(10)} ${formatInterval(medianWithInterval(runs.map((x) => x.total)), 2)}  by thread: ${byThread}`);
}
sink.close();
await abApp.stop();
process.exit(0);
