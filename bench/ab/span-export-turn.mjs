// The span pipeline alone, in one process, two builds alternating: each build's own span processors
// (dist/tracing/span-processors.js, as the agent builds them for OTEL_TRACES_EXPORTER=EXPORTER) under a real
// TracerProvider, fed request-shaped spans (an HTTP server span with 16 attributes and three children),
// exported to a loopback OTLP sink or a temporary store.
//   node bench/ab/span-export-turn.mjs <rounds> <distA> <distB> ...     Env: EXPORTER=otlp|store, REQUESTS (5000)
// Per round and build: main-thread CPU per span (process.threadCpuUsage: the encoding and the export's
// synchronous part; zstd on the thread pool is not in it), the process's CPU per span up to the last export's
// end (all threads), the longest `end()` of a request (the turn
// in which a full batch is handed to the exporter) and the median of the N longest (N = batches exported:
// the batch turns, robust to a preemption hitting one of them), and V8's GCs (scavenges, promoted bytes).
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { medianWithInterval, formatInterval } from '../lib/median-ci.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(path.join(root, 'package.json'));
const { TracerProvider } = require('@opentelemetry/sdk-trace');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { SpanKind, ROOT_CONTEXT, trace } = require('@opentelemetry/api');

const [, , roundsArg = '6', ...dists] = process.argv;
const EXPORTER = process.env.EXPORTER ?? 'otlp';
const REQUESTS = Number(process.env.REQUESTS ?? 5000);
let received = 0;
const sink = http.createServer((req, res) => {
  req.on('data', (d) => (received += d.length));
  req.on('end', () => res.end());
});
await new Promise((r) => sink.listen(0, '127.0.0.1', r));
process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${sink.address().port}`;
const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'span-export-turn-'));

const attributes = {
  'http.url': 'http://127.0.0.1:3000/orders/7', 'http.host': '127.0.0.1:3000', 'net.host.name': '127.0.0.1', 'http.method': 'GET', 'http.scheme': 'http',
  'http.target': '/orders/7', 'http.user_agent': 'load-client', 'http.flavor': '1.1', 'net.transport': 'ip_tcp', 'net.host.ip': '127.0.0.1', 'net.host.port': 3000,
  'net.peer.ip': '127.0.0.1', 'net.peer.port': 55555, 'http.status_code': 200, 'http.status_text': 'OK', 'pyroscope.profile.id': '0123456789abcdef',
};
const resource = resourceFromAttributes({ 'service.name': 'bench', 'host.name': os.hostname(), 'process.pid': process.pid, 'process.runtime.name': 'nodejs' });
const config = {
  serviceName: 'bench',
  store: { dir: storeDir, maxBytes: 64 * 1024 * 1024 },
  traces: { exporters: [EXPORTER], otlpProtocol: 'http/protobuf', batch: { scheduledDelayMillis: 5000, exportTimeoutMillis: 30000, maxQueueSize: 2048, maxExportBatchSize: 512 } },
};

async function once(dist) {
  const { buildSpanProcessors } = require(path.resolve(dist, 'tracing/span-processors.js'));
  const provider = new TracerProvider({ resource, spanProcessors: buildSpanProcessors(config) });
  const http = provider.getTracer('@opentelemetry/instrumentation-http', '0.300.0');
  const express = provider.getTracer('@opentelemetry/instrumentation-express', '0.60.0');
  const turns = [];
  const gc = new v8.GCProfiler();
  gc.start();
  const cpu0 = process.threadCpuUsage();
  const processCpu0 = process.cpuUsage();
  for (let i = 0; i < REQUESTS; i++) {
    const rootSpan = http.startSpan('GET /orders/:id', { kind: SpanKind.SERVER, attributes }, ROOT_CONTEXT);
    const ctx = trace.setSpan(ROOT_CONTEXT, rootSpan);
    const children = [0, 1, 2].map((k) => express.startSpan(`middleware - ${k}`, { attributes: { 'express.type': 'middleware', 'express.name': `m${k}` } }, ctx));
    await new Promise((r) => setImmediate(r));
    const t0 = performance.now();
    for (const child of children) child.end();
    rootSpan.end();
    turns.push(performance.now() - t0);
  }
  const cpu = process.threadCpuUsage(cpu0);
  const stats = gc.stop().statistics;
  await provider.shutdown();
  const processCpu = process.cpuUsage(processCpu0);
  const spans = REQUESTS * 4;
  const batches = Math.floor(spans / 512);
  turns.sort((a, b) => b - a);
  if (process.env.TOP) console.error(dist, turns.slice(0, Number(process.env.TOP)).map((t) => t.toFixed(2)).join(" "));
  const old = (side) => side.heapSpaceStatistics.find((s) => s.spaceName === 'old_space').spaceUsedSize;
  const scavenges = stats.filter((s) => s.gcType === 'Scavenge');
  return {
    nsPerSpan: ((cpu.user + cpu.system) * 1000) / spans,
    processNsPerSpan: ((processCpu.user + processCpu.system) * 1000) / spans,
    longestMs: turns[0],
    batchTurnMs: turns[Math.floor(batches / 2)],
    scavengesPer1kSpans: (scavenges.length * 1000) / spans,
    promotedPerSpan: scavenges.reduce((sum, s) => sum + Math.max(0, old(s.afterGC) - old(s.beforeGC)), 0) / spans,
    gcUsPerSpan: stats.reduce((sum, s) => sum + s.cost, 0) / spans,
  };
}

const results = Object.fromEntries(dists.map((d) => [d, []]));
for (let r = -1; r < Number(roundsArg); r++) {
  for (const d of r % 2 ? [...dists].reverse() : dists) {
    const x = await once(d);
    if (r >= 0) results[d].push(x);
  }
}
const f = (d, key, digits = 2) => formatInterval(medianWithInterval(results[d].map((x) => x[key])), digits);
console.log(`EXPORTER=${EXPORTER}, ${roundsArg} interleaved rounds of ${REQUESTS} requests (4 spans each), one process`);
for (const d of dists) {
  console.log(`${d.padEnd(20)} CPU ns/span ${f(d, 'nsPerSpan', 0)}  with the thread pool, to the last export ${f(d, 'processNsPerSpan', 0)}  batch turn ms ${f(d, 'batchTurnMs')}  longest turn ms ${f(d, 'longestMs')}  scavenges/1k spans ${f(d, 'scavengesPer1kSpans')}  promoted B/span ${f(d, 'promotedPerSpan', 0)}  GC us/span ${f(d, 'gcUsPerSpan')}`);
}
sink.close();
fs.rmSync(storeDir, { recursive: true, force: true });
process.exit(0);
