/**
 * The span processors OTEL_TRACES_EXPORTER asks for, built here because NodeSDK stops reading
 * OTEL_TRACES_EXPORTER, the OTLP protocol and OTEL_BSP_* as soon as it is given any span processor, and
 * the agent must give it one (the span linker). Exporter packages are required only when chosen.
 */
import type { ExportResult } from '@opentelemetry/core';
import { BatchSpanProcessor, SimpleSpanProcessor, ConsoleSpanExporter, type ReadableSpan, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace';
import type { AgentConfig } from '../config';
import { describeError, getLogger } from '../logger';
import { DeferredSpanExporter } from '../export/deferred-span-exporter';
import type { EncodedSpanBatch } from '../export/encoded-spans';
import { SlicedSpanExporter, type SlicedEncoder } from '../export/sliced-span-exporter';
import type { EncodedSpanExporter } from './encoding-batch-span-processor';

/** A SpanExporter that also takes encoded batches (it tells them apart), typed as one that takes only those. */
function encodedExporter(exporter: { export(items: ReadableSpan[] | EncodedSpanBatch, resultCallback: (result: ExportResult) => void): void; forceFlush?(): Promise<void>; shutdown(): Promise<void> }): EncodedSpanExporter {
  return exporter;
}

/**
 * OTLP: upstream's BatchSpanProcessor. Over HTTP (protobuf, the default, or JSON) with our one-pass encoders
 * on upstream's exporter base (export/otlp-trace-exporter.ts); gRPC as upstream. Each exporter reads
 * OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, _HEADERS, _TIMEOUT, _COMPRESSION itself, so header values
 * (credentials) never pass through the agent. Exporter packages are required only when chosen.
 *
 * Not the EncodingBatchSpanProcessor (spans encoded as they end), although these exporters take its
 * batches (`encodingFor`): measured on the quiet machine, encoding each span in the request's turn (cold
 * caches, between the app's work) cost the full agent more CPU per request than encoding 512 spans in one
 * hot loop (plain HTTP 1.019 [0.997, 1.057], async-heavy Express 1.071 [1.018, 1.097] x the batch path).
 * The batch's hot loop is cut into slices of turns instead (see otlpProcessor).
 */
function otlpExporter(config: AgentConfig): SpanExporter {
  if (config.traces.otlpProtocol === 'grpc') {
    // (The class is taken into a const first: `new (require(...) as T).Class()` loses its parentheses in
    // TypeScript 7's output and calls require with `new`.)
    const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-grpc') as typeof import('@opentelemetry/exporter-trace-otlp-grpc');
    return new OTLPTraceExporter();
  }
  const otlp = require('../export/otlp-trace-exporter') as typeof import('../export/otlp-trace-exporter');
  return config.traces.otlpProtocol === 'http/json' ? otlp.createOtlpJsonTraceExporter() : otlp.createOtlpProtobufTraceExporter();
}

/**
 * The OTLP exporter is built at the first batch: a process that ends before it never loads the OTLP packages.
 * Over HTTP protobuf each batch is encoded a slice at a time before it is sent (export/sliced-span-exporter.ts).
 */
function otlpProcessor(config: AgentConfig): SpanProcessor {
  const deferred = new DeferredSpanExporter(
    () => otlpExporter(config),
    (err) => getLogger().warn(`the otlp trace exporter could not be created; spans will not go there: ${describeError(err)}`),
  );
  const encoderOf = (): SlicedEncoder | undefined => {
    const built = deferred.built;
    if (built === undefined) return undefined;
    return (require('../export/otlp-trace-exporter') as typeof import('../export/otlp-trace-exporter')).slicedEncoderFor(built);
  };
  return new BatchSpanProcessor({ exporter: new SlicedSpanExporter(deferred, encoderOf), ...config.traces.batch });
}

/**
 * The local store: spans encoded as they end (EncodingBatchSpanProcessor), so a batch needs no encoding turn
 * of its own. Its modules are required only when the store is chosen.
 */
function storeProcessor(config: AgentConfig): SpanProcessor {
  const { SpanStoreExporter } = require('../store/write/span-store-exporter') as typeof import('../store/write/span-store-exporter');
  const { STORE_SPAN_ENCODING } = require('../store/write/span-json') as typeof import('../store/write/span-json');
  const { EncodingBatchSpanProcessor } = require('./encoding-batch-span-processor') as typeof import('./encoding-batch-span-processor');
  return new EncodingBatchSpanProcessor({
    exporter: encodedExporter(new SpanStoreExporter({ dir: config.store.dir, serviceName: config.serviceName, maxBytes: config.store.maxBytes })),
    encoding: STORE_SPAN_ENCODING,
    ...config.traces.batch,
  });
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
          processors.push(storeProcessor(config));
          break;
      }
    } catch (err) {
      getLogger().warn(`the ${name} trace exporter could not be created; spans will not go there: ${describeError(err)}`);
    }
  }
  return processors;
}
