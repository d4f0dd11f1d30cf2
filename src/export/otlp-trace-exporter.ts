/**
 * The OTLP/HTTP protobuf span exporter: upstream's exporter base (OTEL_EXPORTER_OTLP_* endpoint, headers,
 * timeout and compression, retries, the bounded queue: all read and done by it, so header values never
 * pass through the agent) with our one-pass encoder and response decoder (./otlp-trace-encoder.ts)
 * instead of `@opentelemetry/otlp-transformer`'s serializer, which would also load the metrics SDK (about
 * 80 modules) at start-up. The exporter base is the one `@opentelemetry/exporter-trace-otlp-proto` depends
 * on; if that layout ever changes, upstream's exporter is used as it is.
 */
import { createRequire } from 'node:module';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import { decodeTraceExportResponse, encodeTraceExportItems } from './otlp-trace-encoder';

/** Exporters built here with our encoder: they also take batches of spans encoded when they ended. */
const takesEncodedBatches = new WeakSet<SpanExporter>();

/**
 * Whether `exporter` accepts an `EncodedSpanBatch` (./encoded-spans.ts) in place of spans: true for the
 * exporter {@link createOtlpProtobufTraceExporter} built on upstream's base, false for upstream's own.
 */
export function acceptsEncodedSpans(exporter: SpanExporter): boolean {
  return takesEncodedBatches.has(exporter);
}

/** What the exporter base package gives us (its public `.` and `./node-http` entries). */
interface ExporterBaseParts {
  base: { OTLPExporterBase: new (delegate: unknown) => SpanExporter };
  http: {
    createOtlpHttpExportDelegate(options: unknown, serializer: unknown, componentType: string, metricsHelper: unknown, meterProvider: unknown): unknown;
    convertLegacyHttpOptions(config: object, signal: string, path: string, headers: Record<string, string>): unknown;
  };
}

/** The exporter metrics' view of a trace export request (spans counted), as upstream's trace helper. */
const SPAN_METRICS_HELPER = { name: 'span', countItems: (request: readonly unknown[]) => request.length };

/** A span exporter for OTLP/HTTP protobuf; reads its settings from the environment as upstream's does. */
export function createOtlpProtobufTraceExporter(): SpanExporter {
  let parts: ExporterBaseParts;
  try {
    const fromExporter = createRequire(require.resolve('@opentelemetry/exporter-trace-otlp-proto'));
    parts = { base: fromExporter('@opentelemetry/otlp-exporter-base'), http: fromExporter('@opentelemetry/otlp-exporter-base/node-http') };
    if (typeof parts.http.createOtlpHttpExportDelegate !== 'function' || typeof parts.base.OTLPExporterBase !== 'function') throw new Error('layout');
  } catch {
    // (The class is taken into a const first: `new (require(...) as T).Class()` loses its parentheses in
    // TypeScript 7's output.)
    const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto') as typeof import('@opentelemetry/exporter-trace-otlp-proto');
    return new OTLPTraceExporter();
  }
  const { base, http } = parts;
  const serializer = { serializeRequest: encodeTraceExportItems, deserializeResponse: decodeTraceExportResponse };
  const options = http.convertLegacyHttpOptions({}, 'TRACES', 'v1/traces', { 'Content-Type': 'application/x-protobuf' });
  const exporter = new base.OTLPExporterBase(
    http.createOtlpHttpExportDelegate(options, serializer, 'otlp_http_span_exporter', SPAN_METRICS_HELPER, undefined),
  );
  takesEncodedBatches.add(exporter);
  return exporter;
}
