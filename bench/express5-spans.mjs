// Spans, stored bytes and CPU per request of an Express 5 app under the agent (fixtures/express5-app:
// body parser, middleware, a mounted router with middleware, a two-handler route).
//   node bench/express5-spans.mjs [rounds] [requests per round]
// Each round starts the app with the local store, sends the requests 4 at a time, and reads the app's CPU
// from /proc and the spans written to the store. Reports medians over rounds with a 95% confidence
// interval. Timings on a shared machine are noisy; spans and bytes per request are exact.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { readCpuMs } from './lib/proc.mjs';
import { median } from './lib/stats.mjs';
import { runConcurrently } from '../test/helpers/span-linkage.mjs';
import { fixturePath, spawnApp } from '../test/helpers/spawn-app.mjs';

const rounds = Number(process.argv[2] ?? 5);
const requests = Number(process.argv[3] ?? 400);

/** Distribution-free 95% interval of the median (order statistics), or the range when n is small. */
function medianInterval(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const half = 1.96 * Math.sqrt(n) / 2;
  const lo = Math.max(0, Math.floor(n / 2 - half));
  const hi = Math.min(n - 1, Math.ceil(n / 2 + half) - 1);
  return [sorted[lo], sorted[hi]];
}

const results = [];
for (let round = 0; round < rounds; round++) {
  const app = await spawnApp({ app: fixturePath('express5-app/index.js'), env: { OTEL_BSP_SCHEDULE_DELAY: '200', PYROSCOPE_UPLOAD_INTERVAL: '5s' } });
  // Warm up, then measure.
  await runConcurrently(app, Array.from({ length: 50 }, (_, i) => `/api/users/${i}`), 4);
  await new Promise((resolve) => setTimeout(resolve, 600));
  const serviceDir = path.join(app.storeDir, 'fixture-express5-app');
  const spansBefore = readSpans(serviceDir);
  const cpuBefore = readCpuMs(app.pid);
  await runConcurrently(app, Array.from({ length: requests }, (_, i) => `/api/users/${i}`), 4);
  const cpuAfter = readCpuMs(app.pid);
  await new Promise((resolve) => setTimeout(resolve, 800));
  const spansAfter = readSpans(serviceDir);
  results.push({
    spans: (spansAfter.count - spansBefore.count) / requests,
    bytes: (spansAfter.bytes - spansBefore.bytes) / requests,
    cpuMs: (cpuAfter - cpuBefore) / requests,
  });
  await app.dispose();
}

function readSpans(dir) {
  let count = 0;
  let bytes = 0;
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.spans.jsonl'))) {
    const file = path.join(dir, name);
    bytes += statSync(file).size;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (line === '') continue;
      for (const rs of JSON.parse(line).resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) count += (ss.spans ?? []).length;
    }
  }
  return { count, bytes };
}

const show = (key, digits) => {
  const values = results.map((r) => r[key]);
  const [lo, hi] = medianInterval(values);
  return `${median(values).toFixed(digits)} (95% CI ${lo.toFixed(digits)}-${hi.toFixed(digits)})`;
};
console.log(`${rounds} rounds x ${requests} requests, GET /api/users/:id, 4 in flight (shared machine: CPU is noisy)`);
console.log(`spans per request: ${show('spans', 2)}`);
console.log(`stored span bytes per request: ${show('bytes', 0)}`);
console.log(`app CPU per request: ${show('cpuMs', 3)} ms`);
