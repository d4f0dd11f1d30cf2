/**
 * Why a request was slow, from the store alone: for a local root span, how much of its duration the
 * thread spent on its own code (CPU), on other spans' code or unlabelled work while it was open
 * (blocked: the event loop was busy with someone else), and doing nothing for it (waiting: I/O, timers,
 * idle). Also the event-loop stalls: the longest stretches of CPU by one span.
 *
 * The method: a process has one JavaScript thread, and the store keeps every CPU sample with its time.
 * A sample taken at `t` stands for the thread running that sample's code since the previous sample of
 * the process, at most `max(c, 1.5 × period)` back (`c` its CPU time): stretches never overlap, and a tick
 * after an idle gap claims no more than it can have run. The span's lifetime `[start, end]` is cut by those stretches: a stretch of this span
 * (or a span under it) is CPU, a stretch of anything else is blocked, the rest is waiting. All arithmetic
 * is in whole microseconds, so the three parts add up to the duration exactly. What it cannot know: where
 * within a tick the CPU ran (10 ms resolution by default), and whether a callback of this span was
 * actually ready during a blocked stretch (blocked means "the thread was busy elsewhere", not "this
 * request was held up"); time the profiler did not cover counts as waiting.
 */

import type { StoredSpan } from './reader';
import { serviceDirName } from '../layout';
import type { CpuSample } from './span-cpu';

/** Blocked time caused by one span name (or by work outside any span). */
export interface Blocker {
  /** The root span name whose code ran, or {@link OUTSIDE_SPANS}. */
  name: string;
  /** The part of the blocked time its code ran, ns. */
  cpuNanos: number;
  /** How many distinct root spans of that name ran. */
  spans: number;
  /** Their leaf functions, hottest first (at most 5). */
  functions: string[];
}

/** The breakdown of one root span's duration; cpu + blocked + waiting = duration, exactly. */
export interface DurationBreakdown {
  durationNanos: number;
  cpuNanos: number;
  blockedNanos: number;
  waitingNanos: number;
  /** Largest first. */
  blockedBy: Blocker[];
}

/** The name blocked time by samples without a span label counts under (GC, startup, timers of no request). */
export const OUTSIDE_SPANS = '(outside any span)';

const FUNCTIONS_PER_BLOCKER = 5;

/** The frame V8 reports when the thread waits in the event loop. */
const IDLE_FRAME = '(idle)';

/** Key of one process's sample stream. */
function processKey(serviceDir: string, pid: number | undefined): string {
  return `${serviceDir}/${pid ?? '?'}`;
}

/** One sample placed on its process's time line, in whole microseconds. */
interface PlacedSample {
  /** Where the stretch begins and ends (Unix µs). */
  fromUs: number;
  untilUs: number;
  sample: CpuSample;
  /** The local root span it counts under; undefined outside spans or for spans not in the store. */
  root: StoredSpan | undefined;
  /** The label's span id resolved to a root id (the label itself when the span is not stored). */
  rootKey: string | undefined;
}

/** Finds a label's local root span: the stored span whose profile id (or id) it is, then up its parents within the process. */
export class RootResolver {
  private readonly byLabel = new Map<string, StoredSpan>();
  private readonly byId = new Map<string, StoredSpan>();
  private readonly rootOf = new Map<StoredSpan, StoredSpan>();

  constructor(spans: readonly StoredSpan[]) {
    for (const span of spans) this.byId.set(span.spanId, span);
    for (const span of spans) if (!this.byLabel.has(span.spanId)) this.byLabel.set(span.spanId, span);
    for (const span of spans) if (span.profileId !== undefined) this.byLabel.set(span.profileId, span);
  }

  /** Whether `span` is a local root: no parent, or a parent in another process or not stored. */
  isLocalRoot(span: StoredSpan): boolean {
    if (span.parentSpanId === undefined) return true;
    const parent = this.byId.get(span.parentSpanId);
    return parent === undefined || parent.traceId !== span.traceId || parent.service !== span.service || parent.pid !== span.pid;
  }

