// CPU per span of encoding an OTLP trace export request: upstream's ProtobufTraceSerializer and the
// agent's one-pass encoder (dist/export/otlp-trace-encoder.js), alternating, in one process, on 512
// HTTP-server-shaped spans (16 attributes, as the http instrumentation makes them).
// Also (where the build has them): `at-end` = each span encoded into the queue as it ends
// (export/encoded-spans.ts), `batch` = the request copied from those encodings, `at-end+batch` both;
// and the store's spans + roots-index lines: `json-upstream` (JsonTraceSerializer + rootsIndexLine) and
// `json-ours` (store/write/span-json.ts: encoded at end, then joined).
//   node bench/ab/otlp-trace-encode.mjs [rounds]
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { medianWithInterval, formatInterval } from '../lib/median-ci.mjs';
import { rootsIndexLine } from '../../test/helpers/roots-index-reference.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(path.join(root, 'package.json'));
const { ProtobufTraceSerializer } = require('@opentelemetry/otlp-transformer');
const { TracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { SpanKind, ROOT_CONTEXT } = require('@opentelemetry/api');
const { encodeTraceExportRequest } = require(path.join(root, 'dist/export/otlp-trace-encoder.js'));

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ resource: resourceFromAttributes({ 'service.name': 'bench', 'host.name': 'h', 'process.pid': 1 }), spanProcessors: [new SimpleSpanProcessor({ exporter })] });
const tracer = provider.getTracer('@opentelemetry/instrumentation-http', '0.300.0');
const attributes = {
  'http.url': 'http://127.0.0.1:3000/orders/7', 'http.host': '127.0.0.1:3000', 'net.host.name': '127.0.0.1', 'http.method': 'GET', 'http.scheme': 'http',
  'http.target': '/orders/7', 'http.user_agent': 'load-client', 'http.flavor': '1.1', 'net.transport': 'ip_tcp', 'net.host.ip': '127.0.0.1', 'net.host.port': 3000,
  'net.peer.ip': '127.0.0.1', 'net.peer.port': 55555, 'http.status_code': 200, 'http.status_text': 'OK', 'pyroscope.profile.id': '0123456789abcdef',
};
for (let i = 0; i < 512; i++) tracer.startSpan('GET', { kind: SpanKind.SERVER, attributes }, ROOT_CONTEXT).end();
await new Promise((r) => setTimeout(r, 10));
const spans = exporter.getFinishedSpans();
const encoders = { upstream: (s) => ProtobufTraceSerializer.serializeRequest(s), ours: (s) => encodeTraceExportRequest(s) };
let encoded;
try {
  encoded = require(path.join(root, 'dist/export/encoded-spans.js'));
} catch {}
if (encoded) {
  const otlp = require(path.join(root, 'dist/export/otlp-trace-encoder.js'));
  const json = require(path.join(root, 'dist/store/write/span-json.js'));
  const { JsonTraceSerializer } = require('@opentelemetry/otlp-transformer');
  const pushAll = (s, encoding) => {
    const queue = new encoded.EncodedSpanQueue(encoding);
    for (const span of s) queue.push(span);
    return queue;
  };
  // One queue for the whole run, as the processor keeps one (its buffer grown once).
  const kept = new encoded.EncodedSpanQueue(otlp.OTLP_PROTOBUF_SPAN_ENCODING);
  const keptJson = new encoded.EncodedSpanQueue(json.STORE_SPAN_ENCODING);
  const pushKept = (queue, s) => {
    for (const span of s) queue.push(span);
    return queue.take(s.length);
  };
  encoders['at-end'] = (s) => pushKept(kept, s);
  // `batch` proper: the request from a batch taken from an already filled queue (a fresh copy each time).
  const filled = () => pushAll(spans, otlp.OTLP_PROTOBUF_SPAN_ENCODING);
  const queues = [];
  encoders.batch = () => otlp.encodeEncodedTraceExportRequest(queues.pop().take(spans.length));
  encoders.batch.prepare = (k) => { for (let i = 0; i < k; i++) queues.push(filled()); };
  encoders['at-end+batch'] = (s) => otlp.encodeEncodedTraceExportRequest(pushKept(kept, s));
  encoders['json-upstream'] = (s) => [Buffer.from(JsonTraceSerializer.serializeRequest(s)), rootsIndexLine(s)];
  encoders['json-ours'] = (s) => json.storeLines(pushKept(keptJson, s));
}
const ns = Object.fromEntries(Object.keys(encoders).map((k) => [k, []]));
const rounds = Number(process.argv[2] ?? 30);
for (let r = -5; r < rounds; r++) {
  const names = Object.keys(encoders);
  for (const name of r % 2 ? names.reverse() : names) {
    encoders[name].prepare?.(20);
    const t0 = process.cpuUsage();
    for (let k = 0; k < 20; k++) encoders[name](spans.slice());
    const t = process.cpuUsage(t0);
    if (r >= 0) ns[name].push(((t.user + t.system) * 1000) / (20 * spans.length));
  }
}
for (const name of Object.keys(encoders)) console.log(`${name.padEnd(9)} ns per span ${formatInterval(medianWithInterval(ns[name]), 0)}`);
