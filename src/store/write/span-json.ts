/**
 * The store's spans lines: an OTLP/JSON ExportTraceServiceRequest per batch, the same text upstream's
 * JsonTraceSerializer writes (written by ../../export/otlp-trace-json-encoder.ts), and its roots-index line
 * (../roots-index.ts). Each span is encoded when it ends (../../export/encoded-spans.ts) with its
 * roots-index row as its side part, so a batch is joined from text that is already there.
 */
import type { HrTime } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { EncodedSpanQueue, type EncodedSpanBatch, type SpanEncoding } from '../../export/encoded-spans';
import { writeJsonTraceRequest, writeSpanJson } from '../../export/otlp-trace-json-encoder';
import { ProtobufWriter } from '../../export/protobuf-writer';
import { PROFILE_ID_ATTRIBUTE } from '../../profile-format';

/** Side part markers: a local root's row, or a link of a span under it that has its own profile id. */
const ROOT_ROW = 0x52; // 'R'
const LINK_ROW = 0x4c; // 'L'

/** Unix nanoseconds of an HrTime as a decimal string (exact: no float product), for the roots-index row. */
function nanos(time: HrTime): string {
  const seconds = Math.trunc(time[0]);
  const nanoseconds = Math.trunc(time[1]);
  if (seconds > 0 && seconds < 0x1_0000_0000 && nanoseconds >= 0 && nanoseconds < 1e9) return String(seconds) + String(nanoseconds).padStart(9, '0');
  return (BigInt(seconds) * 1_000_000_000n + BigInt(nanoseconds)).toString();
}

/** The span's roots-index row (see ../roots-index.ts): a local root's, a profiled child's link, or none. */
function rootsRow(span: ReadableSpan): string {
  const parent = span.parentSpanContext;
  const ctx = span.spanContext();
  const profileId = span.attributes[PROFILE_ID_ATTRIBUTE];
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
  writeJsonTraceRequest(out, batch);
  out.text('\n');
  const spansLine = Buffer.from(out.finish());

  // The roots index: rows in span order; the service of the first local root (as the index has always said).
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
