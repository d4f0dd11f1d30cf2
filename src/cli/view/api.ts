/**
 * The view's JSON API: answers computed from one {@link StoreSnapshot}. Every answer carries the
 * store's `problems`, so the page can say which files were skipped instead of showing nothing.
 *
 *     GET /api/store                       services, root span names, data time range
 *     GET /api/roots?service&name&from&until&sort&limit     root spans with their CPU
 *     GET /api/span/<spanId>               the span, its trace as a waterfall, its flame graph
 *     GET /api/span/<spanId>/pprof         the span's samples as a gzipped pprof download
 *     GET /api/span/<spanId>/chrome-trace  its trace as a Chrome trace-event file (Perfetto, Firefox Profiler)
 *     GET /api/flame?service&name&from&until                flame graph of a service (and range)
 *     GET /api/diff?a&b | ?nameA&nameB&service&from&until   diff flame graph of two spans or names
 *     GET /api/heap?service&from&until                 heap flame graph (bytes in use) and top retainers
 */

import * as path from 'node:path';
import { breakdownOf, OUTSIDE_SPANS, ProcessTimelines, RootResolver, type DurationBreakdown } from '../../store/read/breakdown';
import { serviceDirName } from '../../store/layout';
import type { StoredSpan } from '../../store/read/reader';
import {
  buildPprof,
  cpuByRootSpan,
  encodePprofGzip,
  flameTree,
  hottestFunctions,
  isEstimate,
  SpanIndex,
  unchargedCpu,
  type CpuSample,
  type FunctionCpu,
  type RootSpanCpu,
} from '../../store/read/span-cpu';
import { heapFlameTree, heapSites, loadStoreHeap, type HeapFlameNode } from '../../store/read/heap-reader';
import { diffFlameJson, MIN_SHARE, scaleFlameTree, toFlameJson, type DiffFlameJson, type FlameJson } from './flame-json';
import { ApiError, choiceParam, limitParam, spanIdParam, textParam, timeParam } from './query';
import type { StoreSnapshot } from './store-cache';
import { buildWaterfall, type Waterfall } from './waterfall';

/** Functions listed beside a flame graph. */
const HOTTEST_LIMIT = 15;

/** A JSON answer, or bytes to download. */
export type ApiResult =
  | { type: 'json'; body: unknown }
  | { type: 'download'; fileName: string; contentType: string; data: Buffer };

/**
 * A root span (local root: its CPU samples carry its id) in the list: the reader's {@link RootSpanCpu}
 * without the stored span itself (the list goes to the browser as JSON), plus what the list shows of it.
 * `spanId` is the id to open it by (the `span_id` label of its samples); `startMs`/`durationMs` are undefined
 * when only samples, not the span, are in the store.
 */
export interface RootSpanRow extends Omit<RootSpanCpu, 'span'> {
  statusCode: number | undefined;
  /** The CPU rests on one or two samples: an estimate. */
  estimate: boolean;
  /** Time the event loop ran other work while it was open (see the breakdown); undefined without its span. */
  blockedNanos?: number;
  waitingNanos?: number;
}

/** Root spans considered when sorting by blocked time. */
const BLOCKED_CANDIDATES = 500;

interface Indexes {
  spanIndex: SpanIndex;
  byId: Map<string, StoredSpan>;
  byTrace: Map<string, StoredSpan[]>;
  resolver: RootResolver;
  timelines: ProcessTimelines;
  breakdowns: Map<StoredSpan, DurationBreakdown>;
}

const indexCache = new WeakMap<StoreSnapshot, Indexes>();

function indexes(snapshot: StoreSnapshot): Indexes {
  let found = indexCache.get(snapshot);
  if (found === undefined) {
    const byId = new Map<string, StoredSpan>();
    const byTrace = new Map<string, StoredSpan[]>();
    for (const span of snapshot.spans) {
      if (!byId.has(span.spanId)) byId.set(span.spanId, span);
      let list = byTrace.get(span.traceId);
      if (list === undefined) byTrace.set(span.traceId, (list = []));
      list.push(span);
    }
    const resolver = new RootResolver(snapshot.spans);
    found = {
      spanIndex: new SpanIndex(snapshot.spans),
      byId,
      byTrace,
      resolver,
      timelines: new ProcessTimelines(snapshot.samples, resolver, snapshot.periodNanos || undefined),
      breakdowns: new Map(),
    };
    indexCache.set(snapshot, found);
  }
  return found;
}

