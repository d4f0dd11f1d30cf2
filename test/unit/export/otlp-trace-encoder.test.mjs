// The one-pass OTLP trace encoder (export/otlp-trace-encoder.ts), read back by a decoder we did not write
// (protobufjs over the trace/v1 proto in helpers/otlp-receiver.mjs) and compared, message for message,
// with what upstream's ProtobufTraceSerializer encodes from the same spans: plain HTTP server spans and
// spans with every field and attribute type the SDK can hold.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { everyFieldSpans, finishedSpans } from '../../helpers/finished-spans.mjs';
import { decodeExportTraceServiceRequest } from '../../helpers/otlp-receiver.mjs';

const require = createRequire(import.meta.url);
const { encodeTraceExportRequest } = require('../../../dist/export/otlp-trace-encoder.js');
const { ProtobufTraceSerializer } = require('@opentelemetry/otlp-transformer');
const { SpanKind, ROOT_CONTEXT } = require('@opentelemetry/api');

function assertSameAsUpstream(spans) {
  const ours = decodeExportTraceServiceRequest(encodeTraceExportRequest(spans));
  const upstream = decodeExportTraceServiceRequest(ProtobufTraceSerializer.serializeRequest(spans));
  assert.deepEqual(ours, upstream);
  return ours;
}

test('HTTP server spans: the same request as upstream, ids and times exact', () => {
  const attributes = { 'http.method': 'GET', 'http.target': '/orders/7', 'net.host.port': 3000, 'http.status_code': 200, 'pyroscope.profile.id': '0123456789abcdef' };
  const spans = finishedSpans((provider) => {
    const tracer = provider.getTracer('@opentelemetry/instrumentation-http', '0.300.0');
    for (let i = 0; i < 300; i++) tracer.startSpan('GET', { kind: SpanKind.SERVER, attributes }, ROOT_CONTEXT).end();
  });
  const decoded = assertSameAsUpstream(spans);
  const sent = decoded.resourceSpans[0].scopeSpans[0].spans;
  assert.equal(sent.length, 300);
  assert.equal(Buffer.from(sent[7].spanId, 'base64').toString('hex'), spans[7].spanContext().spanId);
  const [s, ns] = spans[7].startTime;
  assert.equal(sent[7].startTimeUnixNano, String(BigInt(s) * 1_000_000_000n + BigInt(ns)));
});

test('every field and attribute type: events, links, remote parent, trace state, status, arrays, non-ASCII, two scopes', () => {
  const spans = everyFieldSpans();
  const decoded = assertSameAsUpstream(spans);
  assert.equal(decoded.resourceSpans[0].scopeSpans.length, 2);
  const first = decoded.resourceSpans[0].scopeSpans[0].spans[0];
  assert.equal(first.endTimeUnixNano, '4102444800999999999');
  assert.equal(decoded.resourceSpans[0].scopeSpans[1].spans[0].endTimeUnixNano, '4102444801000000001');
});

test('an empty batch encodes to an empty request, as upstream', () => {
  assert.deepEqual(decodeExportTraceServiceRequest(encodeTraceExportRequest([])), decodeExportTraceServiceRequest(ProtobufTraceSerializer.serializeRequest([])));
});

test("the endpoint's answer reads as upstream reads it: nothing, an empty partial success, rejected spans and a message, unknown fields", () => {
  const { decodeTraceExportResponse } = require('../../../dist/export/otlp-trace-encoder.js');
  const message = Buffer.from('too many attributes é', 'utf8');
  const partial = Buffer.concat([Buffer.from([0x08, 0xac, 0x02, 0x12, message.length]), message, Buffer.from([0x18, 0x01])]);
  const answers = [
    Buffer.alloc(0),
    Buffer.from([0x0a, 0x00]),
    Buffer.concat([Buffer.from([0x0a, partial.length]), partial]),
    Buffer.concat([Buffer.from([0x10, 0x05, 0x1a, 0x01, 0x00, 0x0a, partial.length]), partial]),
  ];
  for (const answer of answers) assert.deepEqual(decodeTraceExportResponse(answer), ProtobufTraceSerializer.deserializeResponse(answer));
  assert.deepEqual(decodeTraceExportResponse(answers[2]), { partialSuccess: { rejectedSpans: 300, errorMessage: 'too many attributes é' } });
  assert.throws(() => decodeTraceExportResponse(Buffer.from([0x0a, 0x05, 0x08])));
});
