/**
 * OTLP/JSON trace export requests (ExportTraceServiceRequest, the Protobuf JSON mapping with hex ids and
 * times as decimal strings) written in one pass as UTF-8 bytes: the same text `@opentelemetry/otlp-transformer`'s
 * JsonTraceSerializer writes (same field order, same omissions; the tests compare both), without building
 * the request as objects first and without loading otlp-transformer (and the metrics and logs SDKs it
 * pulls in). Spans are encoded when they end (./encoded-spans.ts); a batch is joined from those bytes.
 * Used by the OTLP http/json exporter and by the local store's spans files.
 */
import { diag, type HrTime } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { EncodedSpanBatch, EncodedSpanQueue, type SpanEncoding } from './encoded-spans';
import { ProtobufWriter } from './protobuf-writer';

const FLAGS_HAS_IS_REMOTE = 0x100;
const FLAGS_IS_REMOTE = 0x200;

/** `{"key":<key>,"value":` by key, as bytes; bounded so that keys made from data cannot grow it without end. */
const keyPrefixes = new Map<string, Buffer>();
const MAX_KEYS = 2048;

function writeKeyPrefix(out: ProtobufWriter, key: string): void {
  const prefix = keyPrefixes.get(key);
  if (prefix !== undefined) return out.raw(prefix);
  const text = `{"key":${JSON.stringify(key)},"value":`;
  if (keyPrefixes.size < MAX_KEYS) keyPrefixes.set(key, Buffer.from(text));
  out.text(text);
}

/** Unix nanoseconds of an HrTime as a JSON string of its decimal digits (exact: no float product). */
function writeNanos(out: ProtobufWriter, time: HrTime): void {
  const seconds = Math.trunc(time[0]);
  const nanoseconds = Math.trunc(time[1]);
  out.text('"');
  if (seconds > 0 && seconds < 0x1_0000_0000 && nanoseconds >= 0 && nanoseconds < 1e9) {
    out.decimal(seconds, 0);
    out.decimal(nanoseconds, 9);
  } else {
    out.text((BigInt(seconds) * 1_000_000_000n + BigInt(nanoseconds)).toString());
  }
  out.text('"');
}

/** An AnyValue as upstream's toAnyValue builds it and JSON.stringify writes it. */
function writeAnyValue(out: ProtobufWriter, value: unknown): void {
  switch (typeof value) {
    case 'string':
      out.text('{"stringValue":');
      out.jsonString(value);
      out.text('}');
      return;
    case 'number':
      out.text(Number.isInteger(value) ? '{"intValue":' : '{"doubleValue":');
      out.jsonNumber(value);
      out.text('}');
      return;
    case 'boolean':
      out.text(value ? '{"boolValue":true}' : '{"boolValue":false}');
      return;
    case 'object': {
      if (value === null) return out.text('{}');
      if (value instanceof Uint8Array) {
        out.text(`{"bytesValue":"${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')}"}`);
        return;
      }
      if (Array.isArray(value)) {
        out.text('{"arrayValue":{"values":[');
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out.text(',');
          writeAnyValue(out, value[i]);
        }
        out.text(']}}');
        return;
      }
      out.text('{"kvlistValue":{"values":');
      writeAttributes(out, value as Record<string, unknown>);
      out.text('}}');
      return;
    }
    default:
      out.text('{}');
  }
}

/** `[KeyValue, ...]` in the object's own key order (Object.keys, as upstream). */
function writeAttributes(out: ProtobufWriter, values: Record<string, unknown> | undefined): void {
  out.text('[');
  if (values !== undefined) {
    let first = true;
    for (const key of Object.keys(values)) {
      if (!first) out.text(',');
      first = false;
      writeKeyPrefix(out, key);
      writeAnyValue(out, values[key]);
      out.text('}');
    }
  }
  out.text(']');
}

/** `,"name":value` for a value JSON.stringify would write, nothing for undefined (which it leaves out). */
function optional(name: string, value: unknown): string {
  return value === undefined ? '' : `,"${name}":${JSON.stringify(value)}`;
}

/** The same, written to `out`, for a string or number that may be missing. */
function writeOptional(out: ProtobufWriter, name: string, value: string | number | undefined): void {
  if (value === undefined) return;
  out.text(`,"${name}":`);
  if (typeof value === 'string') out.jsonString(value);
  else if (typeof value === 'number') out.jsonNumber(value);
  else out.text(JSON.stringify(value));
}

function flagsOf(traceFlags: number, isRemote: boolean | undefined): number {
  return (traceFlags & 0xff) | FLAGS_HAS_IS_REMOTE | (isRemote ? FLAGS_IS_REMOTE : 0);
}

