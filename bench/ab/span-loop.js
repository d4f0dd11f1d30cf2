'use strict';
// A request-shaped span workload without HTTP, for bench/ab/loop-ab.mjs: CONCURRENCY loops, each
// "request" a local root span crossing awaits, setImmediate, a Promise.all fan-out of four async
// branches and nested child spans (as an instrumented framework makes them), with a little CPU work.
// Prints {"nsPerRequest":N,"requests":M} (process CPU time, all threads, over MEASURE_MS after WARMUP_MS).
const { trace, context, SpanKind } = require('@opentelemetry/api');

const tracer = trace.getTracer('bench-loop');
const WORK = Number(process.env.WORK_ITERS || 2000);
const CONCURRENCY = Number(process.env.CONCURRENCY || 10);
const WARMUP_MS = Number(process.env.WARMUP_MS || 1500);
const MEASURE_MS = Number(process.env.MEASURE_MS || 3000);

function burn(iters) {
  let x = 0;
  for (let i = 0; i < iters; i++) x += Math.sqrt(i ^ (x & 0xff));
  return x;
}
const immediate = () => new Promise((resolve) => setImmediate(resolve));

async function middleware(name) {
  const span = tracer.startSpan(name);
  await context.with(trace.setSpan(context.active(), span), async () => {
    await null;
  });
  span.end();
}

async function branch(k) {
  await null;
  await immediate();
  let v = burn(WORK >> 2);
  for (let i = 0; i < 3; i++) v += await Promise.resolve(i + k);
  return v;
}

async function request(i) {
  return tracer.startActiveSpan('GET', { kind: SpanKind.SERVER, attributes: { 'http.method': 'GET', 'http.target': `/orders/${i}` } }, async (root) => {
    try {
      await middleware('middleware - query');
      await middleware('middleware - jsonParser');
      await immediate();
      const parts = await Promise.all([branch(1), branch(2), branch(3), branch(4)]);
      const total = await tracer.startActiveSpan('price-order', async (span) => {
        try {
          await null;
          return burn(WORK);
        } finally {
          span.end();
        }
      });
      for (let k = 0; k < 5; k++) await null;
      root.updateName('GET /orders/:id');
      return parts.length + total;
    } finally {
      root.end();
    }
  });
}

let measuring = false;
let requests = 0;
async function loop(id) {
  for (let i = 0; ; i++) {
    await request(id * 1e6 + i);
    globalThis.spanLoopRequests = (globalThis.spanLoopRequests ?? 0) + 1; // for toggle-sampler.js
    if (measuring) requests++;
  }
}
for (let c = 0; c < CONCURRENCY; c++) loop(c);
// GC_STATS=1: V8's collections over the measured window (v8.GCProfiler): count, pause and bytes promoted to
// old space by scavenges, per request; and the process's peak RSS.
function gcSummary(statistics) {
  const used = (side, name) => side.heapSpaceStatistics.find((s) => s.spaceName === name)?.spaceUsedSize ?? 0;
  let scavenges = 0, majors = 0, pauseUs = 0, maxPauseUs = 0, promoted = 0;
  for (const gc of statistics) {
    pauseUs += gc.cost;
    maxPauseUs = Math.max(maxPauseUs, gc.cost);
    if (gc.gcType === 'Scavenge' || gc.gcType === 'MinorMarkSweep') {
      scavenges++;
      promoted += Math.max(0, used(gc.afterGC, 'old_space') - used(gc.beforeGC, 'old_space'));
    } else if (gc.gcType === 'MarkSweepCompact') majors++;
  }
  return { scavengesPer1k: (scavenges * 1000) / requests, majorsPer1k: (majors * 1000) / requests, gcUsPerRequest: pauseUs / requests, maxGcMs: maxPauseUs / 1000, promotedBytesPerRequest: promoted / requests, peakRssMb: process.resourceUsage().maxRSS / 1024 };
}
setTimeout(() => {
  measuring = true;
  const start = process.cpuUsage();
  const profiler = process.env.GC_STATS === '1' ? new (require('node:v8').GCProfiler)() : undefined;
  profiler?.start();
  setTimeout(() => {
    const used = process.cpuUsage(start);
    const gc = profiler ? gcSummary(profiler.stop().statistics) : {};
    process.stdout.write(JSON.stringify({ nsPerRequest: ((used.user + used.system) * 1000) / requests, requests, ...gc }) + '\n', () => process.exit(0));
  }, MEASURE_MS);
}, WARMUP_MS);