  /** The local root of `span`. */
  root(span: StoredSpan): StoredSpan {
    let known = this.rootOf.get(span);
    if (known !== undefined) return known;
    let current = span;
    for (let depth = 0; depth < 1000 && !this.isLocalRoot(current); depth++) current = this.byId.get(current.parentSpanId!)!;
    this.rootOf.set(span, current);
    known = current;
    return known;
  }

  /** The local root a `span_id` label belongs to; undefined when no stored span has that id. */
  rootOfLabel(labelSpanId: string | undefined): StoredSpan | undefined {
    if (labelSpanId === undefined) return undefined;
    const span = this.byLabel.get(labelSpanId);
    return span === undefined ? undefined : this.root(span);
  }
}

/**
 * The timed samples of a store on one time line per process, for {@link breakdownOf} and {@link findStalls}.
 * Samples without a time (profiles written before the store kept them) are left out and counted.
 */
export class ProcessTimelines {
  private readonly lines = new Map<string, PlacedSample[]>();
  /** Per process, the times (us, ascending) of ticks that found the thread idle. */
  private readonly idleTicks = new Map<string, number[]>();
  /** Samples that could not be placed (no time). */
  readonly untimedSamples: number;

  constructor(
    samples: readonly CpuSample[],
    readonly resolver: RootResolver,
    /** The profiler's sampling period, ns (PYROSCOPE_PROFILING_INTERVAL). */
    periodNanos = 10_000_000,
  ) {
    const periodUs = Math.max(1, Math.round(periodNanos / 1000));
    let untimed = 0;
    const grouped = new Map<string, CpuSample[]>();
    for (const sample of samples) {
      if (sample.timeMs === undefined) {
        untimed++;
        continue;
      }
      const key = processKey(sample.service, sample.pid);
      // A tick that found the thread idle: whatever CPU it carries ran before, unplaceable; not work.
      // Its time is kept: it proves the event loop was free then (see idleBetween).
      if (sample.stack[0]?.name === IDLE_FRAME) {
        let ticks = this.idleTicks.get(key);
        if (ticks === undefined) this.idleTicks.set(key, (ticks = []));
        ticks.push(Math.round(sample.timeMs * 1000));
        continue;
      }
      let list = grouped.get(key);
      if (list === undefined) grouped.set(key, (list = []));
      list.push(sample);
    }
    this.untimedSamples = untimed;
    for (const ticks of this.idleTicks.values()) ticks.sort((a, b) => a - b);
    for (const [key, list] of grouped) {
      list.sort((a, b) => a.timeMs! - b.timeMs!);
      const placed: PlacedSample[] = [];
      let previousUs = -Infinity;
      for (const sample of list) {
        const untilUs = Math.round(sample.timeMs! * 1000);
        // The code on the stack at this tick held the thread since the previous tick when that was
        // recent (a busy thread is sampled every period; the OS may have run another process meanwhile,
        // which does not free the event loop); after a longer gap (idle ticks are not stored), only
        // its CPU time, or one and a half periods.
        const fromUs = Math.max(untilUs - Math.max(Math.round(sample.cpuNanos / 1000), Math.round(1.5 * periodUs)), previousUs);
        previousUs = untilUs;
        if (fromUs >= untilUs) continue; // a duplicate time: nothing left to stand for
        const root = resolver.rootOfLabel(sample.spanId);
        placed.push({ fromUs, untilUs, sample, root, rootKey: root?.spanId ?? sample.spanId });
      }
      this.lines.set(key, placed);
    }
  }

