/**
 * The store's spans lines in one pass: an OTLP/JSON ExportTraceServiceRequest per batch, the same text
 * `@opentelemetry/otlp-transformer`'s JsonTraceSerializer writes (hex ids, times as decimal strings,
 * same field order; the tests compare both), without building the request as objects first and without
 * loading otlp-transformer (and the metrics and logs SDKs it pulls in). Each span is encoded when it ends
 * (./../../export/encoded-spans.ts), with its roots-index row (../roots-index.ts) as its side part, so a
 * batch is joined from text that is already there.
 */
import type { HrTime } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { EncodedSpanQueue, type EncodedSpanBatch, type SpanEncoding } from '../../export/encoded-spans';
import { ProtobufWriter } from '../../export/protobuf-writer';

const PROFILE_ID = 'pyroscope.profile.id';
const FLAGS_HAS_IS_REMOTE = 0x100;
const FLAGS_IS_REMOTE = 0x200;
/** Side part markers: a local root's row, or a link of a span under it that has its own profile id. */
const ROOT_ROW = 0x52; // 'R'
const LINK_ROW = 0x4c; // 'L'

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

/** The same, as a string (for the roots-index row). */
function nanos(time: HrTime): string {
  const seconds = Math.trunc(time[0]);
  const nanoseconds = Math.trunc(time[1]);
  if (seconds > 0 && seconds < 0x1_0000_0000 && nanoseconds >= 0 && nanoseconds < 1e9) return String(seconds) + String(nanoseconds).padStart(9, '0');
  return (BigInt(seconds) * 1_000_000_000n + BigInt(nanoseconds)).toString();
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

/** The span's roots-index row (see ../roots-index.ts): a local root's, a profiled child's link, or none. */
function rootsRow(span: ReadableSpan): string {
  const parent = span.parentSpanContext;
  const ctx = span.spanContext();
  const profileId = span.attributes[PROFILE_ID];
  if (parent === undefined || parent.isRemote === true) {
    const path = span.attributes['url.path'] ?? span.attributes['http.target'];
    const row = [
      ctx.spanId,
      ctx.traceId,
      parent?.spanId ?? '',
      span.name,
      span.kind + 1, // OTLP numbers kinds from 1 (internal); the API from 0
      nanos(span.startTime),
      nanos(span.endTime),
      span.status.code,
      typeof profileId === 'string' ? profileId : '',
      typeof path === 'string' ? path : '',
    ];
    return 'R' + JSON.stringify(row);
  }
  if (typeof profileId === 'string' && profileId !== '') return 'L' + JSON.stringify([ctx.spanId, parent.spanId, profileId, ctx.traceId]);
  return '';
}

/** The store's encoding: the span's OTLP/JSON object, and its roots-index row as the side part. */
export const STORE_SPAN_ENCODING: SpanEncoding = {
  body(span, out) {
    writeSpanJson(out, span);
  },
  side(span, out) {
    const row = rootsRow(span);
    if (row !== '') out.text(row);
  },
};

/** What a batch becomes in the store: its spans line and its roots-index line, each with a newline. */
export interface StoreLines {
  spans: Buffer;
  roots: Buffer;
}

/** The spans line (an ExportTraceServiceRequest) and roots-index line of a batch encoded with {@link STORE_SPAN_ENCODING}. */
export function storeLines(batch: EncodedSpanBatch, pid: number = process.pid): StoreLines {
  const out = new ProtobufWriter(batch.byteLength + 1024);
  out.text('{"resourceSpans":[');
  let firstResource = true;
  for (const { resource, scopes } of batch.byResource()) {
    const schemaUrl = resource.schemaUrl ? resource.schemaUrl : undefined;
    out.text(firstResource ? '{"resource":{"attributes":' : ',{"resource":{"attributes":');
    writeAttributes(out, resource.attributes);
    out.text(`,"droppedAttributesCount":0${optional('schemaUrl', schemaUrl)}},"scopeSpans":[`);
    firstResource = false;
    let firstScope = true;
    for (const { scope, spans } of scopes) {
      const scopeAttributes = (scope as { attributes?: Record<string, unknown> }).attributes;
      out.text(`${firstScope ? '' : ','}{"scope":{"name":${JSON.stringify(scope.name)}${optional('version', scope.version)}`);
      if (scopeAttributes && Object.keys(scopeAttributes).length > 0) {
        out.text(',"attributes":');
        writeAttributes(out, scopeAttributes);
        out.text(`,"droppedAttributesCount":${JSON.stringify((scope as { droppedAttributesCount?: number }).droppedAttributesCount ?? 0)}`);
      }
      out.text('},"spans":[');
      firstScope = false;
      for (let k = 0; k < spans.length; k++) {
        if (k > 0) out.text(',');
        batch.writeBody(spans[k]!, out);
      }
      out.text(']' + optional('schemaUrl', scope.schemaUrl) + '}');
    }
    out.text(']' + optional('schemaUrl', schemaUrl) + '}');
  }
  out.text(']}\n');
  const spansLine = Buffer.from(out.finish());

  // The roots index: rows in span order; the service of the first local root (as rootsIndexLine).
  let service: string | undefined;
  let roots = '';
  let links = '';
  for (let i = 0; i < batch.length; i++) {
    const marker = batch.sideMarker(i);
    if (marker === ROOT_ROW) {
      service ??= String(batch.groupOfSpan(i).resource.attributes['service.name'] ?? '');
      roots += (roots === '' ? '' : ',') + batch.sideText(i, 1);
    } else if (marker === LINK_ROW) {
      links += (links === '' ? '' : ',') + batch.sideText(i, 1);
    }
  }
  const rootsLine = `{"v":1,"service":${JSON.stringify(service ?? '')},"pid":${JSON.stringify(pid)},"roots":[${roots}],"links":[${links}]}\n`;
  return { spans: spansLine, roots: Buffer.from(rootsLine) };
}

/** The store lines for finished spans given as objects (an exporter called with spans, not a batch). */
export function storeLinesOfSpans(spans: readonly ReadableSpan[], pid: number = process.pid): StoreLines {
  const queue = new EncodedSpanQueue(STORE_SPAN_ENCODING);
  for (const span of spans) queue.push(span);
  return storeLines(queue.take(spans.length), pid);
}
