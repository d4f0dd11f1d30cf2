/**
 * The span processors OTEL_TRACES_EXPORTER asks for, built here because NodeSDK stops reading
 * OTEL_TRACES_EXPORTER, the OTLP protocol and OTEL_BSP_* as soon as it is given any span processor, and
 * the agent must give it one (the span linker). Exporter packages are required only when chosen.
 */
import type { ExportResult } from '@opentelemetry/core';
import { BatchSpanProcessor, SimpleSpanProcessor, ConsoleSpanExporter, type ReadableSpan, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace';
import type { AgentConfig } from '../config';
import { describeError, getLogger } from '../logger';
import type { EncodedSpanBatch } from '../export/encoded-spans';
import { SpanStoreExporter } from '../store/write/span-store-exporter';
import { STORE_SPAN_ENCODING } from '../store/write/span-json';
import { EncodingBatchSpanProcessor, type EncodedSpanExporter } from './encoding-batch-span-processor';

/** A SpanExporter that also takes encoded batches (it tells them apart), typed as one that takes only those. */
function encodedExporter(exporter: { export(items: ReadableSpan[] | EncodedSpanBatch, resultCallback: (result: ExportResult) => void): void; forceFlush?(): Promise<void>; shutdown(): Promise<void> }): EncodedSpanExporter {
  return exporter;
}

/**
 * OTLP over HTTP (protobuf, the default, or JSON): spans encoded as they end (./encoding-batch-span-processor.ts)
 * when the exporter is ours on upstream's base; upstream's BatchSpanProcessor for gRPC and for upstream's
 * own exporters. Each exporter reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, _HEADERS, _TIMEOUT, _COMPRESSION
 * itself, so header values (credentials) never pass through the agent. Exporter packages are required
 * only when chosen.
 */
function otlpProcessor(config: AgentConfig): SpanProcessor {
  const batch = config.traces.batch;
  if (config.traces.otlpProtocol === 'grpc') {
    // (The class is taken into a const first: `new (require(...) as T).Class()` loses its parentheses in
    // TypeScript 7's output and calls require with `new`.)
    const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-grpc') as typeof import('@opentelemetry/exporter-trace-otlp-grpc');
    return new BatchSpanProcessor({ exporter: new OTLPTraceExporter(), ...batch });
  }
  const otlp = require('../export/otlp-trace-exporter') as typeof import('../export/otlp-trace-exporter');
  const exporter = config.traces.otlpProtocol === 'http/json' ? otlp.createOtlpJsonTraceExporter() : otlp.createOtlpProtobufTraceExporter();
  const encoding = otlp.encodingFor(exporter);
  if (encoding === undefined) return new BatchSpanProcessor({ exporter, ...batch });
  return new EncodingBatchSpanProcessor({ exporter: encodedExporter(exporter as Parameters<typeof encodedExporter>[0]), encoding, ...batch });
}

function zipkinExporter(): SpanExporter {
  const { ZipkinExporter } = require('@opentelemetry/exporter-zipkin') as typeof import('@opentelemetry/exporter-zipkin');
  return new ZipkinExporter();
}

/** One processor per configured exporter; an exporter that cannot be built is reported and skipped. */
export function buildSpanProcessors(config: AgentConfig): SpanProcessor[] {
  const processors: SpanProcessor[] = [];
  const batch = config.traces.batch;
  for (const name of config.traces.exporters) {
    try {
      switch (name) {
        case 'otlp':
          processors.push(otlpProcessor(config));
          break;
        case 'zipkin':
          processors.push(new BatchSpanProcessor({ exporter: zipkinExporter(), ...batch }));
          break;
        case 'console':
          processors.push(new SimpleSpanProcessor({ exporter: new ConsoleSpanExporter() }));
          break;
        case 'store':
          processors.push(
            new EncodingBatchSpanProcessor({
              exporter: encodedExporter(new SpanStoreExporter({ dir: config.store.dir, serviceName: config.serviceName, maxBytes: config.store.maxBytes })),
              encoding: STORE_SPAN_ENCODING,
              ...batch,
            }),
          );
          break;
      }
    } catch (err) {
      getLogger().warn(`the ${name} trace exporter could not be created; spans will not go there: ${describeError(err)}`);
    }
  }
  return processors;
}
