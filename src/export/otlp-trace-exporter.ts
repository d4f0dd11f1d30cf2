/**
 * The OTLP/HTTP span exporters (protobuf and JSON): upstream's exporter base (OTEL_EXPORTER_OTLP_* endpoint,
 * headers, timeout and compression, retries, the bounded queue: all read and done by it, so header values
 * never pass through the agent) with our one-pass encoders and response decoders (./otlp-trace-encoder.ts,
 * ./otlp-trace-json-encoder.ts) instead of `@opentelemetry/otlp-transformer`'s serializers, which would
 * also load the metrics SDK (about 80 modules) at start-up. Both also take batches of spans encoded when
 * they ended (./encoded-spans.ts). The exporter base is the one upstream's exporter package depends on; if
 * that layout ever changes, upstream's exporter is used as it is.
 */
import { createRequire } from 'node:module';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import type { SpanEncoding } from './encoded-spans';
import type { SlicedEncoder } from './sliced-span-exporter';

/** What the exporter base package gives us (its public `.` and `./node-http` entries). */
interface ExporterBaseParts {
  base: { OTLPExporterBase: new (delegate: unknown) => SpanExporter };
  http: {
    createOtlpHttpExportDelegate(options: unknown, serializer: unknown, componentType: string, metricsHelper: unknown, meterProvider: unknown): unknown;
    convertLegacyHttpOptions(config: object, signal: string, path: string, headers: Record<string, string>): unknown;
  };
}

/** The exporter metrics' view of a trace export request (spans counted), as upstream's trace helper. */
const SPAN_METRICS_HELPER = { name: 'span', countItems: (request: { length: number }) => request.length };

/** Exporters built here with our encoders, and the span encoding their batches must be made with. */
const encodings = new WeakMap<SpanExporter, SpanEncoding>();
/** Exporters built here that take a request encoded in slices before the export, and its encoder. */
const slicedEncoders = new WeakMap<SpanExporter, SlicedEncoder>();

/**
 * The span encoding `exporter` accepts batches of (an `EncodedSpanBatch` in place of spans), or undefined
 * when it takes only spans (upstream's own exporter, when the layout did not match).
 */
export function encodingFor(exporter: SpanExporter): SpanEncoding | undefined {
  return encodings.get(exporter);
}

/**
 * How to encode a batch for `exporter` a slice at a time (export/sliced-span-exporter.ts), or undefined
 * when it encodes its batches itself.
 */
export function slicedEncoderFor(exporter: SpanExporter): SlicedEncoder | undefined {
  return slicedEncoders.get(exporter);
}

/** The exporter base as `packageName` (upstream's exporter) depends on it, or undefined if its layout differs. */
function exporterBase(packageName: string): ExporterBaseParts | undefined {
  try {
    const fromExporter = createRequire(require.resolve(packageName));
    const parts: ExporterBaseParts = { base: fromExporter('@opentelemetry/otlp-exporter-base'), http: fromExporter('@opentelemetry/otlp-exporter-base/node-http') };
    if (typeof parts.http.createOtlpHttpExportDelegate !== 'function' || typeof parts.base.OTLPExporterBase !== 'function') return undefined;
    return parts;
  } catch {
    return undefined;
  }
}

function build(parts: ExporterBaseParts, contentType: string, serializer: object, componentType: string, encoding: SpanEncoding): SpanExporter {
  const { base, http } = parts;
  const options = http.convertLegacyHttpOptions({}, 'TRACES', 'v1/traces', { 'Content-Type': contentType });
  const exporter = new base.OTLPExporterBase(http.createOtlpHttpExportDelegate(options, serializer, componentType, SPAN_METRICS_HELPER, undefined));
  encodings.set(exporter, encoding);
  return exporter;
}

/** A span exporter for OTLP/HTTP protobuf; reads its settings from the environment as upstream's does. */
export function createOtlpProtobufTraceExporter(): SpanExporter {
  const parts = exporterBase('@opentelemetry/exporter-trace-otlp-proto');
  if (parts === undefined) {
    // (The class is taken into a const first: `new (require(...) as T).Class()` loses its parentheses in
    // TypeScript 7's output.)
    const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto') as typeof import('@opentelemetry/exporter-trace-otlp-proto');
    return new OTLPTraceExporter();
  }
  const encoder = require('./otlp-trace-encoder') as typeof import('./otlp-trace-encoder');
  const serializer = { serializeRequest: encoder.encodeTraceExportItems, deserializeResponse: encoder.decodeTraceExportResponse };
  const exporter = build(parts, 'application/x-protobuf', serializer, 'otlp_http_span_exporter', encoder.OTLP_PROTOBUF_SPAN_ENCODING);
  slicedEncoders.set(exporter, (spans) => encoder.encodeTraceExportRequestInSlices(spans));
  return exporter;
}

/** A span exporter for OTLP/HTTP JSON; reads its settings from the environment as upstream's does. */
export function createOtlpJsonTraceExporter(): SpanExporter {
  const parts = exporterBase('@opentelemetry/exporter-trace-otlp-http');
  if (parts === undefined) {
    const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
    return new OTLPTraceExporter();
  }
  const encoder = require('./otlp-trace-json-encoder') as typeof import('./otlp-trace-json-encoder');
  const serializer = { serializeRequest: encoder.encodeJsonTraceExportItems, deserializeResponse: encoder.decodeJsonTraceExportResponse };
  return build(parts, 'application/json', serializer, 'otlp_http_span_exporter', encoder.OTLP_JSON_SPAN_ENCODING);
}
