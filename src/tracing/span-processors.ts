/**
 * The span processors OTEL_TRACES_EXPORTER asks for, built here because NodeSDK stops reading
 * OTEL_TRACES_EXPORTER, the OTLP protocol and OTEL_BSP_* as soon as it is given any span processor, and
 * the agent must give it one (the span linker). Exporter packages are required only when chosen.
 */
import { BatchSpanProcessor, SimpleSpanProcessor, ConsoleSpanExporter, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace';
import type { AgentConfig, OtlpProtocol } from '../config';
import { describeError, getLogger } from '../logger';
import { SpanStoreExporter } from '../store/span-store-exporter';

function otlpExporter(protocol: OtlpProtocol): SpanExporter {
  // Each exporter reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, _HEADERS, _TIMEOUT, _COMPRESSION itself,
  // so header values (credentials) never pass through the agent.
  switch (protocol) {
    case 'grpc':
      return new (require('@opentelemetry/exporter-trace-otlp-grpc').OTLPTraceExporter)();
    case 'http/json':
      return new (require('@opentelemetry/exporter-trace-otlp-http').OTLPTraceExporter)();
    default:
      // Upstream's exporter with our encoder (export/otlp-trace-exporter.ts); required only when chosen.
      return (require('../export/otlp-trace-exporter') as typeof import('../export/otlp-trace-exporter')).createOtlpProtobufTraceExporter();
  }
}

/** One processor per configured exporter; an exporter that cannot be built is reported and skipped. */
export function buildSpanProcessors(config: AgentConfig): SpanProcessor[] {
  const processors: SpanProcessor[] = [];
  const batch = config.traces.batch;
  for (const name of config.traces.exporters) {
    try {
      switch (name) {
        case 'otlp':
          processors.push(new BatchSpanProcessor({ exporter: otlpExporter(config.traces.otlpProtocol), ...batch }));
          break;
        case 'zipkin':
          processors.push(new BatchSpanProcessor({ exporter: new (require('@opentelemetry/exporter-zipkin').ZipkinExporter)(), ...batch }));
          break;
        case 'console':
          processors.push(new SimpleSpanProcessor({ exporter: new ConsoleSpanExporter() }));
          break;
        case 'store':
          processors.push(
            new BatchSpanProcessor({
              exporter: new SpanStoreExporter({ dir: config.store.dir, serviceName: config.serviceName, maxBytes: config.store.maxBytes }),
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
