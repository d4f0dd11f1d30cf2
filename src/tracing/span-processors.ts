/**
 * The span processors OTEL_TRACES_EXPORTER asks for, built here because NodeSDK stops reading
 * OTEL_TRACES_EXPORTER, the OTLP protocol and OTEL_BSP_* as soon as it is given any span processor, and
 * the agent must give it one (the span linker). Exporter packages are required only when chosen.
 */
import { BatchSpanProcessor, SimpleSpanProcessor, ConsoleSpanExporter, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace';
import type { AgentConfig, OtlpProtocol } from '../config';
import { describeError, getLogger } from '../logger';
import { DeferredSpanExporter } from '../export/deferred-span-exporter';

function otlpExporter(protocol: OtlpProtocol): SpanExporter {
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
    default:
      // Upstream's exporter with our encoder (export/otlp-trace-exporter.ts); required only when chosen.
      return (require('../export/otlp-trace-exporter') as typeof import('../export/otlp-trace-exporter')).createOtlpProtobufTraceExporter();
  }
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
        case 'otlp': {
          // Built at the first batch: a process that ends before it never loads the OTLP packages.
          const exporter = new DeferredSpanExporter(
            () => otlpExporter(config.traces.otlpProtocol),
            (err) => getLogger().warn(`the otlp trace exporter could not be created; spans will not go there: ${describeError(err)}`),
          );
          processors.push(new BatchSpanProcessor({ exporter, ...batch }));
          break;
        }
        case 'zipkin':
          processors.push(new BatchSpanProcessor({ exporter: zipkinExporter(), ...batch }));
          break;
        case 'console':
          processors.push(new SimpleSpanProcessor({ exporter: new ConsoleSpanExporter() }));
          break;
        case 'store': {
          const { SpanStoreExporter } = require('../store/write/span-store-exporter') as typeof import('../store/write/span-store-exporter');
          processors.push(
            new BatchSpanProcessor({
              exporter: new SpanStoreExporter({ dir: config.store.dir, serviceName: config.serviceName, maxBytes: config.store.maxBytes }),
              ...batch,
            }),
          );
          break;
        }
      }
    } catch (err) {
      getLogger().warn(`the ${name} trace exporter could not be created; spans will not go there: ${describeError(err)}`);
    }
  }
  return processors;
}
