// Builds local-store contents for the store and CLI tests, through the store's own writers: real spans
// from the OpenTelemetry SDK, and CPU profiles built with pprof-format directly (labels span_id,
// trace_id, span_name as the agent writes them).
import { createRequire } from 'node:module';
import { gzipSync } from 'node:zlib';

const require = createRequire(import.meta.url);
const { Profile, StringTable, ValueType, Sample, Label, Location, Line, Function: PprofFunction } = require('pprof-format');
const { TracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { context, trace } = require('@opentelemetry/api');
const { ProfileStoreExporter } = require('../../dist/store/write/profile-store-exporter.js');
const { SpanStoreExporter } = require('../../dist/store/write/span-store-exporter.js');

/**
 * Finished spans. `defs`: [{ name, startMs, durationMs, children?: [{ name, startMs, durationMs }] }];
 * roots get pyroscope.profile.id = their span id, as the agent sets it.
 */
export async function makeSpans(service, defs) {
  const memory = new InMemorySpanExporter();
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    spanProcessors: [new SimpleSpanProcessor({ exporter: memory })],
  });
  const tracer = provider.getTracer('store-fixtures');
  for (const def of defs) {
    const root = tracer.startSpan(def.name, { startTime: def.startMs, kind: 1, attributes: { 'http.route': def.name } }, context.active());
    root.setAttribute('pyroscope.profile.id', root.spanContext().spanId);
    for (const child of def.children ?? []) {
      const span = tracer.startSpan(child.name, { startTime: child.startMs, kind: 2 }, trace.setSpan(context.active(), root));
      span.end(child.startMs + child.durationMs);
    }
    root.end(def.startMs + def.durationMs);
  }
  await provider.forceFlush();
  return memory.getFinishedSpans();
}

/** The labels the agent puts on samples of a root span. */
export function labelsOf(rootSpan) {
  const ctx = rootSpan.spanContext();
  return { span_id: ctx.spanId, trace_id: ctx.traceId, span_name: rootSpan.name };
}

/**
 * A gzipped CPU pprof. samples: [{ stack: [[name, file, line], ...] leaf first, cpuMs, count?, labels?, timeMs? }]
 * (timeMs: when the sample was taken, Unix ms, kept as the end_timestamp_ns label).
 */
export function buildCpuProfile(samples, { periodNanos = 10_000_000, startMs = 0, endMs = 0 } = {}) {
  const strings = new StringTable();
  const functions = [];
  const locations = [];
  const locationIds = new Map();
  const locationOf = ([name, file, line]) => {
    const key = `${name}|${file}|${line}`;
    if (!locationIds.has(key)) {
      const id = locations.length + 1;
      functions.push(new PprofFunction({ id, name: strings.dedup(name), systemName: strings.dedup(name), filename: strings.dedup(file), startLine: line }));
      locations.push(new Location({ id, line: [new Line({ functionId: id, line })] }));
      locationIds.set(key, id);
    }
    return locationIds.get(key);
  };
  const pprofSamples = samples.map((s) => new Sample({
    locationId: s.stack.map(locationOf),
    value: [s.count ?? Math.max(1, Math.round((s.cpuMs * 1e6) / periodNanos)), Math.round(s.cpuMs * 1e6)],
    label: [
      ...Object.entries(s.labels ?? {}).map(([k, v]) => new Label({ key: strings.dedup(k), str: strings.dedup(v) })),
      // The time the store keeps on each sample (end_timestamp_ns, Unix ns).
      ...(s.timeMs === undefined ? [] : [new Label({ key: strings.dedup('end_timestamp_ns'), num: BigInt(Math.round(s.timeMs * 1000)) * 1000n })]),
    ],
  }));
  const cpu = { type: strings.dedup('cpu'), unit: strings.dedup('nanoseconds') };
  const profile = new Profile({
    sampleType: [new ValueType({ type: strings.dedup('samples'), unit: strings.dedup('count') }), new ValueType(cpu)],
    periodType: new ValueType(cpu),
    period: periodNanos,
    sample: pprofSamples,
    location: locations,
    function: functions,
    stringTable: strings,
    timeNanos: BigInt(startMs) * 1_000_000n,
    durationNanos: BigInt(endMs - startMs) * 1_000_000n,
  });
  return gzipSync(profile.encode());
}

