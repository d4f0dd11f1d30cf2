#!/usr/bin/env node
// `node bench/otlp-profiles-size.mjs [--runs N] [--seconds S]` (after `npm run build`)
//
// The size and CPU cost of one OTLP profiles upload next to the pprof upload of the same cut. One real
// @datadog/pprof time profile is taken in this process (work spread over 200 span label sets, labelled
// as the agent labels samples, 1 ms sampling: S seconds give about as many ticks as a busy 15 s cut at
// the default 10 ms times S/1.5), then each encoding is run N times, interleaved, on that same raw cut:
//   pprof        buildProfilesOfCut (merged, gzipped): what the Pyroscope exporter sends
//   pprof+times  the same keeping each sample's time (the store's shape)
//   otlp         buildOtlpProfiles + protobuf: what OTEL_PROFILES_EXPORTER=otlp sends by default
//   otlp+gzip    the same with OTEL_EXPORTER_OTLP_PROFILES_COMPRESSION=gzip
//   otlp-json    http/json
// CPU is process.cpuUsage() around each encoding (user + system); reported as the median with a 95 %
// confidence interval (order statistics). A measurement, nothing passes or fails.
import { createRequire } from 'node:module';
import { AsyncLocalStorage } from 'node:async_hooks';
import { parseArgs } from 'node:util';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import os from 'node:os';

const require = createRequire(import.meta.url);
const { buildProfilesOfCut } = require('../dist/profiler/profile-builder.js');
const { buildOtlpProfiles, encodeOtlpProfilesJson, encodeOtlpProfilesProtobuf } = require('../dist/export/otlp-profiles-encoder.js');
const { SAMPLE_TIME_LABEL } = require('../dist/profile-format.js');
const { readConfig } = require('../dist/config/index.js');
const { buildResource } = require('../dist/tracing/resource.js');
const { time } = require('@datadog/pprof');
const { isAsyncContextFrameActive } = require('@datadog/pprof/out/src/async-context-frame');
const gzip = promisify(zlib.gzip);

const { values } = parseArgs({ options: { runs: { type: 'string', default: '31' }, seconds: { type: 'string', default: '3' } } });
const RUNS = Number(values.runs);
const SECONDS = Number(values.seconds);

// Varied work so the profile has many distinct stacks, as an app's does.
const work = [
  function parseOrders(n) {
    let t = 0;
    for (let i = 0; i < n; i++) t += JSON.parse(JSON.stringify({ id: i, lines: [i, i + 1, { q: i % 7 }] })).lines.length;
    return t;
  },
  function matchRoutes(n) {
    let t = 0;
    const re = /^\/(users|orders)\/(\d+)(?:\/(\w+))?$/;
    for (let i = 0; i < n; i++) t += re.exec(`/orders/${i}/lines`) ? 1 : 0;
    return t;
  },
  function sortPrices(n) {
    const a = Array.from({ length: n }, (_, i) => (i * 7919) % 1000);
    return a.sort((x, y) => x - y)[0];
  },
  function renderPage(n) {
    let s = '';
    for (let i = 0; i < n; i++) s += `<li>${i.toString(16)}</li>`;
    return s.length;
  },
];
function handleRequest(k, n) {
  return work[k % work.length](n) + (k % 3 === 0 ? work[(k + 1) % work.length](n >> 1) : 0);
}
// Middleware-like layers: each request passes through the ones its number picks, so stacks differ in depth and path.
const layers = [
  function authenticate(k, n, next) { return next(k, n); },
  function parseBody(k, n, next) { return next(k, n); },
  function rateLimit(k, n, next) { return next(k, n); },
  function loadSession(k, n, next) { return next(k, n); },
  function tracingMiddleware(k, n, next) { return next(k, n); },
];
function dispatch(k, n) {
  let next = handleRequest;
  for (let b = 0; b < layers.length; b++) {
    if ((k >> b) & 1) {
      const layer = layers[b];
      const inner = next;
      next = (kk, nn) => layer(kk, nn, inner);
    }
  }
  return next(k, n);
}