  /** Whether a tick found the thread of process `key` idle strictly between `fromUs` and `untilUs`. */
  idleBetween(key: string, fromUs: number, untilUs: number): boolean {
    const ticks = this.idleTicks.get(key);
    if (ticks === undefined) return false;
    let lo = 0;
    let hi = ticks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ticks[mid]! <= fromUs) lo = mid + 1;
      else hi = mid;
    }
    return lo < ticks.length && ticks[lo]! < untilUs;
  }

  /** The placed samples of `span`'s process whose stretch overlaps `[fromUs, untilUs]`. */
  overlapping(span: StoredSpan, fromUs: number, untilUs: number): PlacedSample[] {
    const line = this.lineOf(span);
    if (line.length === 0) return [];
    // Stretches are ordered and disjoint: the first that ends after fromUs, by binary search.
    let lo = 0;
    let hi = line.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (line[mid]!.untilUs <= fromUs) lo = mid + 1;
      else hi = mid;
    }
    const out: PlacedSample[] = [];
    for (let i = lo; i < line.length && line[i]!.fromUs < untilUs; i++) out.push(line[i]!);
    return out;
  }

  /** Every process's time line (for stalls). */
  all(): Iterable<[string, PlacedSample[]]> {
    return this.lines;
  }

  private lineOf(span: StoredSpan): PlacedSample[] {
    const dir = serviceDirName(span.service);
    const exact = this.lines.get(processKey(dir, span.pid));
    if (exact !== undefined) return exact;
    if (span.pid !== undefined) return [];
    // A span without a pid: the service's only process, if it has one.
    const candidates = [...this.lines.keys()].filter((k) => k.startsWith(`${dir}/`));
    return candidates.length === 1 ? this.lines.get(candidates[0]!)! : [];
  }
}

/** The breakdown of `root`'s duration (see the module comment for the method). */
export function breakdownOf(root: StoredSpan, timelines: ProcessTimelines): DurationBreakdown {
  const startUs = Math.round(root.startMs * 1000);
  const endUs = Math.max(startUs, Math.round(root.endMs * 1000));
  let cpuUs = 0;
  let blockedUs = 0;
  const blockers = new Map<string, { us: number; spans: Set<string>; functions: Map<string, number> }>();
  for (const placed of timelines.overlapping(root, startUs, endUs)) {
    const overlapUs = Math.min(endUs, placed.untilUs) - Math.max(startUs, placed.fromUs);
    if (overlapUs <= 0) continue;
    if (placed.root === root) {
      cpuUs += overlapUs;
      continue;
    }
    blockedUs += overlapUs;
    const name = placed.sample.spanId === undefined ? OUTSIDE_SPANS : placed.root?.name || placed.sample.spanName || '(unnamed span)';
    let blocker = blockers.get(name);
    if (blocker === undefined) blockers.set(name, (blocker = { us: 0, spans: new Set(), functions: new Map() }));
    blocker.us += overlapUs;
    if (placed.rootKey !== undefined) blocker.spans.add(placed.rootKey);
    const leaf = placed.sample.stack[0]?.name ?? '(unknown)';
    blocker.functions.set(leaf, (blocker.functions.get(leaf) ?? 0) + overlapUs);
  }
  const durationUs = endUs - startUs;
  return {
    durationNanos: durationUs * 1000,
    cpuNanos: cpuUs * 1000,
    blockedNanos: blockedUs * 1000,
    waitingNanos: (durationUs - cpuUs - blockedUs) * 1000,
    blockedBy: [...blockers]
      .map(([name, b]) => ({
        name,
        cpuNanos: b.us * 1000,
        spans: b.spans.size,
        functions: [...b.functions].sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0])).slice(0, FUNCTIONS_PER_BLOCKER).map(([fn]) => fn),
      }))
      .sort((a, b) => b.cpuNanos - a.cpuNanos || a.name.localeCompare(b.name)),
  };
}