/** Routes one API request (path after `/api/`) to its handler. Throws {@link ApiError}. */
export async function handleApi(snapshot: StoreSnapshot, route: string, params: URLSearchParams): Promise<ApiResult> {
  const json = (body: object): ApiResult => ({ type: 'json', body: { ...body, problems: snapshot.problems } });
  if (route === 'store') return json(storeSummary(snapshot));
  if (route === 'roots') return json(rootSpans(snapshot, params));
  if (route === 'flame') return json(serviceFlame(snapshot, params));
  if (route === 'diff') return json(diff(snapshot, params));
  if (route === 'heap') return json(await serviceHeap(snapshot, params));
  const spanRoute = /^span\/([^/]*)(\/pprof|\/chrome-trace)?$/.exec(route);
  if (spanRoute) {
    const id = spanIdParam(decodeSegment(spanRoute[1]!), 'the span id in the path');
    if (spanRoute[2] === '/pprof') return spanPprof(snapshot, id);
    if (spanRoute[2] === '/chrome-trace') return chromeTraceOf(snapshot, id);
    return json(spanDetail(snapshot, id));
  }
  throw new ApiError(404, `no such API: /api/${route.slice(0, 80)}`);
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ApiError(400, 'the span id in the path is not valid URL encoding');
  }
}

interface Range {
  fromMs: number | undefined;
  untilMs: number | undefined;
}

function rangeOf(params: URLSearchParams): Range {
  const fromMs = timeParam(params, 'from');
  const untilMs = timeParam(params, 'until');
  if (fromMs !== undefined && untilMs !== undefined && fromMs > untilMs) throw new ApiError(400, 'from is after until');
  return { fromMs, untilMs };
}

const overlaps = (startMs: number, endMs: number, range: Range): boolean =>
  (range.fromMs === undefined || endMs >= range.fromMs) && (range.untilMs === undefined || startMs <= range.untilMs);

/** Samples whose profile interval overlaps the range, of one service (directory) when given. */
function samplesIn(snapshot: StoreSnapshot, range: Range, service: string | undefined): CpuSample[] {
  const dir = service === undefined ? undefined : serviceDirName(service);
  return snapshot.samples.filter((s) => (dir === undefined || s.service === dir) && overlaps(s.fromMs, s.untilMs, range));
}

const spanOfService = (span: StoredSpan, service: string | undefined): boolean =>
  service === undefined || span.service === service || serviceDirName(span.service) === service;

/** A span whose samples carry its own id: it has `pyroscope.profile.id`, or no parent at all. */
const isLocalRoot = (span: StoredSpan): boolean => span.profileId !== undefined || span.parentSpanId === undefined;

function storeSummary(snapshot: StoreSnapshot): object {
  const services = new Set<string>();
  const serviceDirs = new Set<string>();
  for (const span of snapshot.spans) {
    services.add(span.service);
    serviceDirs.add(serviceDirName(span.service));
  }
  let firstMs = Infinity;
  let lastMs = -Infinity;
  for (const sample of snapshot.samples) {
    if (!serviceDirs.has(sample.service)) {
      services.add(sample.service);
      serviceDirs.add(sample.service);
    }
    firstMs = Math.min(firstMs, sample.fromMs);
    lastMs = Math.max(lastMs, sample.untilMs);
  }
  const names = new Map<string, number>();
  for (const span of snapshot.spans) {
    firstMs = Math.min(firstMs, span.startMs);
    lastMs = Math.max(lastMs, span.endMs);
    if (isLocalRoot(span)) names.set(span.name, (names.get(span.name) ?? 0) + 1);
  }
  return {
    dir: snapshot.dir,
    services: [...services].sort(),
    rootSpanNames: [...names].map(([name, count]) => ({ name, count })).sort((x, y) => y.count - x.count || x.name.localeCompare(y.name)),
    spans: snapshot.spans.length,
    samples: snapshot.samples.length,
    profilesRead: snapshot.profilesRead,
    firstMs: Number.isFinite(firstMs) ? firstMs : undefined,
    lastMs: Number.isFinite(lastMs) ? lastMs : undefined,
  };
}

