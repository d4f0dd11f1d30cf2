// In-process A/B of one part of the running agent (bench/ab/toggle-part.js), from the checkout:
//   APP=http|express|pg taskset -c 1 node bench/ab/toggle-part.mjs binding|heap [seconds=60] [dist=./dist]
// The app (bench/ab/ab-app.mjs) runs under the full agent on core 0, profiles to a local sink every 15 s,
// under closed-loop load (16 connections) from core 1. Prints the median of (CPU/request with the part on) ÷
// (the next phase's, with it off) and its distribution-free 95 % interval.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSink } from '../lib/backends.mjs';
import { cleanEnv } from '../lib/configurations.mjs';
import { medianWithInterval, formatInterval } from '../lib/median-ci.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const [, , toggle, seconds = '60', dist = path.join(here, '../../dist')] = process.argv;
if (toggle !== 'binding' && toggle !== 'heap') {
  console.error('usage: node bench/ab/toggle-part.mjs binding|heap [seconds] [dist]');
  process.exit(2);
}
const abApp = await (await import('./ab-app.mjs')).abApp();
const sink = await startSink();
const env = cleanEnv({
  ...abApp.env,
  TOGGLE: toggle,
  OTEL_LOG_LEVEL: 'none',
  OTEL_SERVICE_NAME: 'bench-app',
  OTEL_NODE_RESOURCE_DETECTORS: 'env,host,os,process,serviceinstance,container',
  OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
  OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
  OTEL_METRICS_EXPORTER: 'none',
  OTEL_LOGS_EXPORTER: 'none',
  PYROSCOPE_SERVER_ADDRESS: sink.url,
  SPAN_PROFILES_DIR: `/tmp/toggle-part-store-${process.pid}`,
});
const app = spawn('taskset', ['-c', '0', process.execPath, '--require', path.resolve(dist, 'register.js'), '--require', path.join(here, 'toggle-part.js'), abApp.script], {
  env,
  stdio: ['ignore', 'pipe', 'inherit'],
  cwd: '/tmp',
});
let out = '';
app.stdout.on('data', (d) => (out += d));
const port = await new Promise((resolve, reject) => {
  app.stdout.on('data', () => {
    const m = /"listening":(\d+)/.exec(out);
    if (m) resolve(Number(m[1]));
  });
  app.on('exit', (code) => reject(new Error(`the app exited (${code})`)));
});
const load = spawn('taskset', ['-c', '1', process.execPath, path.join(here, '../lib/load-client.mjs'), JSON.stringify({ port, connections: 16, paths: abApp.paths, durationMs: Number(seconds) * 1000 })], {
  stdio: ['ignore', 'ignore', 'inherit'],
});
await new Promise((r) => load.on('close', r));
app.kill('SIGUSR2');
let line;
for (let i = 0; i < 50 && !line; i++) {
  await new Promise((r) => setTimeout(r, 20));
  line = out.split('\n').find((l) => l.startsWith('{"toggle"'));
}
app.kill('SIGKILL');
await sink.close();
await abApp.stop();
const { on, off } = JSON.parse(line).toggle;
const ratios = on.slice(0, off.length).map((v, i) => v / off[i]);
console.log(`${process.env.APP ?? 'http'}: ${toggle} on ÷ off, CPU per request: ${formatInterval(medianWithInterval(ratios), 3)} (${ratios.length} pairs of ${process.env.PHASE_MS ?? 1000} ms phases)`);
