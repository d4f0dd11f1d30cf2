// Interleaved A/B of latency at a fixed request rate (open loop), from the checkout:
//   APP=http|express|pg RATE=1000 taskset -c 1 node bench/ab/latency-ab.mjs <rounds> <config> <config> ...
// config as in cpu-ab.mjs ([label=]kind[:dist][,VAR=value...], ab-configs.mjs). Each round starts every config's
// server once (order reversed every other round), warms it up under closed-loop load (WARMUP_S, 2.5), then sends
// RATE requests a second for DURATION_S (10) whatever the answers do (bench/lib/load-client.mjs's open loop: a
// stalled server sees the requests pile up as in production). Per round: p50, p99, p99.9 and the longest
// answer, and each config's p99 minus REF's (default otel when given, else the first) in the same round; the
// medians over rounds with their 95 % intervals. A round whose load client fell behind its schedule by more
// than LAG_MS (2) at its p99 is left out: its latencies are the client's, not the server's.
// The profile upload interval is the agent's default unless a config sets PYROSCOPE_UPLOAD_INTERVAL: at 15 s a
// 10 s window holds at most one cut, at 2 s it holds five.
import path from 'node:path';
import { medianWithInterval, formatInterval } from '../lib/median-ci.mjs';
import { abConfigs, startAbSink, abProcessEnv, AS_IN_THE_BENCH } from './ab-configs.mjs';

const [, , roundsArg = '8', ...specs] = process.argv;
const rounds = Number(roundsArg);
const RATE = Number(process.env.RATE ?? 1000);
const WARMUP_MS = Number(process.env.WARMUP_S ?? 2.5) * 1000;
const DURATION_MS = Number(process.env.DURATION_S ?? 10) * 1000;
const LAG_MS = Number(process.env.LAG_MS ?? 2);

const sink = await startAbSink();
const configs = abConfigs(specs, sink.url, AS_IN_THE_BENCH);
const ref = process.env.REF ?? (configs.some((c) => c.label === 'otel') ? 'otel' : configs[0].label);
const { abApp: makeAbApp, startAbServer, runAbLoad, runAbOpenLoad, stopOnSignals } = await import('./ab-app.mjs');
const abApp = await makeAbApp();

let current;
stopOnSignals(abApp, () => current);

async function once(config) {
  const env = abProcessEnv(config, abApp.env, 'latency-ab');
  const { child, port, closed } = await startAbServer(abApp, config, env);
  current = child;
  try {
    await runAbLoad(abApp, port, WARMUP_MS);
    const r = await runAbOpenLoad(abApp, port, RATE, DURATION_MS);
    return { ...r.latencyMs, lagP99: r.sendLagMs?.p99 ?? 0, unanswered: r.unanswered ?? 0, errors: r.errors, completed: r.completed };
  } finally {
    child.kill('SIGKILL');
    await closed;
  }
}

const results = Object.fromEntries(configs.map((c) => [c.label, []]));
for (let r = 0; r < rounds; r++) {
  const order = r % 2 ? [...configs].reverse() : configs;
  const round = {};
  for (const c of order) round[c.label] = await once(c);
  const line = configs.map((c) => `${c.label} p50 ${round[c.label].p50.toFixed(2)} p99 ${round[c.label].p99.toFixed(2)} max ${round[c.label].max.toFixed(1)} ms (client lag ${round[c.label].lagP99.toFixed(2)})`).join(' · ');
  const late = configs.filter((c) => round[c.label].lagP99 > LAG_MS || round[c.label].unanswered > 0 || round[c.label].errors > 0);
  if (late.length > 0) {
    console.error(`round ${r + 1} left out (${late.map((c) => c.label).join(', ')}: client behind schedule, errors or unanswered): ${line}`);
    continue;
  }
  for (const c of configs) {
    const x = round[c.label];
    x.p99Minus = x.p99 - round[ref].p99;
    results[c.label].push(x);
  }
  console.error(`round ${r + 1}: ${line}`);
}
const stat = (label, key) => medianWithInterval(results[label].map((x) => x[key]));
console.log(`app ${path.basename(abApp.script)} at ${RATE} req/s open loop, ${results[ref].length} of ${rounds} interleaved rounds kept, ${DURATION_MS / 1000} s each; latency in ms, median over rounds [95 % interval]`);
for (const c of configs) {
  console.log(
    `${c.label.padEnd(14)} p50 ${formatInterval(stat(c.label, 'p50'), 2)}  p99 ${formatInterval(stat(c.label, 'p99'), 2)}  p99 - ${ref} ${formatInterval(stat(c.label, 'p99Minus'), 2)}  p99.9 ${formatInterval(stat(c.label, 'p999'), 2)}  max ${formatInterval(stat(c.label, 'max'), 1)}`,
  );
}
sink.close();
await abApp.stop();
process.exit(0);
