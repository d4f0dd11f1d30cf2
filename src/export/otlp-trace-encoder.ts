/**
 * OTLP trace export requests (`ExportTraceServiceRequest`, opentelemetry-proto trace/v1) encoded in one pass
 * from the SDK's spans with the agent's protobuf writer. The upstream serializer walks every batch twice
 * (a size pass, then the write) and allocates the bytes of every id; here each span is written once, ids
 * straight from their hex, and an attribute key (the same few dozen keys on every span) is encoded once
 * per process and then copied. Same messages as upstream's `ProtobufTraceSerializer`: the tests decode
 * both with protobufjs over the proto and compare.
 */
import type { Attributes, HrTime, SpanContext } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { EncodedSpanBatch, type SpanEncoding } from './encoded-spans';
import { ProtobufWriter } from './protobuf-writer';
import { SliceClock } from '../slice-clock';

/** Span.flags bits (trace/v1): the low byte is the W3C trace flags; then "is_remote is known" and "is remote". */
const FLAGS_HAS_IS_REMOTE = 0x100;
const FLAGS_IS_REMOTE = 0x200;
const TWO_16 = 0x1_0000;
const TWO_32 = 0x1_0000_0000;
const MIN_INT64 = -(2 ** 63);
const MAX_INT64 = 2 ** 63;

/** Encoded `KeyValue.key` fields by key; bounded so that keys made from data cannot grow it without end. */
const encodedKeys = new Map<string, Buffer>();
const MAX_ENCODED_KEYS = 2048;

function encodedKey(key: string): Buffer | undefined {
  let encoded = encodedKeys.get(key);
  if (encoded === undefined && encodedKeys.size < MAX_ENCODED_KEYS) {
    const writer = new ProtobufWriter(key.length * 3 + 8);
    writer.string(1, key, true);
    encoded = Buffer.from(writer.finish());
    encodedKeys.set(key, encoded);
  }
  return encoded;
}

function flagsOf(traceFlags: number, isRemote: boolean | undefined): number {
  return (traceFlags & 0xff) | FLAGS_HAS_IS_REMOTE | (isRemote ? FLAGS_IS_REMOTE : 0);
}

/** An HrTime as fixed64 Unix nanoseconds, exact: seconds * 1e9 exceeds 2^53, so it is summed in halves. */
function writeTime(writer: ProtobufWriter, field: number, time: HrTime): void {
  const seconds = time[0];
  const nanos = time[1];
  const secondsHigh = Math.floor(seconds / TWO_16);
  const a = secondsHigh * 1e9; // times 2^16, below 2^46
  const b = (seconds - secondsHigh * TWO_16) * 1e9 + nanos; // below 2^47
  let low = (a % TWO_16) * TWO_16 + (b % TWO_32);
  let high = Math.floor(a / TWO_16) + Math.floor(b / TWO_32);
  if (low >= TWO_32) {
    low -= TWO_32;
    high += 1;
  }
  writer.fixed64Parts(field, low, high);
}

/** An `AnyValue` message's fields (its oneof member is written even when zero or empty). */
function writeAnyValue(writer: ProtobufWriter, value: unknown): void {
  switch (typeof value) {
    case 'string':
      writer.string(1, value, true);
      return;
    case 'boolean':
      writer.uint(2, value ? 1 : 0, true);
      return;
    case 'number':
      if (Number.isInteger(value) && value >= MIN_INT64 && value < MAX_INT64) writer.int(3, value, true);
      else writer.double(4, value, true);
      return;
    case 'object':
      if (value === null) return;
      if (value instanceof Uint8Array) {
        writer.bytes(7, value, true);
      } else if (Array.isArray(value)) {
        writer.begin(5);
        for (const item of value as unknown[]) {
          writer.begin(1);
          writeAnyValue(writer, item);
          writer.end();
        }
        writer.end();
      } else {
        writer.begin(6);
        writeAttributes(writer, value as Record<string, unknown>, 1);
        writer.end();
      }
      return;
    default:
      // undefined (an attribute set to nothing): an empty AnyValue, as upstream.
      return;
  }
}

/** `repeated KeyValue` at `field`, in the object's own enumerable key order. */
function writeAttributes(writer: ProtobufWriter, attributes: Attributes | Record<string, unknown>, field: number): void {
  for (const key in attributes) {
    if (!Object.prototype.hasOwnProperty.call(attributes, key)) continue;
    writer.begin(field);
    const encoded = encodedKey(key);
    if (encoded !== undefined) writer.raw(encoded);
    else writer.string(1, key, true);
    writer.begin(2);
    writeAnyValue(writer, (attributes as Record<string, unknown>)[key]);
    writer.end();
    writer.end();
  }
}

function writeIds(writer: ProtobufWriter, context: SpanContext): void {
  writer.hexBytes(1, context.traceId);
  writer.hexBytes(2, context.spanId);
  const traceState = context.traceState?.serialize();
  if (traceState) writer.string(3, traceState);
}