function rootSpans(snapshot: StoreSnapshot, params: URLSearchParams): object {
  const service = textParam(params, 'service');
  const nameFilter = textParam(params, 'name')?.toLowerCase();
  const range = rangeOf(params);
  const sort = choiceParam(params, 'sort', ['cpu', 'duration', 'blocked', 'start'] as const, 'cpu');
  const limit = limitParam(params, 'limit', 200, 5000);
  const { spanIndex } = indexes(snapshot);

  const samples = samplesIn(snapshot, range, service);
  const rows = new Map<string, RootSpanRow>();
  let unattributedNanos = 0;
  let totalNanos = 0;
  for (const sample of samples) {
    totalNanos += sample.cpuNanos;
    if (sample.spanId === undefined) unattributedNanos += sample.cpuNanos;
  }
  for (const root of cpuByRootSpan(samples, spanIndex)) {
    if (root.span !== undefined && !overlaps(root.span.startMs, root.span.endMs, range)) continue;
    rows.set(root.spanId, {
      spanId: root.spanId,
      traceId: root.traceId,
      name: root.name,
      service: root.service,
      startMs: root.startMs,
      durationMs: root.durationMs,
      statusCode: root.span?.statusCode,
      cpuNanos: root.cpuNanos,
      samples: root.samples,
      estimate: isEstimate(root.samples),
    });
  }
  // Root spans that burned too little CPU to be sampled are still requests worth listing.
  for (const span of snapshot.spans) {
    if (!isLocalRoot(span) || !spanOfService(span, service) || !overlaps(span.startMs, span.endMs, range)) continue;
    const id = span.profileId ?? span.spanId;
    if (rows.has(id)) continue;
    rows.set(id, {
      spanId: id,
      traceId: span.traceId,
      name: span.name,
      service: span.service,
      startMs: span.startMs,
      durationMs: span.durationMs,
      statusCode: span.statusCode,
      cpuNanos: 0,
      samples: 0,
      estimate: false,
    });
  }
  let list = [...rows.values()];
  if (nameFilter !== undefined) list = list.filter((row) => row.name.toLowerCase().includes(nameFilter));
  const byCpu = (x: RootSpanRow, y: RootSpanRow): number => y.cpuNanos - x.cpuNanos;
  const byDuration = (x: RootSpanRow, y: RootSpanRow): number => (y.durationMs ?? -1) - (x.durationMs ?? -1);
  const byStart = (x: RootSpanRow, y: RootSpanRow): number => (y.startMs ?? -1) - (x.startMs ?? -1);
  const blocked = (row: RootSpanRow): number => row.blockedNanos ?? -1;
  const byBlocked = (x: RootSpanRow, y: RootSpanRow): number => blocked(y) - blocked(x);
  if (sort === 'blocked') {
    // A request cannot be blocked longer than it lasted: the slowest ones are the candidates.
    list.sort((x, y) => byDuration(x, y) || x.spanId.localeCompare(y.spanId));
    list = list.slice(0, BLOCKED_CANDIDATES);
  }
  const order = sort === 'cpu' ? [byCpu, byDuration] : sort === 'duration' ? [byDuration, byCpu] : sort === 'blocked' ? [byBlocked, byDuration] : [byStart, byCpu];
  if (sort === 'blocked') for (const row of list) withBreakdown(snapshot, row);
  list.sort((x, y) => order[0]!(x, y) || order[1]!(x, y) || x.spanId.localeCompare(y.spanId));
  const shown = list.slice(0, limit);
  for (const row of shown) withBreakdown(snapshot, row);
  return {
    total: list.length,
    roots: shown,
    cpu: { totalNanos, unattributedNanos, ...unchargedCpu(samples) },
    periodNanos: snapshot.periodNanos,
  };
}

/** What the span page shows. */
export interface SpanDetail {
  /** The span asked for; undefined when only its samples are stored. */
  span: StoredSpan | undefined;
  /** The local root whose samples the flame graph shows (the span itself when it is one). */
  root: { spanId: string; name: string; service: string | undefined; durationMs: number | undefined; startMs: number | undefined };
  trace: Waterfall | undefined;
  /** CPU of each local root of the trace, by its profile id, for the waterfall. */
  cpuByProfileId: Record<string, number>;
  cpuNanos: number;
  samples: number;
  /** The CPU rests on one or two samples: an estimate. */
  estimate: boolean;
  flame: FlameJson;
  hottest: FunctionCpu[];
  periodNanos: number;
  /** The root's duration split into own CPU, blocked and waiting, and who blocked it. */
  breakdown: DurationBreakdown | undefined;
  /** The CPU lane under the waterfall: who held the event loop while the request was open. */
  lane: CpuLane | undefined;
  /** The largest event-loop delay its process measured while it was open, ns (undefined: none recorded). */
  loopDelayMaxNanos: number | undefined;
}

