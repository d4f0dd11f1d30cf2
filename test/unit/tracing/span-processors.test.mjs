// Which span processor each OTEL_TRACES_EXPORTER / protocol gets (tracing/span-processors.ts): spans encoded
// when they end for the local store; upstream's BatchSpanProcessor for OTLP (our encoders encode the batch)
// and zipkin.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

const require = createRequire(import.meta.url);
const { buildSpanProcessors } = require('../../../dist/tracing/span-processors.js');
const { EncodingBatchSpanProcessor } = require('../../../dist/tracing/encoding-batch-span-processor.js');
const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace');

const dir = mkdtempSync(path.join(tmpdir(), 'span-profiles-processors-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function processorsFor(exporters, otlpProtocol = 'http/protobuf') {
  const config = {
    serviceName: 'processors-test',
    store: { dir, maxBytes: 1 << 20 },
    traces: { exporters, otlpProtocol, batch: { scheduledDelayMillis: 5000, exportTimeoutMillis: 30000, maxQueueSize: 100, maxExportBatchSize: 10 } },
  };
  return buildSpanProcessors(config);
}

test('the store: spans encoded as they end', async () => {
  const [processor] = processorsFor(['store']);
  assert.ok(processor instanceof EncodingBatchSpanProcessor);
  await processor.shutdown();
});

test('OTLP (http/protobuf, http/json, grpc) and zipkin: upstream BatchSpanProcessor', async () => {
  for (const [exporters, protocol] of [[['otlp'], 'http/protobuf'], [['otlp'], 'http/json'], [['otlp'], 'grpc'], [['zipkin']]]) {
    const [processor] = processorsFor(exporters, protocol);
    assert.ok(processor instanceof BatchSpanProcessor && !(processor instanceof EncodingBatchSpanProcessor), `${exporters} ${protocol ?? ''}`);
    await processor.shutdown();
  }
});
