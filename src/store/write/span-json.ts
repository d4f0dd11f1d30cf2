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

/** `{"key":<key>,"value":` by key; bounded so that keys made from data cannot grow it without end. */
const keyPrefixes = new Map<string, string>();
const MAX_KEYS = 2048;

function keyPrefix(key: string): string {
  let prefix = keyPrefixes.get(key);
  if (prefix === undefined) {
    prefix = `{"key":${JSON.stringify(key)},"value":`;
    if (keyPrefixes.size < MAX_KEYS) keyPrefixes.set(key, prefix);
  }
  return prefix;
}

/** A number as JSON.stringify writes it (NaN and infinities as null). */
function jsonNumber(value: number): string {
  return Number.isFinite(value) ? String(value) : 'null';
}

/** Unix nanoseconds of an HrTime, as a decimal string (exact: no float product). */
function nanos(time: HrTime): string {
  const seconds = Math.trunc(time[0]);
  const nanoseconds = Math.trunc(time[1]);
  if (seconds > 0 && nanoseconds >= 0 && nanoseconds < 1e9 && seconds < 1e15) {
    return String(seconds) + String(nanoseconds).padStart(9, '0');
  }
  return (BigInt(seconds) * 1_000_000_000n + BigInt(nanoseconds)).toString();
}

function anyValue(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return `{"stringValue":${JSON.stringify(value)}}`;
    case 'number':
      return Number.isInteger(value) ? `{"intValue":${jsonNumber(value)}}` : `{"doubleValue":${jsonNumber(value)}}`;
    case 'boolean':
      return value ? '{"boolValue":true}' : '{"boolValue":false}';
    case 'object': {
      if (value === null) return '{}';
      if (value instanceof Uint8Array) return `{"bytesValue":"${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')}"}`;
      if (Array.isArray(value)) {
        let text = '{"arrayValue":{"values":[';
        for (let i = 0; i < value.length; i++) text += (i === 0 ? '' : ',') + anyValue(value[i]);
        return text + ']}}';
      }
      const record = value as Record<string, unknown>;
      let text = '{"kvlistValue":{"values":[';
      let first = true;
      for (const key of Object.keys(record)) {
        text += (first ? '' : ',') + keyPrefix(key) + anyValue(record[key]) + '}';
        first = false;
      }
      return text + ']}}';
    }
    default:
      return '{}';
  }
}

/** `[KeyValue, ...]` in the object's own key order (Object.keys, as upstream). */
function attributes(values: Record<string, unknown> | undefined): string {
  if (values === undefined) return '[]';
  let text = '[';
  let first = true;
  for (const key of Object.keys(values)) {
    text += (first ? '' : ',') + keyPrefix(key) + anyValue(values[key]) + '}';
    first = false;
  }
  return text + ']';
}

/** `,"name":value` for a value JSON.stringify would write, nothing for undefined (which it leaves out). */
function optional(name: string, value: unknown): string {
  return value === undefined ? '' : `,"${name}":${JSON.stringify(value)}`;
}

function flagsOf(traceFlags: number, isRemote: boolean | undefined): number {
  return (traceFlags & 0xff) | FLAGS_HAS_IS_REMOTE | (isRemote ? FLAGS_IS_REMOTE : 0);
}

/** One span as upstream's `sdkSpanToOtlpSpan` + JSON.stringify write it. */
export function spanJson(span: ReadableSpan): string {
  const ctx = span.spanContext();
  const parent = span.parentSpanContext;
  let text = `{"traceId":${JSON.stringify(ctx.traceId)},"spanId":${JSON.stringify(ctx.spanId)}`;
  if (parent?.spanId) text += `,"parentSpanId":${JSON.stringify(parent.spanId)}`;
  text += optional('traceState', ctx.traceState?.serialize());
  text += `,"name":${JSON.stringify(span.name)},"kind":${span.kind == null ? 0 : span.kind + 1}`;
  text += `,"startTimeUnixNano":"${nanos(span.startTime)}","endTimeUnixNano":"${nanos(span.endTime)}"`;
  text += `,"attributes":${attributes(span.attributes)}` + optional('droppedAttributesCount', span.droppedAttributesCount);
  text += ',"events":[';
  for (let i = 0; i < span.events.length; i++) {
    const event = span.events[i]!;
    text += `${i === 0 ? '' : ','}{"attributes":${attributes(event.attributes)},"name":${JSON.stringify(event.name)}`;
    text += `,"timeUnixNano":"${nanos(event.time)}","droppedAttributesCount":${event.droppedAttributesCount || 0}}`;
  }
  text += ']' + optional('droppedEventsCount', span.droppedEventsCount);
  text += `,"status":{"code":${JSON.stringify(span.status.code)}${optional('message', span.status.message)}}`;
  text += ',"links":[';
  for (let i = 0; i < span.links.length; i++) {
    const link = span.links[i]!;
    text += `${i === 0 ? '' : ','}{"attributes":${attributes(link.attributes)},"spanId":${JSON.stringify(link.context.spanId)}`;
    text += `,"traceId":${JSON.stringify(link.context.traceId)}` + optional('traceState', link.context.traceState?.serialize());
    text += `,"droppedAttributesCount":${link.droppedAttributesCount || 0},"flags":${flagsOf(link.context.traceFlags, link.context.isRemote)}}`;
  }
  text += ']' + optional('droppedLinksCount', span.droppedLinksCount);
  return text + `,"flags":${flagsOf(ctx.traceFlags, parent?.isRemote)}}`;
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
    out.text(spanJson(span));
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
    out.text(`${firstResource ? '' : ','}{"resource":{"attributes":${attributes(resource.attributes)},"droppedAttributesCount":0${optional('schemaUrl', schemaUrl)}},"scopeSpans":[`);
    firstResource = false;
    let firstScope = true;
    for (const { scope, spans } of scopes) {
      const scopeAttributes = (scope as { attributes?: Record<string, unknown> }).attributes;
      let scopeText = `{"scope":{"name":${JSON.stringify(scope.name)}${optional('version', scope.version)}`;
      if (scopeAttributes && Object.keys(scopeAttributes).length > 0) {
        scopeText += `,"attributes":${attributes(scopeAttributes)},"droppedAttributesCount":${(scope as { droppedAttributesCount?: number }).droppedAttributesCount ?? 0}`;
      }
      out.text(`${firstScope ? '' : ','}${scopeText}},"spans":[`);
      firstScope = false;
      for (let k = 0; k < spans.length; k++) {
        if (k > 0) out.text(',');
        out.raw(batch.body(spans[k]!));
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
    const side = batch.side(i);
    if (side.length === 0) continue;
    if (side[0] === ROOT_ROW) {
      service ??= String(batch.groupOfSpan(i).resource.attributes['service.name'] ?? '');
      roots += (roots === '' ? '' : ',') + side.toString('utf8', 1);
    } else if (side[0] === LINK_ROW) {
      links += (links === '' ? '' : ',') + side.toString('utf8', 1);
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