/** One stretch of the CPU lane. */
export interface LaneSegment {
  fromMs: number;
  untilMs: number;
  /** self: this request's code; other: another request's (linked by `spanId`); outside: no span (GC...). */
  kind: 'self' | 'other' | 'outside';
  spanId?: string;
  name?: string;
}

export interface CpuLane {
  startMs: number;
  endMs: number;
  segments: LaneSegment[];
}

/** The breakdown of a row's root span, computed once per snapshot. */
function breakdownOfSpan(snapshot: StoreSnapshot, span: StoredSpan): DurationBreakdown {
  const { resolver, timelines, breakdowns } = indexes(snapshot);
  const root = resolver.root(span);
  let b = breakdowns.get(root);
  if (b === undefined) breakdowns.set(root, (b = breakdownOf(root, timelines)));
  return b;
}

function withBreakdown(snapshot: StoreSnapshot, row: RootSpanRow): void {
  if (row.blockedNanos !== undefined) return;
  const span = indexes(snapshot).spanIndex.get(row.spanId);
  if (span === undefined) return;
  const b = breakdownOfSpan(snapshot, span);
  row.blockedNanos = b.blockedNanos;
  row.waitingNanos = b.waitingNanos;
}

/** The stretches of the root's process while it was open, adjacent ones of the same owner merged. */
export function laneOf(timelines: ProcessTimelines, root: StoredSpan): CpuLane {
  const startUs = Math.round(root.startMs * 1000);
  const endUs = Math.round(root.endMs * 1000);
  const segments: LaneSegment[] = [];
  for (const placed of timelines.overlapping(root, startUs, endUs)) {
    const fromMs = Math.max(startUs, placed.fromUs) / 1000;
    const untilMs = Math.min(endUs, placed.untilUs) / 1000;
    if (untilMs <= fromMs) continue;
    const kind: LaneSegment['kind'] = placed.root === root ? 'self' : placed.sample.spanId === undefined ? 'outside' : 'other';
    const spanId = kind === 'other' ? placed.rootKey : undefined;
    const last = segments[segments.length - 1];
    if (last !== undefined && last.kind === kind && last.spanId === spanId && Math.abs(last.untilMs - fromMs) < 1e-6) {
      last.untilMs = untilMs;
      continue;
    }
    const name = kind === 'other' ? placed.root?.name || placed.sample.spanName : kind === 'outside' ? OUTSIDE_SPANS : root.name;
    segments.push({ fromMs, untilMs, kind, ...(spanId === undefined ? {} : { spanId }), ...(name === undefined ? {} : { name }) });
  }
  return { startMs: root.startMs, endMs: root.endMs, segments };
}

function spanDetail(snapshot: StoreSnapshot, id: string): SpanDetail {
  const { spanIndex, byId, byTrace } = indexes(snapshot);
  const span = byId.get(id) ?? spanIndex.get(id);
  const labelId = span === undefined ? id : localRootOf(span, byId);
  const samples = snapshot.samples.filter((s) => s.spanId === labelId);
  if (span === undefined && samples.length === 0) throw new ApiError(404, `no span ${id} in the store`);

  const rootSpan = spanIndex.get(labelId);
  const traceId = span?.traceId ?? samples.find((s) => s.traceId !== undefined)?.traceId;
  const traceSpans = traceId === undefined ? [] : (byTrace.get(traceId) ?? []);
  const trace = traceSpans.length > 0 ? buildWaterfall(traceId!, traceSpans) : undefined;

  const cpuByProfileId: Record<string, number> = {};
  if (trace !== undefined) {
    const profileIds = new Set(trace.rows.map((row) => row.profileId).filter((p): p is string => p !== undefined));
    for (const sample of snapshot.samples) {
      if (sample.spanId !== undefined && profileIds.has(sample.spanId)) {
        cpuByProfileId[sample.spanId] = (cpuByProfileId[sample.spanId] ?? 0) + sample.cpuNanos;
      }
    }
  }
  let cpuNanos = 0;
  let count = 0;
  for (const sample of samples) {
    cpuNanos += sample.cpuNanos;
    count += sample.count;
  }
  const name = rootSpan?.name ?? samples.find((s) => s.spanName !== undefined)?.spanName ?? '(unnamed span)';
  return {
    span,
    root: { spanId: labelId, name, service: rootSpan?.service ?? samples[0]?.service, durationMs: rootSpan?.durationMs, startMs: rootSpan?.startMs },
    trace,
    cpuByProfileId,
    cpuNanos,
    samples: count,
    estimate: isEstimate(count),
    flame: toFlameJson(flameTree(samples), name),
    hottest: hottestFunctions(samples, HOTTEST_LIMIT),
    periodNanos: snapshot.periodNanos,
    breakdown: rootSpan === undefined ? undefined : breakdownOfSpan(snapshot, rootSpan),
    lane: rootSpan === undefined ? undefined : laneOf(indexes(snapshot).timelines, indexes(snapshot).resolver.root(rootSpan)),
    loopDelayMaxNanos: rootSpan === undefined ? undefined : loopDelayMax(snapshot, rootSpan),
  };
}

