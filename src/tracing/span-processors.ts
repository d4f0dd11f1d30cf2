/**
 * The span processors OTEL_TRACES_EXPORTER asks for, built here because NodeSDK stops reading
 * OTEL_TRACES_EXPORTER, the OTLP protocol and OTEL_BSP_* as soon as it is given any span processor, and
 * the agent must give it one (the span linker). Exporter packages are required only when chosen.
 */
import { createRequire } from 'node:module';
import {
  BatchSpanProcessor,
  SimpleSpanProcessor,
  ConsoleSpanExporter,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import type { AgentConfig, OtlpProtocol } from '../config';
import { describeError, getLogger } from '../logger';
import { SpanStoreExporter } from '../store/span-store-exporter';

/** What the OTLP exporter packages give us to build an http/protobuf span exporter with our encoder. */
interface OtlpExporterParts {
  base: { OTLPExporterBase: new (delegate: unknown) => SpanExporter };
  http: {
    createOtlpHttpExportDelegate(options: unknown, serializer: unknown, componentType: string, metricsHelper: unknown, meterProvider: unknown): unknown;
    convertLegacyHttpOptions(config: object, signal: string, path: string, headers: Record<string, string>): unknown;
  };
}

/** The exporter metrics' view of a trace export request (spans counted), as upstream's trace helper. */
const SPAN_METRICS_HELPER = { name: 'span', countItems: (request: readonly unknown[]) => request.length };

/**
 * OTLP/HTTP protobuf: upstream's exporter (endpoint, headers, timeout, compression from OTEL_EXPORTER_OTLP_*,
 * retries, the bounded queue), built from the package it is built from, with our one-pass encoder and
 * response decoder instead of `@opentelemetry/otlp-transformer`'s serializer (which would also load the
 * metrics SDK, about 80 modules, at start-up). The exporter-base version is the one
 * `@opentelemetry/exporter-trace-otlp-proto` depends on; if that layout ever changes, upstream's exporter
 * is used as it is.
 */
function otlpProtobufExporter(): SpanExporter {
  let parts: OtlpExporterParts;
  try {
    const fromExporter = createRequire(require.resolve('@opentelemetry/exporter-trace-otlp-proto'));
    parts = {
      base: fromExporter('@opentelemetry/otlp-exporter-base'),
      http: fromExporter('@opentelemetry/otlp-exporter-base/node-http'),
    };
    if (typeof parts.http.createOtlpHttpExportDelegate !== 'function' || typeof parts.base.OTLPExporterBase !== 'function') throw new Error('layout');
  } catch {
    return new (require('@opentelemetry/exporter-trace-otlp-proto').OTLPTraceExporter)();
  }
  const { base, http } = parts;
  // Required here, like the exporter packages: only processes that export OTLP/protobuf load it.
  const { encodeTraceExportRequest, decodeTraceExportResponse } = require('../export/otlp-trace-encoder') as typeof import('../export/otlp-trace-encoder');
  const serializer = { serializeRequest: encodeTraceExportRequest, deserializeResponse: decodeTraceExportResponse };
  const options = http.convertLegacyHttpOptions({}, 'TRACES', 'v1/traces', { 'Content-Type': 'application/x-protobuf' });
  return new base.OTLPExporterBase(
    http.createOtlpHttpExportDelegate(options, serializer, 'otlp_http_span_exporter', SPAN_METRICS_HELPER, undefined),
  );
}

function otlpExporter(protocol: OtlpProtocol): SpanExporter {
  // Each exporter reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, _HEADERS, _TIMEOUT, _COMPRESSION itself,
  // so header values (credentials) never pass through the agent.
  switch (protocol) {
    case 'grpc':
      return new (require('@opentelemetry/exporter-trace-otlp-grpc').OTLPTraceExporter)();
    case 'http/json':
      return new (require('@opentelemetry/exporter-trace-otlp-http').OTLPTraceExporter)();
    default:
      return otlpProtobufExporter();
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
