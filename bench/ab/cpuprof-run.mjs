// Where CPU goes per request under each config, from V8's --cpu-prof, from the checkout:
//   taskset -c 1 node bench/ab/cpuprof-run.mjs <seconds> <config> ...   (configs as in ab-configs.mjs)
// Each config's app runs on core 0 under the same closed-loop load; after <seconds> it is told to exit
// (SIGUSR2) and its profile is summarised: self time per request by package / file, and the top functions.
// Env: APP, WORK_ITERS, CONNECTIONS as in cpu-ab.mjs; TOP (25); KEEP=dir keeps the .cpuprofile files.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { abConfigs, startAbSink } from './ab-configs.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const [, , secondsArg = '8', ...specs] = process.argv;
const node = process.execPath;
const sink = await startAbSink();
const configs = abConfigs(specs, sink.url);
// Started once the configs are known to be valid: with APP=pg it starts PostgreSQL.
const abApp = await (await import('./ab-app.mjs')).abApp();
const app = abApp.script;

function category(url) {
  if (!url) return '(native/vm)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 13).split('/');
    const pkg = rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
    return `${pkg} ${rest.slice(rest[0].startsWith('@') ? 2 : 1).join('/').replace(/^build\/src\/|^out\/src\//, '')}`;
  }
  if (url.includes('/dist/')) return `ours ${url.slice(url.lastIndexOf('/dist/') + 6)}`;
  if (url.startsWith('node:')) return url;
  return path.basename(url);
}

async function run(config) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cpuprof-'));
  const env = { ...process.env, OTEL_LOG_LEVEL: 'none', WORK_ITERS: process.env.WORK_ITERS ?? '15000', ...abApp.env, ...config.env };
  for (const k of Object.keys(env)) if (/^(DD_|NODE_OPTIONS$)/.test(k)) delete env[k];
  const child = spawn('taskset', ['-c', '0', node, '--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '200', ...config.args, app], { env, stdio: ['ignore', 'pipe', 'inherit'], cwd: '/tmp' });
  const port = await new Promise((resolve) => child.stdout.on('data', (d) => { const m = /"listening":(\d+)/.exec(String(d)); if (m) resolve(Number(m[1])); }));
  const options = JSON.stringify({ port, connections: Number(process.env.CONNECTIONS ?? 10), paths: abApp.paths, durationMs: Number(secondsArg) * 1000 });
  const loader = spawn('taskset', ['-c', '1', node, path.join(root, 'bench/lib/load-client.mjs'), options], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  loader.stdout.on('data', (d) => (out += d));
  await new Promise((r) => loader.on('close', r));
  const completed = JSON.parse(out).completed;
  child.kill('SIGUSR2');
  await new Promise((r) => child.on('close', r));
  const file = fs.readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  const profile = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
  if (process.env.KEEP) fs.copyFileSync(path.join(dir, file), path.join(process.env.KEEP, `${config.label.replace(/[^\w.-]/g, '_')}.cpuprofile`));
  fs.rmSync(dir, { recursive: true });
  // Only the load window: samples after the first third of the run (start-up and warm-up excluded).
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  let t = profile.startTime;
  const from = profile.startTime + (profile.endTime - profile.startTime) / 3;
  let windowUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i];
    const d = profile.timeDeltas[i + 1] ?? 0;
    if (t < from) continue;
    const n = byId.get(profile.samples[i]);
    const key = `${n.callFrame.functionName || '(anon)'}\t${category(n.callFrame.url)}`;
    selfUs.set(key, (selfUs.get(key) ?? 0) + d);
    windowUs += d;
  }
  const requests = (completed * (profile.endTime - from)) / (profile.endTime - profile.startTime);
  return { completed, requests, selfUs, windowUs };
}

for (const config of configs) {
  const { completed, requests, selfUs, windowUs } = await run(config);
  const perReq = (us) => (us / requests).toFixed(2);
  const byCat = new Map();
  for (const [key, us] of selfUs) {
    const cat = key.split('\t')[1].split(' ')[0];
    byCat.set(cat, (byCat.get(cat) ?? 0) + us);
  }
  console.log(`\n== ${config.label}: ${completed} requests, profile window ~${requests.toFixed(0)} requests, ${perReq(windowUs)} us/req sampled (incl. idle)`);
  console.log('by package (self us/req):', [...byCat].sort((a, b) => b[1] - a[1]).slice(0, 18).map(([k, v]) => `${k} ${perReq(v)}`).join(' · '));
  for (const [key, us] of [...selfUs].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 25))) console.log(`  ${perReq(us).padStart(7)}  ${key}`);
}
sink.close();
await abApp.stop();
process.exit(0);