function loopDelayMax(snapshot: StoreSnapshot, span: StoredSpan): number | undefined {
  const dir = serviceDirName(span.service);
  let max: number | undefined;
  for (const p of snapshot.loopDelay) {
    if (p.service !== dir || (span.pid !== undefined && p.pid !== span.pid) || p.timeMs < span.startMs || p.startMs > span.endMs) continue;
    max = Math.max(max ?? 0, p.maxNanos);
  }
  return max;
}

/**
 * The trace of a span as a Chrome trace-event file (the JSON object form), as Perfetto and the Firefox
 * Profiler open it: each span a complete event ('X') on its own track of its service's process, each
 * CPU sample of the trace's local roots an instant event ('i') on a CPU track, named by its function.
 */
function chromeTraceOf(snapshot: StoreSnapshot, id: string): ApiResult {
  const { spanIndex, byId, byTrace } = indexes(snapshot);
  const span = byId.get(id) ?? spanIndex.get(id);
  if (span === undefined) throw new ApiError(404, `no span ${id} in the store`);
  const spans = byTrace.get(span.traceId) ?? [span];
  const labels = new Set(spans.map((s) => s.profileId).filter((p): p is string => p !== undefined));
  const samples = snapshot.samples.filter((s) => s.spanId !== undefined && labels.has(s.spanId));
  return chromeTrace(span.traceId, spans, samples);
}

/** The Chrome trace-event file of a trace's `spans` and the CPU `samples` of its local roots. */
export function chromeTrace(traceId: string, spans: readonly StoredSpan[], samples: readonly CpuSample[]): ApiResult {
  const serviceOfLabel = new Map<string, string>();
  for (const s of spans) if (s.profileId !== undefined) serviceOfLabel.set(s.profileId, s.service);
  const t0 = Math.min(...spans.map((s) => s.startMs));
  const us = (ms: number): number => Math.round((ms - t0) * 1000);
  const pids = new Map<string, number>();
  const pidOf = (service: string): number => {
    let pid = pids.get(service);
    if (pid === undefined) pids.set(service, (pid = pids.size + 1));
    return pid;
  };
  const events: object[] = [];
  const sorted = [...spans].sort((a, b) => a.startMs - b.startMs);
  sorted.forEach((s, i) => {
    const pid = pidOf(s.service);
    const tid = i + 2; // tid 1 is the CPU track
    events.push({ ph: 'M', name: 'thread_name', pid, tid, args: { name: s.name } });
    events.push({
      ph: 'X',
      name: s.name,
      cat: 'span',
      ts: us(s.startMs),
      dur: Math.max(1, Math.round(s.durationMs * 1000)),
      pid,
      tid,
      args: { spanId: s.spanId, parentSpanId: s.parentSpanId ?? null, traceId: s.traceId, kind: s.kind, status: s.statusCode, ...s.attributes },
    });
  });
  for (const [service, pid] of pids) {
    events.push({ ph: 'M', name: 'process_name', pid, tid: 0, args: { name: service } });
    events.push({ ph: 'M', name: 'thread_name', pid, tid: 1, args: { name: 'CPU samples' } });
  }
  for (const sample of samples) {
    if (sample.spanId === undefined || sample.timeMs === undefined) continue;
    events.push({
      ph: 'i',
      s: 't',
      name: sample.stack[0]?.name ?? '(unknown)',
      cat: 'cpu-sample',
      ts: us(sample.timeMs),
      pid: pidOf(serviceOfLabel.get(sample.spanId) ?? sample.service),
      tid: 1,
      args: { spanId: sample.spanId, cpuNanos: sample.cpuNanos, stack: sample.stack.slice(0, 30).map((f) => `${f.name} ${f.file}:${f.line}`) },
    });
  }
  const body = { traceEvents: events, displayTimeUnit: 'ms', otherData: { traceId, startTime: new Date(t0).toISOString() } };
  return { type: 'download', fileName: `trace-${traceId}.json`, contentType: 'application/json', data: Buffer.from(JSON.stringify(body)) };
}