/** One uninterrupted stretch of CPU by one root span (or by work outside spans): an event-loop stall. */
export interface Stall {
  /** The root span name, or {@link OUTSIDE_SPANS}. */
  name: string;
  spanId: string | undefined;
  traceId: string | undefined;
  service: string;
  pid: number;
  startMs: number;
  durationNanos: number;
  /** CPU sampled in the stretch, ns. */
  cpuNanos: number;
  /** Leaf functions, hottest first (at most 5). */
  functions: string[];
  /** Other root spans of the process open during the stretch (they could not run). */
  othersOpen: number;
}

/** The longest gap without any tick that a stall may bridge: longer, and nothing is known of the thread. */
const MAX_UNOBSERVED_GAP_US = 1_000_000;

/**
 * The longest stalls, longest first: runs of samples of one root (or of no span) where each follows the
 * previous with at most `maxGapNanos` between the end of one stretch and the start of the next, or with a
 * longer gap (up to a second) in which the sampler saw nothing at all: no other span, no idle tick. On a
 * loaded machine the sampler misses ticks; a synchronous loop cannot yield between two of its own ticks
 * unless something else (another span, the idle loop) was there to be sampled.
 * `spans` are the stored spans (to count the requests open meanwhile).
 */
export function findStalls(timelines: ProcessTimelines, spans: readonly StoredSpan[], options: { maxGapNanos: number; limit: number; minNanos?: number }): Stall[] {
  const maxGapUs = Math.round(options.maxGapNanos / 1000);
  const continues = (key: string, previous: PlacedSample, next: PlacedSample): boolean => {
    if (next.rootKey !== previous.rootKey) return false;
    const gapUs = next.fromUs - previous.untilUs;
    return gapUs <= maxGapUs || (gapUs <= MAX_UNOBSERVED_GAP_US && !timelines.idleBetween(key, previous.untilUs, next.fromUs));
  };
  const stalls: Array<Stall & { fromUs: number; untilUs: number; key: string }> = [];
  for (const [key, line] of timelines.all()) {
    let i = 0;
    while (i < line.length) {
      const first = line[i]!;
      let j = i + 1;
      while (j < line.length && continues(key, line[j - 1]!, line[j]!)) j++;
      const run = line.slice(i, j);
      const fromUs = first.fromUs;
      const untilUs = run[run.length - 1]!.untilUs;
      const functions = new Map<string, number>();
      let cpuNanos = 0;
      for (const p of run) {
        cpuNanos += p.sample.cpuNanos;
        const leaf = p.sample.stack[0]?.name ?? '(unknown)';
        functions.set(leaf, (functions.get(leaf) ?? 0) + p.sample.cpuNanos);
      }
      stalls.push({
        key,
        fromUs,
        untilUs,
        name: first.rootKey === undefined ? OUTSIDE_SPANS : first.root?.name || first.sample.spanName || '(unnamed span)',
        spanId: first.rootKey,
        traceId: first.root?.traceId ?? first.sample.traceId,
        service: first.root?.service ?? first.sample.service,
        pid: first.sample.pid,
        startMs: fromUs / 1000,
        durationNanos: (untilUs - fromUs) * 1000,
        cpuNanos,
        functions: [...functions].sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0])).slice(0, FUNCTIONS_PER_BLOCKER).map(([fn]) => fn),
        othersOpen: 0,
      });
      i = j;
    }
  }
  const minNanos = options.minNanos ?? 0;
  const longest = stalls
    .filter((s) => s.durationNanos >= minNanos)
    .sort((a, b) => b.durationNanos - a.durationNanos || a.fromUs - b.fromUs)
    .slice(0, options.limit);
  const resolver = timelines.resolver;
  const roots = spans.filter((s) => resolver.isLocalRoot(s));
  return longest.map(({ key, fromUs, untilUs, ...stall }) => {
    const othersOpen = roots.filter(
      (r) =>
        r.spanId !== stall.spanId &&
        processKey(serviceDirName(r.service), r.pid) === key &&
        Math.round(r.startMs * 1000) < untilUs &&
        Math.round(r.endMs * 1000) > fromUs,
    ).length;
    return { ...stall, othersOpen };
  });
}
