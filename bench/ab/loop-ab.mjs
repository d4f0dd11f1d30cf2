// Interleaved A/B of bench/ab/span-loop.js (request-shaped spans, no HTTP): process CPU time per request.
//   node bench/ab/loop-ab.mjs <pairs> <config> <config> ...   (configs as in ab-configs.mjs: otel | full:<dist> | noprof:<dist> | bare)
// Each pair runs every config once, the order reversed every other pair, on core CORE (0). Ratios to the
// first config within a pair; median with its 95 % interval. GC_STATS=1 adds V8's collections per request
// (span-loop.js: scavenges, major GCs, pause, bytes promoted to old space) and peak RSS.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { medianWithInterval, formatInterval } from '../lib/median-ci.mjs';
import { abConfigs, startAbSink } from './ab-configs.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const [, , pairsArg = '10', ...specs] = process.argv;
const sink = await startAbSink();
const configs = abConfigs(specs, sink.url);
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
