// CPU per span of encoding an OTLP trace export request: upstream's ProtobufTraceSerializer and the
// agent's one-pass encoder (dist/export/otlp-trace-encoder.js), alternating, in one process, on 512
// HTTP-server-shaped spans (16 attributes, as the http instrumentation makes them).
//   node bench/ab/otlp-trace-encode.mjs [rounds]
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { medianWithInterval, formatInterval } from '../lib/median-ci.mjs';

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
const ns = { upstream: [], ours: [] };
const rounds = Number(process.argv[2] ?? 30);
for (let r = -5; r < rounds; r++) {
  for (const name of r % 2 ? ['ours', 'upstream'] : ['upstream', 'ours']) {
    const t0 = process.cpuUsage();
    for (let k = 0; k < 20; k++) encoders[name](spans.slice());
    const t = process.cpuUsage(t0);
    if (r >= 0) ns[name].push(((t.user + t.system) * 1000) / (20 * spans.length));
  }
}
for (const name of ['upstream', 'ours']) console.log(`${name.padEnd(9)} ns per span ${formatInterval(medianWithInterval(ns[name]), 0)}`);