/** The `span_id` label the samples of `span` carry: that of its local root. */
function localRootOf(span: StoredSpan, byId: Map<string, StoredSpan>): string {
  let current = span;
  const seen = new Set<string>();
  while (current.profileId === undefined && current.parentSpanId !== undefined && !seen.has(current.spanId)) {
    seen.add(current.spanId);
    const parent = byId.get(current.parentSpanId);
    if (parent === undefined || parent.service !== current.service) break;
    current = parent;
  }
  return current.profileId ?? current.spanId;
}

async function spanPprof(snapshot: StoreSnapshot, id: string): Promise<ApiResult> {
  const { byId } = indexes(snapshot);
  const span = byId.get(id);
  const labelId = span === undefined ? id : localRootOf(span, byId);
  const samples = snapshot.samples.filter((s) => s.spanId === labelId);
  if (samples.length === 0) throw new ApiError(404, `no CPU samples of span ${id} in the store`);
  const data = await encodePprofGzip(buildPprof(samples, snapshot.periodNanos));
  return { type: 'download', fileName: `span-${labelId}.cpu.pb.gz`, contentType: 'application/octet-stream', data };
}

/**
 * The heap of a service (or all) in a range: the last heap snapshot of each process in it, as a flame
 * graph of bytes in use and the top allocation sites. Read from the files on each request: a range
 * holds one snapshot per process.
 */
async function serviceHeap(snapshot: StoreSnapshot, params: URLSearchParams): Promise<object> {
  const service = textParam(params, 'service');
  const range = rangeOf(params);
  const heap = await loadStoreHeap(snapshot.dir, { service, fromMs: range.fromMs, untilMs: range.untilMs });
  const flame = heapFlameTree(heap, service ?? 'all services');
  const min = flame.value * MIN_SHARE;
  const prune = (node: HeapFlameNode): HeapFlameNode => ({ ...node, children: node.children.filter((c) => c.value >= min && c.value > 0).map(prune) });
  return {
    service,
    inuseBytes: heap.bytes,
    inuseObjects: heap.objects,
    samplingIntervalBytes: heap.intervalBytes,
    snapshots: heap.snapshots.map((s) => ({ service: s.service, pid: s.pid, takenAtMs: s.untilMs })),
    flame: prune(flame),
    retainers: heapSites(heap).slice(0, HOTTEST_LIMIT),
    // Spans files' problems are in `problems` already; these are the heap files that could not be read.
    heapProblems: heap.problems.filter((p) => p.path.endsWith('.heap.pb.gz')).map((p) => ({ path: path.relative(snapshot.dir, p.path), reason: p.reason })),
  };
}

function serviceFlame(snapshot: StoreSnapshot, params: URLSearchParams): object {
  const service = textParam(params, 'service');
  const name = textParam(params, 'name');
  const range = rangeOf(params);
  const { spanIndex } = indexes(snapshot);
  let samples = samplesIn(snapshot, range, service);
  if (name !== undefined) {
    samples = samples.filter((s) => s.spanId !== undefined && (spanIndex.get(s.spanId)?.name ?? s.spanName) === name);
  }
  let cpuNanos = 0;
  let inSpansNanos = 0;
  const rootIds = new Set<string>();
  for (const sample of samples) {
    cpuNanos += sample.cpuNanos;
    if (sample.spanId !== undefined) {
      inSpansNanos += sample.cpuNanos;
      rootIds.add(sample.spanId);
    }
  }
  return {
    service,
    name,
    cpuNanos,
    inSpansNanos,
    ...unchargedCpu(samples),
    rootSpans: rootIds.size,
    flame: toFlameJson(flameTree(samples), name ?? service ?? 'all services'),
    hottest: hottestFunctions(samples, HOTTEST_LIMIT),
  };
}