function writeSpan(writer: ProtobufWriter, span: ReadableSpan): void {
  const context = span.spanContext();
  writeIds(writer, context);
  const parent = span.parentSpanContext;
  if (parent?.spanId) writer.hexBytes(4, parent.spanId);
  writer.string(5, span.name);
  if (span.kind != null) writer.uint(6, span.kind + 1);
  writeTime(writer, 7, span.startTime);
  writeTime(writer, 8, span.endTime);
  if (span.attributes) writeAttributes(writer, span.attributes, 9);
  writer.uint(10, span.droppedAttributesCount);
  for (const event of span.events) {
    writer.begin(11);
    writeTime(writer, 1, event.time);
    writer.string(2, event.name);
    if (event.attributes) writeAttributes(writer, event.attributes, 3);
    writer.uint(4, event.droppedAttributesCount ?? 0);
    writer.end();
  }
  writer.uint(12, span.droppedEventsCount);
  for (const link of span.links) {
    writer.begin(13);
    writeIds(writer, link.context);
    if (link.attributes) writeAttributes(writer, link.attributes, 4);
    writer.uint(5, link.droppedAttributesCount ?? 0);
    writer.fixed32(6, flagsOf(link.context.traceFlags, link.context.isRemote));
    writer.end();
  }
  writer.uint(14, span.droppedLinksCount);
  writer.begin(15);
  if (span.status.message) writer.string(2, span.status.message);
  writer.uint(3, span.status.code);
  writer.end();
  writer.fixed32(16, flagsOf(context.traceFlags, parent?.isRemote));
}

/** Spans written between two steps of {@link writeRequest}. */
const SPANS_PER_STEP = 16;

/**
 * Spans grouped by resource, then scope, in first-appearance order; `write` writes one span's body. A step
 * ends every {@link SPANS_PER_STEP} spans: drain it in one go ({@link drain}) or a slice at a time.
 */
function* writeRequest<T>(
  writer: ProtobufWriter,
  groups: Iterable<{ resource: ReadableSpan['resource']; scopes: Iterable<{ scope: ReadableSpan['instrumentationScope']; spans: T[] }> }>,
  write: (writer: ProtobufWriter, span: T) => void,
): Generator<void, void, void> {
  let written = 0;
  for (const { resource, scopes } of groups) {
    writer.begin(1);
    writer.begin(1);
    if (resource.attributes) writeAttributes(writer, resource.attributes, 1);
    writer.end();
    for (const { scope, spans } of scopes) {
      writer.begin(2);
      writer.begin(1);
      writer.string(1, scope.name);
      if (scope.version) writer.string(2, scope.version);
      const scopeAttributes = (scope as { attributes?: Attributes }).attributes;
      if (scopeAttributes) writeAttributes(writer, scopeAttributes, 3);
      writer.end();
      for (const span of spans) {
        write(writer, span);
        if (++written === SPANS_PER_STEP) {
          written = 0;
          yield;
        }
      }
      if (scope.schemaUrl) writer.string(3, scope.schemaUrl);
      writer.end();
    }
    if (resource.schemaUrl) writer.string(3, resource.schemaUrl);
    writer.end();
  }
}

function drain(steps: Generator<void, void, void>): void {
  while (!steps.next().done);
}

function writeSpanMessage(writer: ProtobufWriter, span: ReadableSpan): void {
  writer.begin(2);
  writeSpan(writer, span);
  writer.end();
}

/** `spans` by resource, then by scope (both by identity, as the SDK shares those objects), in order of first appearance. */
function groupByResource(spans: readonly ReadableSpan[]): ResourceGroups<ReadableSpan> {
  const byResource = new Map<ReadableSpan['resource'], Map<ReadableSpan['instrumentationScope'], ReadableSpan[]>>();
  for (const span of spans) {
    let byScope = byResource.get(span.resource);
    if (byScope === undefined) {
      byScope = new Map();
      byResource.set(span.resource, byScope);
    }
    const list = byScope.get(span.instrumentationScope);
    if (list === undefined) byScope.set(span.instrumentationScope, [span]);
    else list.push(span);
  }
  return [...byResource].map(([resource, byScope]) => ({ resource, scopes: [...byScope].map(([scope, list]) => ({ scope, spans: list })) }));
}

type ResourceGroups<T> = Array<{ resource: ReadableSpan['resource']; scopes: Array<{ scope: ReadableSpan['instrumentationScope']; spans: T[] }> }>;

/**
 * The request for `spans`: one ResourceSpans per resource and one ScopeSpans per instrumentation scope
 * (both by identity, as the SDK shares those objects), spans in the order given.
 */
export function encodeTraceExportRequest(spans: readonly ReadableSpan[]): Uint8Array {
  const { writer, steps } = spanRequest(spans);
  drain(steps);
  return writer.finish();
}

