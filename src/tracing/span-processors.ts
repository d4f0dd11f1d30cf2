/**
 * The span processors OTEL_TRACES_EXPORTER asks for, built here because NodeSDK stops reading
 * OTEL_TRACES_EXPORTER, the OTLP protocol and OTEL_BSP_* as soon as it is given any span processor, and
 * the agent must give it one (the span linker). Exporter packages are required only when chosen.
 */
import type { ExportResult } from '@opentelemetry/core';
import { BatchSpanProcessor, SimpleSpanProcessor, ConsoleSpanExporter, type ReadableSpan, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace';
import type { AgentConfig, OtlpProtocol } from '../config';
import { describeError, getLogger } from '../logger';
import type { EncodedSpanBatch } from '../export/encoded-spans';
import { SpanStoreExporter } from '../store/write/span-store-exporter';
import { STORE_SPAN_ENCODING } from '../store/write/span-json';
import { EncodingBatchSpanProcessor, type EncodedSpanExporter } from './encoding-batch-span-processor';

function otlpExporter(protocol: Exclude<OtlpProtocol, 'http/protobuf'>): SpanExporter {
  // Each exporter reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, _HEADERS, _TIMEOUT, _COMPRESSION itself,
  // so header values (credentials) never pass through the agent.
  // (The class is taken into a const first: `new (require(...) as T).Class()` loses its parentheses in
  // TypeScript 7's output and calls require with `new`.)
  switch (protocol) {
    case 'grpc': {
      const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-grpc') as typeof import('@opentelemetry/exporter-trace-otlp-grpc');
      return new OTLPTraceExporter();
    }
    case 'http/json': {
      const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
      return new OTLPTraceExporter();
    }
  }
}

/** A SpanExporter that also takes encoded batches (it tells them apart), typed as one that takes only those. */
function encodedExporter(exporter: { export(items: ReadableSpan[] | EncodedSpanBatch, resultCallback: (result: ExportResult) => void): void; forceFlush?(): Promise<void>; shutdown(): Promise<void> }): EncodedSpanExporter {
  return exporter;
}

/**
 * OTLP/HTTP protobuf (the default protocol): spans encoded as they end (./encoding-batch-span-processor.ts)
 * when the exporter is ours on upstream's base; upstream's BatchSpanProcessor for the other protocols.
 */
function otlpProcessor(config: AgentConfig): SpanProcessor {
  const batch = config.traces.batch;
  const protocol = config.traces.otlpProtocol;
  if (protocol === 'grpc' || protocol === 'http/json') return new BatchSpanProcessor({ exporter: otlpExporter(protocol), ...batch });
  // Upstream's exporter base with our encoder (export/otlp-trace-exporter.ts); required only when chosen.
  const otlp = require('../export/otlp-trace-exporter') as typeof import('../export/otlp-trace-exporter');
  const exporter = otlp.createOtlpProtobufTraceExporter();
  if (!otlp.acceptsEncodedSpans(exporter)) return new BatchSpanProcessor({ exporter, ...batch });
  const encoding = (require('../export/otlp-trace-encoder') as typeof import('../export/otlp-trace-encoder')).OTLP_PROTOBUF_SPAN_ENCODING;
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
