// The roots-index line as the store wrote it before spans were encoded as they end: built from a whole
// batch of finished spans in one go. Kept as the independent reference that the store's writer
// (src/store/write/span-json.ts) must match character for character, and as the "before" of
// bench/ab/otlp-trace-encode.mjs. The format itself is described in src/store/roots-index.ts.

const PROFILE_ID = 'pyroscope.profile.id';

const hrToNanos = (time) => (BigInt(time[0]) * 1_000_000_000n + BigInt(time[1])).toString();

/** One index line for a batch of finished spans (no trailing newline). */
export function rootsIndexLine(spans, pid = process.pid) {
  const roots = [];
  const links = [];
  let service = '';
  for (const span of spans) {
    const parent = span.parentSpanContext;
    const ctx = span.spanContext();
    const profileId = span.attributes[PROFILE_ID];
    if (parent === undefined || parent.isRemote === true) {
      if (service === '') service = String(span.resource.attributes['service.name'] ?? '');
      const path = span.attributes['url.path'] ?? span.attributes['http.target'];
      roots.push([
        ctx.spanId,
        ctx.traceId,
        parent?.spanId ?? '',
        span.name,
        span.kind + 1, // OTLP numbers kinds from 1 (internal); the API from 0
        hrToNanos(span.startTime),
        hrToNanos(span.endTime),
        span.status.code,
        typeof profileId === 'string' ? profileId : '',
        typeof path === 'string' ? path : '',
      ]);
    } else if (typeof profileId === 'string' && profileId !== '') {
      links.push([ctx.spanId, parent.spanId, profileId, ctx.traceId]);
    }
  }
  return JSON.stringify({ v: 1, service, pid, roots, links });
}
