// Finished SDK spans for encoder tests: plain HTTP server spans, and spans with every field and attribute
// type the SDK can hold (events, links, remote parent, trace state, status, arrays, non-ASCII, two
// scopes, two resources), made with the real TracerProvider.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { TracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { SpanKind, SpanStatusCode, ROOT_CONTEXT, trace } = require('@opentelemetry/api');
const { TraceState } = require('@opentelemetry/core');

/** The spans `make(provider)` ends, under a provider with a small resource. */
export function finishedSpans(make, resourceAttributes = { 'service.name': 'encoder-test', 'process.pid': 42, 'host.arch': 'amd64' }) {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ resource: resourceFromAttributes(resourceAttributes), spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  make(provider);
  return exporter.getFinishedSpans();
}

/** `count` HTTP server spans (local roots with a profile id), each with a child span. */
export function httpSpans(count) {
  const attributes = { 'http.method': 'GET', 'http.target': '/orders/7', 'url.path': '/orders/7', 'net.host.port': 3000, 'http.status_code': 200, 'pyroscope.profile.id': '0123456789abcdef' };
  return finishedSpans((provider) => {
    const tracer = provider.getTracer('@opentelemetry/instrumentation-http', '0.300.0');
    for (let i = 0; i < count; i++) {
      const root = tracer.startSpan('GET /orders/:id', { kind: SpanKind.SERVER, attributes }, ROOT_CONTEXT);
      provider.getTracer('manual').startSpan('child', { attributes: { 'pyroscope.profile.id': root.spanContext().spanId } }, trace.setSpan(ROOT_CONTEXT, root)).end();
      root.end();
    }
  });
}

/** Spans with every field and attribute type, from two resources and several scopes. */
export function everyFieldSpans() {
  const make = (provider) => {
    const remote = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: 'ABCDEF0123456789abcdef0123456789',
      spanId: '0123456789abcdef',
      traceFlags: 1,
      isRemote: true,
      traceState: new TraceState('a=1,b=2'),
    });
    const span = provider.getTracer('other', '1.2.3').startSpan(
      `ünïcødé "quoted" \\ ${'x'.repeat(200)}\n`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          negative: -5, big: 2 ** 60, float: 1.5, nan: NaN, infinity: -Infinity, yes: true, no: false, zero: 0, empty: '',
          strings: ['a', 'ß', ''], numbers: [1, -2, 3.5], booleans: [true, false], holes: [null, 'x'], long: 'y'.repeat(300), 'ключ': 'значение',
          'url.path': '/ü', 'pyroscope.profile.id': 'abcdef0123456789', control: '\u0001\u2028',
        },
        links: [
          { context: { traceId: '1'.repeat(32), spanId: '2'.repeat(16), traceFlags: 0, isRemote: false }, attributes: { link: 1 } },
          { context: { traceId: '3'.repeat(32), spanId: '4'.repeat(16), traceFlags: 1, isRemote: true, traceState: new TraceState('k=v') } },
        ],
      },
      remote,
    );
    span.addEvent('event', { e: 'v', n: 2 });
    span.addEvent('bare event');
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
    span.end([4_102_444_800, 999_999_999]);
    const child = provider.getTracer('@opentelemetry/instrumentation-http').startSpan('internal', {}, trace.setSpan(ROOT_CONTEXT, span));
    child.setStatus({ code: SpanStatusCode.OK });
    child.end([4_102_444_801, 1]);
    provider.getTracer('other', '1.2.3').startSpan('early', { startTime: [1, 5] }, ROOT_CONTEXT).end([2, 0]);
  };
  return [...finishedSpans(make), ...finishedSpans(make, { 'service.name': 'second', nested: 'ü' }), ...finishedSpans(make)];
}
