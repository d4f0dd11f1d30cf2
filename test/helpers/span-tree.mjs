// Questions end-to-end tests ask of exported spans (as flattened by otlp-receiver.mjs): which
// process sent them, who is whose parent, which ones are local roots.

/** The spans whose resource says they came from process `pid`. */
export function spansOfProcess(spans, pid) {
  return spans.filter((span) => span.resource['process.pid'] === pid);
}

/**
 * A local root as Pyroscope's span processors define it: no parent, or a parent in another process
 * (remote: extracted from a traceparent header), even when that process is this one.
 */
export function isLocalRoot(span) {
  return span.parentSpanId === '' || span.parentIsRemote === true;
}

/** The request path of an HTTP server span (url.path, or the older http.target without the query). */
export function requestPathOf(span) {
  return span.attributes['url.path'] ?? span.attributes['http.target']?.split('?')[0];
}

/** The chain of parents of `span` found in `spans`, nearest first (stops at a missing parent). */
export function ancestorsOf(span, spans) {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const chain = [];
  const seen = new Set([span.spanId]);
  let current = span;
  while (current.parentSpanId && byId.has(current.parentSpanId) && !seen.has(current.parentSpanId)) {
    current = byId.get(current.parentSpanId);
    seen.add(current.spanId);
    chain.push(current);
  }
  return chain;
}

/** True when `ancestor` is on `span`'s parent chain. */
export function isDescendantOf(span, ancestor, spans) {
  return ancestorsOf(span, spans).some((s) => s.spanId === ancestor.spanId);
}

/** The local root `span` belongs to: itself if it is one, else the nearest local root up its chain. */
export function localRootOf(span, spans) {
  if (isLocalRoot(span)) return span;
  return ancestorsOf(span, spans).find(isLocalRoot);
}

/** One line per span, for assertion messages. */
export function describeSpans(spans) {
  return spans
    .map((s) => `${s.kind} ${JSON.stringify(s.name)} ${s.spanId} parent=${s.parentSpanId || '-'}${s.parentIsRemote ? '(remote)' : ''} trace=${s.traceId.slice(0, 8)}`)
    .join('\n');
}
