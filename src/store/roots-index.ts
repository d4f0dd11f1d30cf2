/**
 * The roots index of a spans file: for every exported batch, one JSON line with the batch's local root
 * spans (requests, jobs) and, for spans under them that carry their own `pyroscope.profile.id`
 * (OTEL_PYROSCOPE_ROOT_SPAN_ONLY=false), the link to their parent. `report` and `view`'s list need only
 * this, so they never decompress and parse the full spans, which are 30 to 50 times larger.
 *
 *     {"v":1,"service":"shop","pid":123,
 *      "roots":[[spanId, traceId, parentSpanId|"", name, otlpKind, startUnixNano, endUnixNano, statusCode, profileId|"", urlPath|""]],
 *      "links":[[spanId, parentSpanId, profileId, traceId]]}
 *
 * Written by the store's span writer (write/span-json.ts): each span's row is encoded when the span ends,
 * and a batch's line is joined from those rows, off the request path.
 */

import type { StoredSpan } from './read/reader';

type RootRow = [string, string, string, string, number, string, string, number, string, string];
type LinkRow = [string, string, string, string];

interface RootsLine {
  v: 1;
  service: string;
  pid: number;
  roots: RootRow[];
  links: LinkRow[];
}

const nanosToMs = (text: string): number => {
  const ns = BigInt(text);
  return Number(ns / 1000n) / 1000;
};

/**
 * The spans of index lines: every local root as a {@link StoredSpan} (attributes reduced to the URL
 * path), and every link as a nameless span under its parent, so label ids resolve to their root.
 * Throws on a line that is not an index line.
 */
export function spansOfRootsIndex(text: string, serviceDir: string, filePid: number | undefined, out: StoredSpan[]): number {
  let bad = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let parsed: RootsLine;
    try {
      parsed = JSON.parse(line) as RootsLine;
      if (parsed?.v !== 1 || !Array.isArray(parsed.roots)) throw new Error('not a roots index line');
    } catch {
      bad++;
      continue;
    }
    const service = parsed.service || serviceDir;
    const pid = Number.isSafeInteger(parsed.pid) ? parsed.pid : filePid;
    const resource: Record<string, unknown> = { 'service.name': service, 'process.pid': pid };
    for (const row of parsed.roots) {
      const [spanId, traceId, parentSpanId, name, kind, start, end, statusCode, profileId, urlPath] = row;
      let startMs: number;
      let endMs: number;
      try {
        startMs = nanosToMs(start);
        endMs = nanosToMs(end);
      } catch {
        bad++;
        continue;
      }
      out.push({
        traceId,
        spanId,
        parentSpanId: parentSpanId || undefined,
        name,
        kind,
        startMs,
        endMs,
        durationMs: Math.max(0, endMs - startMs),
        service,
        attributes: urlPath ? { 'url.path': urlPath } : {},
        resource,
        statusCode,
        profileId: profileId || undefined,
        pid,
      });
    }
    for (const [spanId, parentSpanId, profileId, traceId] of parsed.links ?? []) {
      out.push({
        traceId,
        spanId,
        parentSpanId,
        name: '',
        kind: 0,
        startMs: 0,
        endMs: 0,
        durationMs: 0,
        service,
        attributes: {},
        resource,
        statusCode: 0,
        profileId,
        pid,
      });
    }
  }
  return bad;
}