/** Writes spans and profiles through the store writers and waits until they are on disk. */
export async function writeStore(dir, { service, spans = [], profiles = [], maxBytes = 1 << 30 }) {
  if (spans.length > 0) {
    const spanWriter = new SpanStoreExporter({ dir, serviceName: service, maxBytes });
    const result = await new Promise((resolve) => spanWriter.export(spans, resolve));
    if (result.code !== 0) throw result.error ?? new Error('span export failed');
    await spanWriter.shutdown();
  }
  if (profiles.length > 0) {
    const profileWriter = new ProfileStoreExporter({ dir, serviceName: service, maxBytes });
    for (const p of profiles) {
      profileWriter.enqueue({ kind: p.kind ?? 'cpu', data: p.data, startMs: p.startMs, endMs: p.endMs, sampleCount: 1, intervalMicros: 10_000 });
    }
    await profileWriter.shutdown(Date.now() + 10_000);
    if (profileWriter.stats.dropped > 0) throw new Error('profile export dropped');
  }
}

export const T0 = Date.UTC(2026, 10, 24, 20, 15, 30, 123);

/**
 * A small shop: `GET /products` (sorting), `POST /checkout` (hashing) and `GET /search` (regex), with
 * some CPU outside spans. Returns the spans and the ids for assertions.
 */
export async function writeShopStore(dir, service = 'shop') {
  const spans = await makeSpans(service, [
    { name: 'GET /products', startMs: T0 + 100, durationMs: 120, children: [{ name: 'GET', startMs: T0 + 110, durationMs: 20 }] },
    { name: 'POST /checkout', startMs: T0 + 300, durationMs: 400 },
    { name: 'GET /search', startMs: T0 + 800, durationMs: 50 },
    { name: 'GET /products', startMs: T0 + 900, durationMs: 80 },
  ]);
  const roots = spans.filter((s) => s.attributes['pyroscope.profile.id'] !== undefined).sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1]);
  const [products1, checkout, search, products2] = roots;
  const handler = ['handleRequest', '/app/src/server.js', 40];
  const samples = [
    { stack: [['sortProducts', '/app/src/catalog.js', 12], ['renderProducts', '/app/src/catalog.js', 30], handler], cpuMs: 60, labels: labelsOf(products1) },
    { stack: [['renderProducts', '/app/src/catalog.js', 30], handler], cpuMs: 20, labels: labelsOf(products1) },
    { stack: [['hashPassword', '/app/src/checkout.js', 7], ['checkout', '/app/src/checkout.js', 50], handler], cpuMs: 300, labels: labelsOf(checkout) },
    { stack: [['JSON.stringify', '', 0], ['checkout', '/app/src/checkout.js', 50], handler], cpuMs: 30, labels: labelsOf(checkout) },
    { stack: [['matchAll', '/app/src/search.js', 22], handler], cpuMs: 40, labels: labelsOf(search) },
    { stack: [['sortProducts', '/app/src/catalog.js', 12], ['renderProducts', '/app/src/catalog.js', 30], handler], cpuMs: 50, labels: labelsOf(products2) },
    { stack: [['(garbage collector)', '', 0]], cpuMs: 10 },
  ];
  await writeStore(dir, {
    service,
    spans,
    profiles: [{ data: buildCpuProfile(samples, { startMs: T0, endMs: T0 + 15_000 }), startMs: T0, endMs: T0 + 15_000 }],
  });
  return { spans, products1, checkout, search, products2 };
}
