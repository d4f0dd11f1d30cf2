/**
 * A trace as the waterfall on a span's page: its spans in call order (depth-first, children by start
 * time), each with its offset from the trace's start. Spans whose parent is not in the store (sent
 * elsewhere, or cut by the size cap) start their own branch at depth 0.
 */

import type { StoredSpan } from '../../store/read/reader';

/** Rows beyond this are left out (and counted): a waterfall of thousands of rows helps nobody. */
export const MAX_WATERFALL_ROWS = 2000;

export interface WaterfallRow {
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  service: string;
  /** OTLP SpanKind number. */
  kind: number;
  statusCode: number;
  depth: number;
  /** Milliseconds from the trace's first start. */
  offsetMs: number;
  durationMs: number;
  startMs: number;
  /** `pyroscope.profile.id`: set on local roots, whose CPU samples carry it. */
  profileId: string | undefined;
  /** A few attributes worth showing on hover (HTTP route, status, URL...). */
  attributes: Record<string, unknown>;
}

export interface Waterfall {
  traceId: string;
  startMs: number;
  durationMs: number;
  rows: WaterfallRow[];
  /** Spans of the trace not shown because of {@link MAX_WATERFALL_ROWS}. */
  omitted: number;
}

const SHOWN_ATTRIBUTES = [
  'http.request.method',
  'http.route',
  'http.response.status_code',
  'url.full',
  'url.path',
  'server.address',
  'db.system',
  'db.query.text',
  'db.statement',
  'error.type',
];

/** Lays out the spans of one trace. */
export function buildWaterfall(traceId: string, traceSpans: readonly StoredSpan[]): Waterfall {
  const byId = new Map<string, StoredSpan>();
  for (const span of traceSpans) byId.set(span.spanId, span);
  const children = new Map<string, StoredSpan[]>();
  const tops: StoredSpan[] = [];
  for (const span of traceSpans) {
    if (span.parentSpanId !== undefined && span.parentSpanId !== span.spanId && byId.has(span.parentSpanId)) {
      let list = children.get(span.parentSpanId);
      if (list === undefined) children.set(span.parentSpanId, (list = []));
      list.push(span);
    } else {
      tops.push(span);
    }
  }
  const byStart = (x: StoredSpan, y: StoredSpan): number => x.startMs - y.startMs || x.spanId.localeCompare(y.spanId);
  const startMs = Math.min(...traceSpans.map((s) => s.startMs));
  const endMs = Math.max(...traceSpans.map((s) => s.endMs));

  const rows: WaterfallRow[] = [];
  const visited = new Set<string>();
  // Iterative depth-first walk: traces can be deep, and a malformed one may loop.
  const stack: Array<{ span: StoredSpan; depth: number }> = [...tops].sort(byStart).reverse().map((span) => ({ span, depth: 0 }));
  while (stack.length > 0 && rows.length < MAX_WATERFALL_ROWS) {
    const { span, depth } = stack.pop()!;
    if (visited.has(span.spanId)) continue;
    visited.add(span.spanId);
    rows.push({
      spanId: span.spanId,
      parentSpanId: span.parentSpanId,
      name: span.name,
      service: span.service,
      kind: span.kind,
      statusCode: span.statusCode,
      depth,
      offsetMs: span.startMs - startMs,
      durationMs: span.durationMs,
      startMs: span.startMs,
      profileId: span.profileId,
      attributes: pick(span.attributes),
    });
    const kids = children.get(span.spanId);
    if (kids !== undefined) for (const kid of [...kids].sort(byStart).reverse()) stack.push({ span: kid, depth: depth + 1 });
  }
  return {
    traceId,
    startMs: Number.isFinite(startMs) ? startMs : 0,
    durationMs: Number.isFinite(endMs - startMs) ? endMs - startMs : 0,
    rows,
    omitted: traceSpans.length - rows.length,
  };
}

function pick(attributes: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of SHOWN_ATTRIBUTES) if (attributes[key] !== undefined) out[key] = attributes[key];
  return out;
}
