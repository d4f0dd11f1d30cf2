// Where CPU goes per request under each config, from V8's --cpu-prof, from the checkout:
//   taskset -c 1 node bench/ab/cpuprof-run.mjs <seconds> <config> ...   (configs as in ab-configs.mjs)
// Each config's app runs on core 0 under the same closed-loop load; after <seconds> it is told to exit
// (SIGUSR2) and its profile is summarised: self time per request by package / file, and the top functions.
// Env: APP, WORK_ITERS, CONNECTIONS as in cpu-ab.mjs; TOP (25); KEEP=dir keeps the .cpuprofile files.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { abConfigs, startAbSink } from './ab-configs.mjs';

const [, , secondsArg = '8', ...specs] = process.argv;
const sink = await startAbSink();
const configs = abConfigs(specs, sink.url);
// Started once the configs are known to be valid: with APP=pg it starts PostgreSQL.
const { abApp: makeAbApp, startAbServer, runAbLoad } = await import('./ab-app.mjs');
const abApp = await makeAbApp();

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
  const server = await startAbServer(abApp, config, env, ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '200']);
  const { completed } = await runAbLoad(abApp, server.port, Number(secondsArg) * 1000, 10);
  server.child.kill('SIGUSR2');
  await server.closed;
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
