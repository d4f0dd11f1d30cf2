// Span batches encoded a slice at a time before the OTLP exporter sends them (export/sliced-span-exporter.ts,
// encodeTraceExportRequestInSlices in export/otlp-trace-encoder.ts): the request is byte for byte the one-pass
// encoder's (itself compared with upstream's serializer through protobufjs in otlp-trace-encoder.test.mjs), the
// encoding really yields to the event loop between slices, and nothing that fails reaches the app.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { everyFieldSpans, httpSpans } from '../../helpers/finished-spans.mjs';
import { decodeExportTraceServiceRequest } from '../../helpers/otlp-receiver.mjs';

const require = createRequire(import.meta.url);
const { SlicedSpanExporter } = require('../../../dist/export/sliced-span-exporter.js');
const { encodeTraceExportRequest, encodeTraceExportRequestInSlices, encodeTraceExportItems, EncodedTraceExportRequest } = require('../../../dist/export/otlp-trace-encoder.js');
const { ProtobufTraceSerializer } = require('@opentelemetry/otlp-transformer');
const { ExportResultCode, suppressTracing, isTracingSuppressed } = require('@opentelemetry/core');
const { context, trace, ROOT_CONTEXT } = require('@opentelemetry/api');
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');

/** Counts event-loop turns (setImmediate callbacks) while `promise` is pending. */
async function turnsWhile(promise) {
  let turns = 0;
  let done = false;
  const tick = () => {
    if (done) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  const value = await promise;
  done = true;
  return { value, turns };
}

test('encoded in slices: the same bytes as in one pass, and as upstream decoded; several turns when slices are short', async () => {
  const spans = [...httpSpans(600), ...everyFieldSpans(), ...httpSpans(20)];
  const { value: request, turns } = await turnsWhile(encodeTraceExportRequestInSlices(spans, 0));
  assert.ok(request instanceof EncodedTraceExportRequest);
  assert.equal(request.length, spans.length);
  assert.deepEqual(Buffer.from(request.bytes), Buffer.from(encodeTraceExportRequest(spans)));
  assert.deepEqual(decodeExportTraceServiceRequest(request.bytes), decodeExportTraceServiceRequest(ProtobufTraceSerializer.serializeRequest(spans)));
  // A zero-length slice yields at every look at the clock (every 16 spans).
  assert.ok(turns >= Math.floor(spans.length / 16) - 1, `${turns} turns for ${spans.length} spans`);
  // What the exporter's serializer is then given goes out as it is.
  assert.equal(encodeTraceExportItems(request), request.bytes);
});

test('with the default slice a small batch is encoded in the turn it was given', async () => {
  const spans = httpSpans(3);
  let settled = false;
  const encoding = encodeTraceExportRequestInSlices(spans).then((request) => {
    settled = true;
    return request;
  });
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(settled, true);
  assert.deepEqual(Buffer.from((await encoding).bytes), Buffer.from(encodeTraceExportRequest(spans)));
});

function recordingExporter() {
  const received = [];
  return {
    received,
    export(items, done) {
      received.push(items);
      done({ code: ExportResultCode.SUCCESS });
    },
    async shutdown() {},
    async forceFlush() {},
  };
}

test('the exporter gets the encoded request, or the spans when it has no sliced encoder; results pass through', async () => {
  const spans = httpSpans(40);
  const inner = recordingExporter();
  let encoder = (batch) => encodeTraceExportRequestInSlices(batch, 0);
  const exporter = new SlicedSpanExporter(inner, () => encoder);
  const result = await new Promise((resolve) => exporter.export(spans, resolve));
  assert.equal(result.code, ExportResultCode.SUCCESS);
  assert.ok(inner.received[0] instanceof EncodedTraceExportRequest);
  assert.deepEqual(Buffer.from(inner.received[0].bytes), Buffer.from(encodeTraceExportRequest(spans)));

  encoder = undefined;
  const passed = await new Promise((resolve) => exporter.export(spans, resolve));
  assert.equal(passed.code, ExportResultCode.SUCCESS);
  assert.equal(inner.received[1], spans);
});

test('a batch that cannot be encoded, or an exporter that throws, fails the export once; nothing is thrown to the app', async () => {
  const spans = httpSpans(40);
  const broken = Object.create(spans[30], { spanContext: { value: () => { throw new Error('broken span'); } } });
  const uncaught = [];
  const onUncaught = (error) => uncaught.push(error);
  process.on('uncaughtException', onUncaught);
  try {
    const inner = recordingExporter();
    const exporter = new SlicedSpanExporter(inner, () => (batch) => encodeTraceExportRequestInSlices(batch, 0));
    const results = [];
    await new Promise((resolve) => exporter.export([...spans.slice(0, 30), broken], (r) => (results.push(r), resolve())));
    assert.equal(results.length, 1);
    assert.equal(results[0].code, ExportResultCode.FAILED);
    assert.match(results[0].error.message, /broken span/);
    assert.equal(inner.received.length, 0);

    const throwing = new SlicedSpanExporter(
      {
        export(_items, done) {
          done({ code: ExportResultCode.SUCCESS });
          throw new Error('exporter bug');
        },
        async shutdown() {},
      },
      () => (batch) => encodeTraceExportRequestInSlices(batch, 0),
    );
    const answers = [];
    await new Promise((resolve) => throwing.export(spans, (r) => (answers.push(r), resolve())));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(answers.map((r) => r.code), [ExportResultCode.SUCCESS], 'answered once, as the exporter answered');
  } finally {
    process.off('uncaughtException', onUncaught);
  }
  assert.deepEqual(uncaught, []);
});

test('a batch is encoded and sent in no span\'s context, with tracing still suppressed', async () => {
  // The batch processor exports in the context where the batch filled up: a span's end, maybe inside a running
  // request. The encoding's slices and the send must not carry that span (their CPU is not the request's).
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  try {
    const request = trace.wrapSpanContext({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1 });
    const seen = {};
    const encoder = async (spans) => {
      seen.encodeStart = trace.getSpan(context.active());
      await new Promise((resolve) => setImmediate(resolve));
      seen.encodeSlice = trace.getSpan(context.active());
      return spans;
    };
    const inner = {
      export(batch, done) {
        seen.send = trace.getSpan(context.active());
        seen.suppressed = isTracingSuppressed(context.active());
        done({ code: ExportResultCode.SUCCESS });
      },
      shutdown: () => Promise.resolve(),
    };
    const exporter = new SlicedSpanExporter(inner, () => encoder);
    const inRequest = suppressTracing(trace.setSpan(ROOT_CONTEXT, request));
    const result = await new Promise((resolve) => context.with(inRequest, () => exporter.export(httpSpans(3), resolve)));
    assert.equal(result.code, ExportResultCode.SUCCESS);
    assert.deepEqual(seen, { encodeStart: undefined, encodeSlice: undefined, send: undefined, suppressed: true });
  } finally {
    context.disable();
  }
});
