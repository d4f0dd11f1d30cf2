// Spans encoded one by one as they end (export/encoded-spans.ts), then taken in batches: the OTLP request
// of a batch is byte for byte what the one-pass encoder writes for the same span objects (itself compared
// with upstream's serializer through protobufjs in otlp-trace-encoder.test.mjs), and decodes, through
// protobufjs over the official proto, to what upstream's ProtobufTraceSerializer sends.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { decodeExportTraceServiceRequest } from '../../helpers/otlp-receiver.mjs';
import { everyFieldSpans, httpSpans } from '../../helpers/finished-spans.mjs';

const require = createRequire(import.meta.url);
const { EncodedSpanQueue, EncodedSpanBatch } = require('../../../dist/export/encoded-spans.js');
const { encodeTraceExportRequest, encodeEncodedTraceExportRequest, encodeTraceExportItems, OTLP_PROTOBUF_SPAN_ENCODING } = require('../../../dist/export/otlp-trace-encoder.js');
const { ProtobufTraceSerializer } = require('@opentelemetry/otlp-transformer');

function queueOf(spans) {
  const queue = new EncodedSpanQueue(OTLP_PROTOBUF_SPAN_ENCODING);
  for (const span of spans) queue.push(span);
  return queue;
}

test('a batch of encoded spans: the same request bytes as encoding the span objects, and as upstream decoded', () => {
  for (const spans of [httpSpans(40), everyFieldSpans()]) {
    const batch = queueOf(spans).take(spans.length);
    assert.ok(batch instanceof EncodedSpanBatch);
    assert.equal(batch.length, spans.length);
    const bytes = encodeEncodedTraceExportRequest(batch);
    assert.deepEqual(Buffer.from(bytes), Buffer.from(encodeTraceExportRequest(spans)));
    assert.deepEqual(decodeExportTraceServiceRequest(bytes), decodeExportTraceServiceRequest(ProtobufTraceSerializer.serializeRequest(spans)));
    // What the exporter's serializer is given: batches and span arrays alike.
    assert.deepEqual(Buffer.from(encodeTraceExportItems(batch)), Buffer.from(bytes));
    assert.deepEqual(Buffer.from(encodeTraceExportItems(spans)), Buffer.from(bytes));
  }
});

test('taking batches in turn: each is the request of its spans, the rest stays in order, groups renumbered', () => {
  const spans = [...everyFieldSpans(), ...httpSpans(30), ...everyFieldSpans()];
  const queue = queueOf(spans.slice(0, 20));
  let next = 20;
  let taken = 0;
  while (queue.length > 0) {
    const n = Math.min(7, queue.length);
    const batch = queue.take(7);
    assert.equal(batch.length, n);
    assert.deepEqual(Buffer.from(encodeEncodedTraceExportRequest(batch)), Buffer.from(encodeTraceExportRequest(spans.slice(taken, taken + n))));
    taken += n;
    // Spans keep arriving while batches leave.
    for (let k = 0; k < 5 && next < spans.length; k++) queue.push(spans[next++]);
    assert.ok(batch.groups.length <= 8);
  }
  assert.equal(taken, spans.length);
  assert.equal(queue.byteLength, 0);
});

test('a span whose encoding throws leaves nothing behind; the queue goes on', () => {
  const spans = httpSpans(3);
  const queue = queueOf([spans[0]]);
  const broken = Object.create(spans[1], { spanContext: { value: () => { throw new Error('broken span'); } } });
  assert.throws(() => queue.push(broken), /broken span/);
  queue.push(spans[2]);
  const batch = queue.take(10);
  assert.equal(batch.length, 2);
  assert.deepEqual(Buffer.from(encodeEncodedTraceExportRequest(batch)), Buffer.from(encodeTraceExportRequest([spans[0], spans[2]])));
});

test('an empty batch is an empty request', () => {
  const batch = new EncodedSpanQueue(OTLP_PROTOBUF_SPAN_ENCODING).take(512);
  assert.equal(batch.length, 0);
  assert.deepEqual(Buffer.from(encodeEncodedTraceExportRequest(batch)), Buffer.from(encodeTraceExportRequest([])));
});
