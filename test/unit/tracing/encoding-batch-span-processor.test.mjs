// The batch span processor that encodes spans as they end (tracing/encoding-batch-span-processor.ts):
// OTEL_BSP_* as the specification means them (queue and batch sizes in spans, drops counted, the
// schedule delay, the export timeout), one scheduled export at a time, forceFlush and shutdown export
// everything held, unsampled spans are left out, and what reaches the exporter is the OTLP request of
// exactly the spans that ended, in order.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mock, test } from 'node:test';
import { httpSpans } from '../../helpers/finished-spans.mjs';

const require = createRequire(import.meta.url);
const { EncodingBatchSpanProcessor } = require('../../../dist/tracing/encoding-batch-span-processor.js');
const { OTLP_PROTOBUF_SPAN_ENCODING, encodeEncodedTraceExportRequest, encodeTraceExportRequest } = require('../../../dist/export/otlp-trace-encoder.js');
const { diag, DiagLogLevel, TraceFlags } = require('@opentelemetry/api');
const { ExportResultCode } = require('@opentelemetry/core');

/** An exporter that records each batch's request and answers when told (or at once). */
function recordingExporter({ answer = 'now' } = {}) {
  const exporter = {
    requests: [],
    sizes: [],
    pending: [],
    shutdowns: 0,
    export(batch, done) {
      exporter.sizes.push(batch.length);
      exporter.requests.push(Buffer.from(encodeEncodedTraceExportRequest(batch)));
      if (answer === 'now') done({ code: ExportResultCode.SUCCESS });
      else if (answer === 'fail') done({ code: ExportResultCode.FAILED, error: new Error('refused') });
      else exporter.pending.push(done);
    },
    async shutdown() {
      exporter.shutdowns++;
    },
  };
  return exporter;
}

function processorWith(exporter, options = {}) {
  return new EncodingBatchSpanProcessor({ exporter, encoding: OTLP_PROTOBUF_SPAN_ENCODING, ...options });
}

test('a full batch (OTEL_BSP_MAX_EXPORT_BATCH_SIZE spans) is exported at once; the rest after the schedule delay', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const spans = httpSpans(6); // 12 spans: roots and children
  const exporter = recordingExporter();
  const processor = processorWith(exporter, { maxExportBatchSize: 5, maxQueueSize: 100, scheduledDelayMillis: 1000 });
  for (const span of spans.slice(0, 5)) processor.onEnd(span);
  assert.deepEqual(exporter.sizes, [5]);
  for (const span of spans.slice(5, 12)) processor.onEnd(span);
  await Promise.resolve();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(exporter.sizes, [5, 5], 'the second full batch once the first export has answered');
  assert.equal(processor.queuedSpans, 2);
  t.mock.timers.tick(999);
  assert.deepEqual(exporter.sizes, [5, 5], 'not before the schedule delay');
  t.mock.timers.tick(1);
  assert.deepEqual(exporter.sizes, [5, 5, 2]);
  assert.deepEqual(Buffer.concat(exporter.requests), Buffer.concat([spans.slice(0, 5), spans.slice(5, 10), spans.slice(10)].map((s) => Buffer.from(encodeTraceExportRequest(s)))));
});

