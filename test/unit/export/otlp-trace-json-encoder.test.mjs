// The one-pass OTLP/JSON trace encoder (export/otlp-trace-json-encoder.ts) against upstream's
// JsonTraceSerializer: byte for byte the same request, from span objects and from spans encoded as they
// ended; and the endpoint's answer read as upstream reads it.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { everyFieldSpans, httpSpans } from '../../helpers/finished-spans.mjs';

const require = createRequire(import.meta.url);
const { encodeJsonTraceExportItems, decodeJsonTraceExportResponse, OTLP_JSON_SPAN_ENCODING } = require('../../../dist/export/otlp-trace-json-encoder.js');
const { EncodedSpanQueue } = require('../../../dist/export/encoded-spans.js');
const { JsonTraceSerializer } = require('@opentelemetry/otlp-transformer');

test('the same request text as upstream, from spans and from a batch encoded as they ended', () => {
  for (const spans of [httpSpans(30), everyFieldSpans(), []]) {
    const upstream = Buffer.from(JsonTraceSerializer.serializeRequest(spans)).toString();
    assert.equal(Buffer.from(encodeJsonTraceExportItems(spans)).toString(), upstream);
    const queue = new EncodedSpanQueue(OTLP_JSON_SPAN_ENCODING);
    for (const span of spans) queue.push(span);
    assert.equal(Buffer.from(encodeJsonTraceExportItems(queue.take(spans.length))).toString(), upstream);
  }
});

test("the endpoint's answer: nothing, a partial success, and text that is not JSON, as upstream reads them", () => {
  const answers = ['', '{}', '{"partialSuccess":{"rejectedSpans":"3","errorMessage":"too many"}}', 'not json'].map((t) => new TextEncoder().encode(t));
  for (const answer of answers) assert.deepEqual(decodeJsonTraceExportResponse(answer), JsonTraceSerializer.deserializeResponse(answer));
  assert.deepEqual(decodeJsonTraceExportResponse(answers[2]), { partialSuccess: { rejectedSpans: '3', errorMessage: 'too many' } });
});