/** The writer of the request for `spans` and the steps that write it, in one go or a slice at a time. */
function spanRequest(spans: readonly ReadableSpan[]): { writer: ProtobufWriter; steps: Generator<void, void, void> } {
  const writer = new ProtobufWriter(spans.length * 768 + 1024);
  return { writer, steps: writeRequest(writer, groupByResource(spans), writeSpanMessage) };
}

/** A request already encoded ({@link encodeTraceExportRequestInSlices}); `length` spans, for the exporter's metrics. */
export class EncodedTraceExportRequest {
  constructor(
    readonly bytes: Uint8Array,
    readonly length: number,
  ) {}
}

/** Encoding time per event-loop turn when a request is encoded in slices, ms (a span takes 1-2 µs). */
export const REQUEST_SLICE_MS = 0.5;

/**
 * {@link encodeTraceExportRequest}'s bytes, written a slice of about `sliceMs` at a time with a turn of the
 * event loop between slices: a batch of 512 spans is not one long turn. Rejects with what the encoding throws.
 */
export async function encodeTraceExportRequestInSlices(spans: readonly ReadableSpan[], sliceMs = REQUEST_SLICE_MS): Promise<EncodedTraceExportRequest> {
  const { writer, steps } = spanRequest(spans);
  const clock = new SliceClock(sliceMs, SPANS_PER_STEP);
  clock.begin();
  while (!steps.next().done) {
    const turn = clock.tick(SPANS_PER_STEP);
    if (turn !== undefined) await turn;
  }
  return new EncodedTraceExportRequest(writer.finish(), spans.length);
}

/** A span's `Span` message fields, written when it ends (see ./encoded-spans.ts). */
export const OTLP_PROTOBUF_SPAN_ENCODING: SpanEncoding = { body: (span, out) => writeSpan(out, span) };

/**
 * The request for a batch of spans encoded when they ended with {@link OTLP_PROTOBUF_SPAN_ENCODING}: the
 * same bytes {@link encodeTraceExportRequest} gives for those spans, with each span's bytes copied.
 */
export function encodeEncodedTraceExportRequest(batch: EncodedSpanBatch): Uint8Array {
  const writer = new ProtobufWriter(batch.byteLength + batch.length * 4 + 1024);
  drain(writeRequest(writer, batch.byResource(), (w, i: number) => batch.writeBody(i, w, 2)));
  return writer.finish();
}

/**
 * The request for what an exporter was given: spans, a batch of spans encoded when they ended, or a request
 * encoded in slices before the export.
 */
export function encodeTraceExportItems(items: readonly ReadableSpan[] | EncodedSpanBatch | EncodedTraceExportRequest): Uint8Array {
  if (items instanceof EncodedTraceExportRequest) return items.bytes;
  return items instanceof EncodedSpanBatch ? encodeEncodedTraceExportRequest(items) : encodeTraceExportRequest(items);
}

/** What an OTLP trace endpoint answers (collector/trace/v1 ExportTraceServiceResponse), as upstream's deserializer gives it. */
export interface TraceExportResponse {
  partialSuccess?: { rejectedSpans?: number; errorMessage?: string };
}

/** A protobuf reader over one message: just what the response needs. Throws on a truncated message. */
class FieldReader {
  position = 0;
  constructor(private readonly data: Uint8Array) {}

  get atEnd(): boolean {
    return this.position >= this.data.length;
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (;;) {
      if (this.position >= this.data.length) throw new Error('truncated protobuf message');
      const byte = this.data[this.position++]!;
      result += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return result;
      scale *= 0x80;
    }
  }

  bytes(): Uint8Array {
    const length = this.varint();
    if (this.position + length > this.data.length) throw new Error('truncated protobuf message');
    const value = this.data.subarray(this.position, this.position + length);
    this.position += length;
    return value;
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.position += 8;
    else if (wireType === 2) this.bytes();
    else if (wireType === 5) this.position += 4;
    else throw new Error(`unsupported protobuf wire type ${wireType}`);
    if (this.position > this.data.length) throw new Error('truncated protobuf message');
  }
}

/**
 * The endpoint's answer: `partial_success` {1: rejected_spans, 2: error_message} when present (an empty
 * object when present and empty), other fields skipped.
 */
export function decodeTraceExportResponse(data: Uint8Array): TraceExportResponse {
  const response: TraceExportResponse = {};
  const outer = new FieldReader(data);
  while (!outer.atEnd) {
    const tag = outer.varint();
    if (tag >>> 3 !== 1 || (tag & 7) !== 2) {
      outer.skip(tag & 7);
      continue;
    }
    const partial: NonNullable<TraceExportResponse['partialSuccess']> = {};
    const inner = new FieldReader(outer.bytes());
    while (!inner.atEnd) {
      const field = inner.varint();
      if (field === 0x08) partial.rejectedSpans = inner.varint();
      else if (field === 0x12) partial.errorMessage = Buffer.from(inner.bytes()).toString('utf8');
      else inner.skip(field & 7);
    }
    response.partialSuccess = partial;
  }
  return response;
}
