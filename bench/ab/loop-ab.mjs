// Interleaved A/B of bench/ab/span-loop.js (request-shaped spans, no HTTP): process CPU time per request.
//   node bench/ab/loop-ab.mjs <pairs> <config> <config> ...   (configs as in cpu-ab.mjs: otel | full:<dist> | noprof:<dist> | bare)
// Each pair runs every config once, the order reversed every other pair, on core CORE (0). Ratios to the
// first config within a pair; median with its 95 % interval. GC_STATS=1 adds V8's collections per request
// (span-loop.js: scavenges, major GCs, pause, bytes promoted to old space) and peak RSS.
import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { medianWithInterval, formatInterval } from '../lib/median-ci.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const [, , pairsArg = '10', ...specs] = process.argv;
const otelRegister = createRequire(path.join(root, 'package.json')).resolve('@opentelemetry/auto-instrumentations-node/register');
const sink = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => res.end('{}'));
});
await new Promise((r) => sink.listen(0, '127.0.0.1', r));
const SINK = `http://127.0.0.1:${sink.address().port}`;
const otelEnv = { OTEL_EXPORTER_OTLP_ENDPOINT: SINK, OTEL_SERVICE_NAME: 'bench-app', OTEL_NODE_RESOURCE_DETECTORS: 'env,host,os,process,serviceinstance,container' };
const oursEnv = { ...otelEnv, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none', PYROSCOPE_SERVER_ADDRESS: SINK };
const configs = specs.map((spec) => {
  const [head, ...vars] = spec.split(',');
  const eq = head.indexOf('=');
  const label = eq > 0 ? head.slice(0, eq) : head;
  const [kind, dist] = (eq > 0 ? head.slice(eq + 1) : head).split(':');
  const extra = Object.fromEntries(vars.map((v) => [v.slice(0, v.indexOf('=')), v.slice(v.indexOf('=') + 1)]));
  if (kind === 'otel') return { label, args: ['--require', otelRegister], env: { ...otelEnv, ...extra } };
  if (kind === 'bare') return { label, args: [], env: extra };
  const env = kind === 'full' ? oursEnv : { ...oursEnv, OTEL_PYROSCOPE_START_PROFILING: 'false' };
  return { label, args: ['--require', path.resolve(dist ?? 'dist', 'register.js')], env: { ...env, ...extra } };
});
let current;
process.on('SIGINT', () => { current?.kill('SIGKILL'); process.exit(1); });
function once(config) {
  const env = { OTEL_LOG_LEVEL: 'none', ...config.env };
  for (const [k, v] of Object.entries(process.env)) if (!/^(OTEL_|DD_|PYROSCOPE_|SPAN_PROFILES_|NODE_OPTIONS$)/.test(k)) env[k] = v;
  const child = spawn('taskset', ['-c', process.env.CORE ?? '0', process.execPath, ...config.args, path.join(here, 'span-loop.js')], { env, stdio: ['ignore', 'pipe', 'inherit'], cwd: root });
  current = child;
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  return new Promise((resolve) => child.on('close', () => resolve(JSON.parse(out.trim().split('\n').pop()))));
}
const results = Object.fromEntries(configs.map((c) => [c.label, []]));
for (let p = 0; p < Number(pairsArg); p++) {
  const round = {};
  for (const c of p % 2 ? [...configs].reverse() : configs) round[c.label] = await once(c);
  for (const c of configs) results[c.label].push({ ...round[c.label], ns: round[c.label].nsPerRequest, ratio: round[c.label].nsPerRequest / round[configs[0].label].nsPerRequest });
  console.error(`pair ${p + 1}: ` + configs.map((c) => `${c.label} ${(round[c.label].nsPerRequest / 1000).toFixed(1)}us`).join(' · '));
}
console.log(`span-loop.js, ${pairsArg} interleaved pairs; ratio to ${configs[0].label} within a pair`);
for (const c of configs) {
  console.log(`${c.label.padEnd(14)} CPU us/request ${formatInterval(medianWithInterval(results[c.label].map((x) => x.ns / 1000)))}  x${configs[0].label} ${formatInterval(medianWithInterval(results[c.label].map((x) => x.ratio)), 3)}`);
  if (results[c.label][0].scavengesPer1k !== undefined) {
    const s = (key, digits = 1) => formatInterval(medianWithInterval(results[c.label].map((x) => x[key])), digits);
    console.log(`${''.padEnd(14)} GC: scavenges/1k req ${s('scavengesPer1k')}  major/1k ${s('majorsPer1k', 2)}  pause us/req ${s('gcUsPerRequest', 2)}  longest ms ${s('maxGcMs', 2)}  promoted B/req ${s('promotedBytesPerRequest', 0)}  peak RSS MB ${s('peakRssMb')}`);
  }
}
sink.close();
process.exit(0);
