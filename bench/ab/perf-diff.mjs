// Where one config's extra CPU per request goes, by function, from Linux perf (needs `perf`; run as root):
//   APP=http|express|pg taskset -c 1 node bench/ab/perf-diff.mjs <seconds> <config> <config> ...
// config: [label=]kind[:dist][,VAR=value...] as in ab-configs.mjs. Each config's app runs once on core 0 with
// --perf-basic-prof-only-functions (JavaScript frames named) under closed-loop load (CONNECTIONS, default 16)
// from core 1; after 3.5 s of warm-up, `perf record -F 1999 -g` samples it for <seconds>. Then, for every config
// after the first: samples per 1,000 requests by symbol (DSO + function, JavaScript frames without their tier
// marks, the dist path folded), the symbols that grew most and shrank most against the first config.
// One process per config: JIT decisions differ from process to process (a hot app function can move by 5 % of
// its samples between two runs of one config), so repeat before reading a difference into one symbol; what
// is steady from run to run is the total per request. perf.data files stay in OUT (default /tmp/perf-diff).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { AS_IN_THE_BENCH, abConfigs, startAbSink, withoutAgentEnv } from './ab-configs.mjs';

const [, , secondsArg = '10', ...specs] = process.argv;
const seconds = Number(secondsArg);
const outDir = process.env.OUT ?? '/tmp/perf-diff';
const TOP = Number(process.env.TOP ?? 25);
if (spawnSync('perf', ['--version']).status !== 0) throw new Error('perf is not installed (Debian: apt-get install linux-perf)');
const sink = await startAbSink();
const configs = abConfigs(specs, sink.url, AS_IN_THE_BENCH);
// Started once the configs are known to be valid: with APP=pg it starts PostgreSQL.
const { abApp: makeAbApp, startAbServer, runAbLoad } = await import('./ab-app.mjs');
const abApp = await makeAbApp();
fs.mkdirSync(outDir, { recursive: true });

/** Records one config; resolves to { label, requests, samples: Map<symbol, count> }. */
async function record(config) {
  const env = { ...withoutAgentEnv(), WORK_ITERS: process.env.WORK_ITERS ?? '15000', ...abApp.env, ...config.env };
  const server = await startAbServer(abApp, config, env, ['--perf-basic-prof-only-functions']);
  const load = runAbLoad(abApp, server.port, (seconds + 5) * 1000);
  await new Promise((resolve) => setTimeout(resolve, 3500));
  const data = path.join(outDir, `perf-${config.label}.data`);
  spawnSync('perf', ['record', '-F', '1999', '-g', '-p', String(server.child.pid), '-o', data, '--', 'sleep', String(seconds)], { stdio: 'ignore' });
  const { completed } = await load;
  server.child.kill('SIGKILL');
  await server.closed;
  // Requests in the recorded window, assuming a steady rate over the load's run.
  const requests = (completed * seconds) / (seconds + 5);
  const report = spawnSync('perf', ['report', '-i', data, '--no-children', '--sort', 'dso,sym', '-g', 'none', '-n', '--stdio'], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const samples = new Map();
  for (const line of report.stdout.split('\n')) {
    const m = /^\s*[\d.]+%\s+(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const symbol = m[2]
      .replace(/\s+/g, ' ')
      .replace(/\[JIT\] tid \d+/, '[JIT]')
      .replace(/JS:[*+~^']+/, 'JS:')
      .replace(/\S*\/dist\//, 'dist/')
      .trim();
    samples.set(symbol, (samples.get(symbol) ?? 0) + Number(m[1]));
  }
  return { label: config.label, requests, samples };
}

try {
  const runs = [];
  for (const config of configs) runs.push(await record(config));
  const perK = (run) => new Map([...run.samples].map(([symbol, n]) => [symbol, (n * 1000) / run.requests]));
  const total = (m) => [...m.values()].reduce((a, b) => a + b, 0);
  const base = perK(runs[0]);
  for (const run of runs.slice(1)) {
    const other = perK(run);
    console.log(`\n${run.label} against ${runs[0].label}: ${total(other).toFixed(0)} against ${total(base).toFixed(0)} samples per 1,000 requests (${((total(other) / total(base) - 1) * 100).toFixed(1)} %)`);
    const rows = [...new Set([...base.keys(), ...other.keys()])].map((s) => [s, (other.get(s) ?? 0) - (base.get(s) ?? 0), other.get(s) ?? 0, base.get(s) ?? 0]);
    rows.sort((a, b) => b[1] - a[1]);
    const show = ([symbol, diff, a, b]) => console.log(`${diff.toFixed(1).padStart(8)} ${a.toFixed(1).padStart(8)} ${b.toFixed(1).padStart(8)}  ${symbol.slice(0, 110)}`);
    console.log('    diff     this    first  (samples per 1,000 requests; 1999 Hz)');
    rows.slice(0, TOP).forEach(show);
    console.log('     ...');
    rows.slice(-Math.min(8, Math.max(0, rows.length - TOP))).forEach(show);
  }
} finally {
  sink.close();
  await abApp.stop();
}