function profile() {
  const useCPED = isAsyncContextFrameActive();
  const als = new AsyncLocalStorage();
  const spans = Array.from({ length: 200 }, (_, i) => ({
    span_id: (0x1000000000000000n + BigInt(i) * 7919n).toString(16),
    trace_id: (0x10000000000000000000000000000000n + BigInt(i) * 104729n).toString(16),
    span_name: ['GET /users/:id', 'GET /orders/:orderId', 'POST /checkout', 'GET /health'][i % 4],
  }));
  const startMs = Date.now();
  time.start({ intervalMicros: 1000, durationMillis: SECONDS * 1000 + 5000, withContexts: true, collectCpuTime: true, useCPED, lineNumbers: false });
  let raw;
  try {
    for (let i = 0; Date.now() - startMs < SECONDS * 1000; i++) {
      const labels = spans[i % spans.length];
      const run = () => dispatch(i, 2000);
      if (useCPED) als.run(labels, () => (time.setContext(labels), run()));
      else (time.setContext(labels), run(), time.setContext({}));
    }
  } finally {
    raw = time.stop(false, ({ context }) => {
      const t = context?.timestamp === undefined ? {} : { [SAMPLE_TIME_LABEL]: Number(context.timestamp) * 1000 };
      return { ...(context?.context ?? {}), ...t };
    });
  }
  return { raw, startMs, endMs: Date.now(), intervalMicros: 1000, wall: false };
}

function cpuMs(start) {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}

/** Median and its 95 % confidence interval from order statistics (normal approximation). */
function medianCi(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const n = s.length;
  const half = 1.96 * Math.sqrt(n) / 2;
  const lo = Math.max(0, Math.floor(n / 2 - half));
  const hi = Math.min(n - 1, Math.ceil(n / 2 + half) - 1);
  const median = n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  return { median, lo: s[lo], hi: s[hi] };
}

const cut = profile();
const resource = buildResource(readConfig({}).config);
await resource.waitForAsyncAttributes?.();
const context = { resourceAttributes: { ...resource.attributes }, scopeName: '@acme/span-profiles', scopeVersion: '0.1.0' };

const encodings = {
  pprof: async () => (await buildProfilesOfCut(cut)).reduce((t, p) => t + p.data.length, 0),
  'pprof+times': async () => (await buildProfilesOfCut(cut, { keepSampleTimes: true })).reduce((t, p) => t + p.data.length, 0),
  otlp: async () => encodeOtlpProfilesProtobuf(await buildOtlpProfiles(cut, context)).length,
  'otlp+gzip': async () => (await gzip(encodeOtlpProfilesProtobuf(await buildOtlpProfiles(cut, context)))).length,
  'otlp-json': async () => Buffer.byteLength(encodeOtlpProfilesJson(await buildOtlpProfiles(cut, context))),
};
const sizes = {};
const cpu = Object.fromEntries(Object.keys(encodings).map((k) => [k, []]));
for (const [name, run] of Object.entries(encodings)) sizes[name] = await run(); // warm-up, and the size
for (let r = 0; r < RUNS; r++) {
  // Interleaved, rotating the order, so drift on a shared machine hits every encoding alike.
  const names = Object.keys(encodings);
  for (let i = 0; i < names.length; i++) {
    const name = names[(i + r) % names.length];
    const start = process.cpuUsage();
    await encodings[name]();
    cpu[name].push(cpuMs(start));
  }
}

const ticks = cut.raw.sample.reduce((t, s) => t + Number(s.value[0]), 0);
const request = await buildOtlpProfiles(cut, context);
console.log(`Node ${process.versions.node}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), shared with other work; ${RUNS} runs each, interleaved`);
console.log(`one cut: ${cut.raw.sample.length} raw samples (${ticks} ticks) over ${cut.endMs - cut.startMs} ms, 200 spans; ` +
  `OTLP: ${request.sampleCount} samples, ${request.stacks.length - 1} stacks, ${request.locations.length - 1} locations, ${request.strings.length} strings, ` +
  `${Object.keys(context.resourceAttributes).length} resource attributes`);
console.log('encoding      bytes      CPU ms median [95% CI]');
for (const name of Object.keys(encodings)) {
  const { median, lo, hi } = medianCi(cpu[name]);
  console.log(`${name.padEnd(12)} ${String(sizes[name]).padStart(8)}   ${median.toFixed(2)} [${lo.toFixed(2)}, ${hi.toFixed(2)}]`);
}
