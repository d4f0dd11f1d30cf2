// The span linkage checks, on decoded profile samples ({values, labels, stack}, see
// pprof-samples.mjs) and exported spans (see otlp-receiver.mjs): is every span_id label the
// pyroscope.profile.id of an exported local root, and is CPU attributed to the right route.
import { readFileSync } from 'node:fs';
import { isLocalRoot } from './span-tree.mjs';

/** Index of the sample count in our CPU profiles' values: [samples/count, cpu/nanoseconds]. */
export const COUNT = 0;

// Span times come from OpenTelemetry's clock, cut times from the profiler's: a span ending this
// close to a cut counts as still running at it.
export const CLOCK_MARGIN_NANOS = 50_000_000n;

const HEX16 = /^[0-9a-f]{16}$/;
const HEX32 = /^[0-9a-f]{32}$/;

function newTally() {
  return { problemCounts: new Map(), labelledCount: 0, unfinishedAtCut: 0, linkedSpans: new Map() };
}

function finishTally(tally) {
  return {
    problems: [...tally.problemCounts].map(([text, count]) => `${count} samples: ${text}`),
    labelledCount: tally.labelledCount,
    unfinishedAtCut: tally.unfinishedAtCut,
    linkedSpans: tally.linkedSpans,
  };
}

function tallyLinkage(tally, samples, byId, { rootSpanOnly = true, addSpanName = true, traceId: traceIdRule = 'required', cutTimeNanos } = {}) {
  const problem = (text, sample) => tally.problemCounts.set(text, (tally.problemCounts.get(text) ?? 0) + sample.values[COUNT]);
  for (const sample of samples) {
    const { span_id: spanId, trace_id: traceId, span_name: spanName } = sample.labels;
    if (spanId === undefined) {
      if (traceId !== undefined || spanName !== undefined) problem(`labels without span_id: ${JSON.stringify(sample.labels)}`, sample);
      continue;
    }
    tally.labelledCount += sample.values[COUNT];
    if (!HEX16.test(spanId)) problem(`span_id ${JSON.stringify(spanId)} is not 16 lowercase hex`, sample);
    if (traceId === undefined && traceIdRule === 'if-present') {
      // Left out by the agent (a Pyroscope that would make it a series); span_id still links.
    } else if (traceIdRule === 'absent') {
      if (traceId !== undefined) problem(`trace_id ${JSON.stringify(traceId)} present although it should be left out`, sample);
    } else if (!HEX32.test(traceId ?? '')) problem(`trace_id ${JSON.stringify(traceId)} is not 32 lowercase hex`, sample);
    const span = byId.get(spanId);
    if (!span) {
      problem(`span_id ${spanId} (span_name ${JSON.stringify(spanName)}) is not an exported span`, sample);
      continue;
    }
    tally.linkedSpans.set(spanId, span);
    if (span.attributes['pyroscope.profile.id'] !== spanId) {
      problem(`span ${spanId} ${JSON.stringify(span.name)} has pyroscope.profile.id ${span.attributes['pyroscope.profile.id']}`, sample);
    }
    if (rootSpanOnly && !isLocalRoot(span)) problem(`span ${spanId} ${JSON.stringify(span.name)} is not a local root`, sample);
    if (traceId !== undefined && span.traceId !== traceId) problem(`span ${spanId}: trace_id label ${traceId}, span's trace ${span.traceId}`, sample);
    if (!addSpanName) {
      if (spanName !== undefined) problem(`span_name ${JSON.stringify(spanName)} present although turned off`, sample);
    } else if (cutTimeNanos !== undefined && span.endTimeUnixNano + CLOCK_MARGIN_NANOS > cutTimeNanos) {
      tally.unfinishedAtCut += sample.values[COUNT];
    } else if (spanName !== span.name) {
      problem(`span ${spanId}: span_name label ${JSON.stringify(spanName)}, span's final name ${JSON.stringify(span.name)}`, sample);
    }
  }
}

/**
 * Every labelled sample checked against the spans. Returns { problems: string[] (one per distinct
 * problem, with its sample count), labelledCount, linkedSpans: Map<spanId, span>,
 * unfinishedAtCut (samples whose span had not ended when the profile was cut) }.
 * Options:
 * - rootSpanOnly (default true): the span must be a local root; false: any exported span.
 * - addSpanName (default true): span_name must be the span's final name; false: no span_name at all.
 * - traceId (default 'required'): every linked sample has its span's trace_id; 'absent': none has one;
 *   'if-present': a trace_id, where there is one, is the span's.
 * - cutTimeNanos (BigInt): when the profile holding these samples was cut. span_name is then only
 *   compared for spans that had ended by the cut, with a 50 ms margin (a span still running may not
 *   have its final name yet); the others are counted in unfinishedAtCut. Without it every span_name is compared.
 */