test('OTEL_BSP_MAX_QUEUE_SIZE: spans beyond it are dropped and counted, in spans, while an export is out', async () => {
  const warnings = [];
  diag.setLogger({ warn: (m) => warnings.push(m), debug() {}, info() {}, error() {}, verbose() {} }, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
  try {
    const spans = httpSpans(20); // 40 spans
    const exporter = recordingExporter({ answer: 'later' });
    const processor = processorWith(exporter, { maxExportBatchSize: 4, maxQueueSize: 10, scheduledDelayMillis: 60_000, exportTimeoutMillis: 60_000 });
    for (const span of spans.slice(0, 30)) processor.onEnd(span);
    // 4 went out at once (the export still waits for its answer), 10 are held, 16 dropped.
    assert.deepEqual(exporter.sizes, [4]);
    assert.equal(processor.queuedSpans, 10);
    exporter.pending.shift()({ code: ExportResultCode.SUCCESS });
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(exporter.sizes, [4, 4]);
    processor.onEnd(spans[30]);
    assert.deepEqual(warnings, ['Dropped 16 spans because maxQueueSize reached']);
    assert.equal(processor.queuedSpans, 7);
    exporter.pending.shift()({ code: ExportResultCode.SUCCESS });
    const flushed = processor.forceFlush();
    for (let i = 0; i < 5 && exporter.pending.length > 0; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      while (exporter.pending.length > 0) exporter.pending.shift()({ code: ExportResultCode.SUCCESS });
    }
    await flushed;
    assert.equal(exporter.sizes.reduce((a, b) => a + b, 0), 4 + 10 + 1);
    assert.ok(exporter.sizes.every((n) => n <= 4));
  } finally {
    diag.disable();
  }
});

test('forceFlush exports everything held in batches; shutdown flushes, shuts the exporter down, and takes no more spans', async () => {
  const spans = httpSpans(10);
  const exporter = recordingExporter();
  const processor = processorWith(exporter, { maxExportBatchSize: 8, scheduledDelayMillis: 60_000 });
  for (const span of spans.slice(0, 7)) processor.onEnd(span);
  assert.deepEqual(exporter.sizes, []);
  await processor.forceFlush();
  assert.deepEqual(exporter.sizes, [7]);
  for (const span of spans.slice(7, 20)) processor.onEnd(span);
  assert.deepEqual(exporter.sizes, [7, 8]);
  await processor.shutdown();
  assert.deepEqual(exporter.sizes, [7, 8, 5]);
  assert.equal(exporter.shutdowns, 1);
  processor.onEnd(spans[0]);
  await processor.forceFlush();
  assert.deepEqual(exporter.sizes, [7, 8, 5]);
  assert.deepEqual(Buffer.concat(exporter.requests), Buffer.concat([spans.slice(0, 7), spans.slice(7, 15), spans.slice(15)].map((s) => Buffer.from(encodeTraceExportRequest(s)))));
});

test('OTEL_BSP_EXPORT_TIMEOUT: an export that does not answer fails the flush after it; a refused export fails it too', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const silent = recordingExporter({ answer: 'later' });
  const processor = processorWith(silent, { exportTimeoutMillis: 300 });
  processor.onEnd(httpSpans(1)[0]);
  const flushed = processor.forceFlush();
  t.mock.timers.tick(300);
  await assert.rejects(flushed, /Timeout/);
  const refusing = processorWith(recordingExporter({ answer: 'fail' }));
  refusing.onEnd(httpSpans(1)[0]);
  await assert.rejects(refusing.forceFlush(), /refused/);
});

test('unsampled spans are not exported', async () => {
  const [span] = httpSpans(1);
  const unsampled = Object.create(span, { spanContext: { value: () => ({ ...span.spanContext(), traceFlags: TraceFlags.NONE }) } });
  const exporter = recordingExporter();
  const processor = processorWith(exporter);
  processor.onEnd(unsampled);
  await processor.forceFlush();
  assert.deepEqual(exporter.sizes, []);
});

test('a span that cannot be encoded is left out with one warning; the app is not affected', async () => {
  const spans = httpSpans(2);
  const broken = Object.create(spans[1], { name: { get() { throw new Error('bad name'); } } });
  const exporter = recordingExporter();
  const processor = processorWith(exporter);
  const { getLogger } = require('../../../dist/logger.js');
  const warn = mock.method(getLogger(), 'warn', () => {});
  try {
    processor.onEnd(spans[0]);
    assert.doesNotThrow(() => processor.onEnd(broken));
    assert.doesNotThrow(() => processor.onEnd(broken));
    processor.onEnd(spans[2]);
    await processor.forceFlush();
    assert.equal(warn.mock.callCount(), 1);
    assert.match(warn.mock.calls[0].arguments[0], /bad name/);
    assert.deepEqual(exporter.requests[0], Buffer.from(encodeTraceExportRequest([spans[0], spans[2]])));
  } finally {
    warn.mock.restore();
  }
});