/** One span as upstream's `sdkSpanToOtlpSpan` + JSON.stringify write it. */
export function writeSpanJson(out: ProtobufWriter, span: ReadableSpan): void {
  const ctx = span.spanContext();
  const parent = span.parentSpanContext;
  out.text('{"traceId":');
  out.jsonString(ctx.traceId);
  out.text(',"spanId":');
  out.jsonString(ctx.spanId);
  if (parent?.spanId) {
    out.text(',"parentSpanId":');
    out.jsonString(parent.spanId);
  }
  writeOptional(out, 'traceState', ctx.traceState?.serialize());
  out.text(',"name":');
  out.jsonString(span.name);
  out.text(',"kind":');
  out.jsonNumber(span.kind == null ? 0 : span.kind + 1);
  out.text(',"startTimeUnixNano":');
  writeNanos(out, span.startTime);
  out.text(',"endTimeUnixNano":');
  writeNanos(out, span.endTime);
  out.text(',"attributes":');
  writeAttributes(out, span.attributes);
  writeOptional(out, 'droppedAttributesCount', span.droppedAttributesCount);
  out.text(',"events":[');
  for (let i = 0; i < span.events.length; i++) {
    const event = span.events[i]!;
    out.text(i === 0 ? '{"attributes":' : ',{"attributes":');
    writeAttributes(out, event.attributes);
    out.text(',"name":');
    out.jsonString(event.name);
    out.text(',"timeUnixNano":');
    writeNanos(out, event.time);
    out.text(',"droppedAttributesCount":');
    out.jsonNumber(event.droppedAttributesCount || 0);
    out.text('}');
  }
  out.text(']');
  writeOptional(out, 'droppedEventsCount', span.droppedEventsCount);
  out.text(',"status":{"code":');
  out.text(JSON.stringify(span.status.code));
  writeOptional(out, 'message', span.status.message);
  out.text('},"links":[');
  for (let i = 0; i < span.links.length; i++) {
    const link = span.links[i]!;
    out.text(i === 0 ? '{"attributes":' : ',{"attributes":');
    writeAttributes(out, link.attributes);
    out.text(',"spanId":');
    out.jsonString(link.context.spanId);
    out.text(',"traceId":');
    out.jsonString(link.context.traceId);
    writeOptional(out, 'traceState', link.context.traceState?.serialize());
    out.text(',"droppedAttributesCount":');
    out.jsonNumber(link.droppedAttributesCount || 0);
    out.text(',"flags":');
    out.jsonNumber(flagsOf(link.context.traceFlags, link.context.isRemote));
    out.text('}');
  }
  out.text(']');
  writeOptional(out, 'droppedLinksCount', span.droppedLinksCount);
  out.text(',"flags":');
  out.jsonNumber(flagsOf(ctx.traceFlags, parent?.isRemote));
  out.text('}');
}

/** A span's OTLP/JSON object, written when it ends. */
export const OTLP_JSON_SPAN_ENCODING: SpanEncoding = { body: (span, out) => writeSpanJson(out, span) };

/** The ExportTraceServiceRequest of a batch (spans grouped by resource, then scope, in first-appearance order). */
export function writeJsonTraceRequest(out: ProtobufWriter, batch: EncodedSpanBatch): void {
  out.text('{"resourceSpans":[');
  let firstResource = true;
  for (const { resource, scopes } of batch.byResource()) {
    const schemaUrl = resource.schemaUrl ? resource.schemaUrl : undefined;
    out.text(firstResource ? '{"resource":{"attributes":' : ',{"resource":{"attributes":');
    firstResource = false;
    writeAttributes(out, resource.attributes);
    out.text(`,"droppedAttributesCount":0${optional('schemaUrl', schemaUrl)}},"scopeSpans":[`);
    let firstScope = true;
    for (const { scope, spans } of scopes) {
      const scopeAttributes = (scope as { attributes?: Record<string, unknown> }).attributes;
      out.text(`${firstScope ? '' : ','}{"scope":{"name":${JSON.stringify(scope.name)}${optional('version', scope.version)}`);
      firstScope = false;
      if (scopeAttributes && Object.keys(scopeAttributes).length > 0) {
        out.text(',"attributes":');
        writeAttributes(out, scopeAttributes);
        out.text(`,"droppedAttributesCount":${JSON.stringify((scope as { droppedAttributesCount?: number }).droppedAttributesCount ?? 0)}`);
      }
      out.text('},"spans":[');
      for (let k = 0; k < spans.length; k++) {
        if (k > 0) out.text(',');
        batch.writeBody(spans[k]!, out);
      }
      out.text(']' + optional('schemaUrl', scope.schemaUrl) + '}');
    }
    out.text(']' + optional('schemaUrl', schemaUrl) + '}');
  }
  out.text(']}');
}

/**
 * The request body for what an exporter was given: a batch encoded with {@link OTLP_JSON_SPAN_ENCODING}
 * (or an encoding whose body is the same), or span objects.
 */
export function encodeJsonTraceExportItems(items: readonly ReadableSpan[] | EncodedSpanBatch): Uint8Array {
  let batch: EncodedSpanBatch;
  if (items instanceof EncodedSpanBatch) batch = items;
  else {
    const queue = new EncodedSpanQueue(OTLP_JSON_SPAN_ENCODING);
    for (const span of items) queue.push(span);
    batch = queue.take(items.length);
  }
  const out = new ProtobufWriter(batch.byteLength + 1024);
  writeJsonTraceRequest(out, batch);
  return out.finish();
}

/** The endpoint's answer (ExportTraceServiceResponse as JSON), read as upstream's JsonTraceSerializer reads it. */
export function decodeJsonTraceExportResponse(data: Uint8Array): object {
  if (data.length === 0) return {};
  try {
    return JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8')) as object;
  } catch (error) {
    diag.warn(`Failed to parse trace export response: ${(error as Error).message}. Returning empty response`);
    return {};
  }
}