export function checkLinkage(samples, spans, options = {}) {
  const tally = newTally();
  tallyLinkage(tally, samples, new Map(spans.map((s) => [s.spanId, s])), options);
  return finishTally(tally);
}

/**
 * checkLinkage over several decoded profiles (uploads, store files), each compared with the cut
 * time its own timeNanos + durationNanos give.
 */
export function checkLinkageOfProfiles(profiles, spans, options = {}) {
  const tally = newTally();
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  for (const profile of profiles) {
    tallyLinkage(tally, profile.samples, byId, { ...options, cutTimeNanos: profile.timeNanos + profile.durationNanos });
  }
  return finishTally(tally);
}

/**
 * Attribution of the CPU of `functionName` (samples whose stack contains it): `total` samples,
 * `labelled` (with any span_id), `correct` (span_id in `expectedSpanIds`), precision =
 * correct / total, recall = labelled / total (both 1 when there is nothing to attribute).
 * `filter(sample)` narrows the samples further. Counts are sample counts, not pprof rows.
 */
export function attribution(samples, functionName, expectedSpanIds, filter = () => true) {
  let total = 0;
  let labelled = 0;
  let correct = 0;
  const spanIds = new Set();
  for (const sample of samples) {
    if (!sample.stack.includes(functionName) || !filter(sample)) continue;
    const count = sample.values[COUNT];
    total += count;
    const spanId = sample.labels.span_id;
    if (spanId === undefined) continue;
    labelled += count;
    spanIds.add(spanId);
    if (expectedSpanIds.has(spanId)) correct += count;
  }
  return {
    total,
    labelled,
    correct,
    precision: total === 0 ? 1 : correct / total,
    recall: total === 0 ? 1 : labelled / total,
    spanIds,
  };
}

/** "precision 0.987 (75/76), recall 1.000 (76/76)" */
export function formatAttribution({ precision, recall, correct, labelled, total }) {
  return `precision ${precision.toFixed(3)} (${correct}/${total}), recall ${recall.toFixed(3)} (${labelled}/${total})`;
}

/**
 * Where the CPU function of fixtures/express-app's /orders/:orderId ran: the frame that called
 * computeOrderTotals tells the continuation. Line numbers come from the fixture's source, so the
 * classification follows edits of the fixture. Returns sample => 'sync' | 'after await' | 'timer' |
 * 'setImmediate' | 'nested span' | 'other'.
 */
export function orderContinuationClassifier(fixtureFile) {
  const lines = readFileSync(fixtureFile, 'utf8').split('\n');
  const lineOf = (needle) => {
    const index = lines.findIndex((line) => line.includes(needle));
    if (index === -1) throw new Error(`${fixtureFile}: no line contains ${JSON.stringify(needle)}`);
    return index + 1;
  };
  const byLine = new Map([
    [lineOf("app.get('/orders/:orderId', async"), 'handler'],
    [lineOf('setTimeout(() => resolve(computeOrderTotals'), 'timer'],
    [lineOf('setImmediate(() => resolve(computeOrderTotals'), 'setImmediate'],
    [lineOf("startActiveSpan('price-lines'"), 'nested span'],
  ]);
  return (sample) => {
    // The outermost frame: V8 may repeat the function (an inlined or on-stack-replaced copy).
    const at = sample.stack.lastIndexOf('computeOrderTotals');
    const caller = sample.stack[at + 1] ?? '';
    const line = Number(/L#(\d+):/.exec(caller)?.[1]);
    const kind = byLine.get(line) ?? 'other';
    if (kind !== 'handler') return kind;
    // The handler's first part runs inside Express's dispatch; after an await it is the bottom frame.
    return at + 2 < sample.stack.length ? 'sync' : 'after await';
  };
}

/**
 * Sends `paths` to the app with `concurrency` requests in flight at all times; resolves with the
 * responses in order. Rejects on the first failed request or non-2xx answer.
 */
export async function runConcurrently(app, paths, concurrency) {
  const responses = new Array(paths.length);
  let next = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const worker = async () => {
    while (next < paths.length) {
      const index = next++;
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        const response = await app.request(paths[index], { timeoutMs: 60_000 });
        if (response.status >= 300) throw new Error(`${paths[index]} answered ${response.status}: ${response.body}`);
        responses[index] = response;
      } finally {
        inFlight--;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, paths.length) }, worker));
  return { responses, maxInFlight };
}