interface DiffSide {
  label: string;
  /** CPU of the side as shown (per span for names). */
  cpuNanos: number;
  /** Root spans on this side. */
  spans: number;
}

interface FunctionChange {
  name: string;
  file: string;
  line: number;
  selfA: number;
  selfB: number;
}

function diff(snapshot: StoreSnapshot, params: URLSearchParams): { mode: string; perSpan: boolean; a: DiffSide; b: DiffSide; flame: DiffFlameJson; changes: FunctionChange[] } {
  const { spanIndex, byId } = indexes(snapshot);
  const byIds = params.has('a') || params.has('b');
  let samplesA: CpuSample[];
  let samplesB: CpuSample[];
  let labelA: string;
  let labelB: string;
  if (byIds) {
    const a = spanIdParam(params.get('a'), 'a');
    const b = spanIdParam(params.get('b'), 'b');
    const labelOf = (id: string): string => {
      const span = byId.get(id) ?? spanIndex.get(id);
      return span === undefined ? id : localRootOf(span, byId);
    };
    const idA = labelOf(a);
    const idB = labelOf(b);
    samplesA = snapshot.samples.filter((s) => s.spanId === idA);
    samplesB = snapshot.samples.filter((s) => s.spanId === idB);
    labelA = `${spanIndex.get(idA)?.name ?? samplesA[0]?.spanName ?? 'span'} ${a}`;
    labelB = `${spanIndex.get(idB)?.name ?? samplesB[0]?.spanName ?? 'span'} ${b}`;
  } else {
    const nameA = textParam(params, 'nameA');
    const nameB = textParam(params, 'nameB');
    if (nameA === undefined || nameB === undefined) throw new ApiError(400, 'give two span ids (a, b) or two span names (nameA, nameB)');
    const samples = samplesIn(snapshot, rangeOf(params), textParam(params, 'service'));
    const named = (name: string): CpuSample[] =>
      samples.filter((s) => s.spanId !== undefined && (spanIndex.get(s.spanId)?.name ?? s.spanName) === name);
    samplesA = named(nameA);
    samplesB = named(nameB);
    labelA = nameA;
    labelB = nameB;
  }
  const spansOf = (samples: CpuSample[]): number => new Set(samples.map((s) => s.spanId)).size;
  const spansA = spansOf(samplesA);
  const spansB = spansOf(samplesB);
  // Two span names compare per request: a name called ten times more must not look ten times worse.
  const factorA = byIds || spansA === 0 ? 1 : 1 / spansA;
  const factorB = byIds || spansB === 0 ? 1 : 1 / spansB;
  const treeA = scaleFlameTree(flameTree(samplesA), factorA);
  const treeB = scaleFlameTree(flameTree(samplesB), factorB);
  return {
    mode: byIds ? 'spans' : 'names',
    perSpan: !byIds,
    a: { label: labelA, cpuNanos: treeA.totalNanos, spans: spansA },
    b: { label: labelB, cpuNanos: treeB.totalNanos, spans: spansB },
    flame: diffFlameJson(treeA, treeB, 'all'),
    changes: functionChanges(samplesA, factorA, samplesB, factorB),
  };
}

/** The functions whose self CPU changed most between A and B. */
function functionChanges(samplesA: CpuSample[], factorA: number, samplesB: CpuSample[], factorB: number): FunctionChange[] {
  const changes = new Map<string, FunctionChange>();
  const add = (fn: FunctionCpu, side: 'selfA' | 'selfB', factor: number): void => {
    const key = `${fn.name}\0${fn.file}\0${fn.line}`;
    let change = changes.get(key);
    if (change === undefined) changes.set(key, (change = { name: fn.name, file: fn.file, line: fn.line, selfA: 0, selfB: 0 }));
    change[side] += fn.selfNanos * factor;
  };
  for (const fn of hottestFunctions(samplesA, Number.MAX_SAFE_INTEGER)) add(fn, 'selfA', factorA);
  for (const fn of hottestFunctions(samplesB, Number.MAX_SAFE_INTEGER)) add(fn, 'selfB', factorB);
  return [...changes.values()].sort((x, y) => Math.abs(y.selfB - y.selfA) - Math.abs(x.selfB - x.selfA)).slice(0, HOTTEST_LIMIT);
}
