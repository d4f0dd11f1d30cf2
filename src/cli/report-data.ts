/**
 * What `span-profiles report` shows, from either source: the store's index (SQLite, kept up to date
 * incrementally, so a full store answers in about a second) or, on a Node without `node:sqlite`, the
 * store read whole. The report's rendering never knows which.
 */

import { breakdownOf, findStalls, OUTSIDE_SPANS, ProcessTimelines, RootResolver, type DurationBreakdown, type Stall } from '../store/read/breakdown';
import { serviceDirName } from '../store/layout';
import type { EventLoopDelayPoint } from '../store/event-loop-delay';
import { readEventLoopDelay, type StoredSpan, type StoreProblem } from '../store/read/reader';
import {
  hottestFunctions,
  loadStoreCpu,
  matchRoots,
  samplesBySpan,
  unchargedCpu,
  type CpuSample,
  type FunctionCpu,
  type RootSpanCpu,
  type StoreCpu,
  type UnchargedCpu,
} from '../store/read/span-cpu';
import { StoreIndex } from '../store/read/store-index';
import { describeStoreTrouble } from './format';

export const SORT_KEYS = ['cpu', 'duration', 'blocked'] as const;
export type SortKey = (typeof SORT_KEYS)[number];

/** Root spans considered by `--sort blocked` (the slowest ones: a fast request cannot be blocked long). */
const BLOCKED_CANDIDATES = 300;

export interface ReportQuery {
  service?: string;
  fromMs?: number;
  untilMs?: number;
  name?: string;
  spanPrefix?: string;
  tracePrefix?: string;
  sort: SortKey;
  limit: number;
}

/** CPU of one span name. */
export interface NameCpu {
  name: string;
  spans: number;
  cpuNanos: number;
  samples: number;
  hottest: FunctionCpu | undefined;
}

export interface ReportData {
  /** Why there is nothing to report, with what to do; undefined when there is something. */
  trouble: string | undefined;
  problems: StoreProblem[];
  header: {
    services: string[];
    cpuProfiles: number;
    fromMs: number;
    untilMs: number;
    cpuNanos: number;
    cpuInSpansNanos: number;
    rootsWithCpu: number;
    spans: number;
    /** CPU charged to no span: samples taken after their span ended, CPU no sample saw. */
    uncharged: UnchargedCpu;
  };
  /** How many root spans match the query. */
  matching: number;
  /** The matching root spans in the order asked, at most `limit`. */
  roots: RootSpanCpu[];
  /** Some span names of the store, for a hint when --name matched nothing. */
  namesSeen: string[];
  byName: NameCpu[];
  functions(root: RootSpanCpu, limit: number): FunctionCpu[];
  breakdown(root: RootSpanCpu): DurationBreakdown | undefined;
  /** Samples without a time (older store files), left out of breakdowns and stalls. */
  untimedSamples: number;
  stalls(limit: number): Stall[];
  /** The largest event-loop delay the process recorded in the seconds overlapping the range, ns. */
  loopDelayMax(service: string, pid: number | undefined, fromMs: number, untilMs: number): number | undefined;
}

/** The report's data from the index when this Node has `node:sqlite`, else from the store read whole. */
export async function loadReportData(dir: string, query: ReportQuery): Promise<ReportData> {
  const index = StoreIndex.open(dir);
  if (index === undefined) {
    const store = await loadStoreCpu(dir, query);
    const loop = await readEventLoopDelay(store.contents.loopFiles);
    return fromStore(dir, store, query, loop.points);
  }
  try {
    const problems = await index.update();
    return fromIndex(dir, index, query, problems);
  } catch (error) {
    index.close();
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------------
// From the store read whole

function fromStore(dir: string, store: StoreCpu, query: ReportQuery, loopPoints: Array<EventLoopDelayPoint & { pid: number; service: string }>): ReportData {
  const resolver = new RootResolver(store.contents.spans);
  const timelines = new ProcessTimelines(store.cpu.samples, resolver, store.cpu.periodNanos || undefined);
  const cache = new Map<StoredSpan, DurationBreakdown>();
  const breakdown = (root: RootSpanCpu): DurationBreakdown | undefined => {
    if (root.span === undefined) return undefined;
    const span = resolver.root(root.span);
    let b = cache.get(span);
    if (b === undefined) cache.set(span, (b = breakdownOf(span, timelines)));
    return b;
  };
  const bySpan = samplesBySpan(store.cpu.samples);
  const candidates = query.sort === 'cpu' ? store.roots : allRootSpans(store, resolver, query.fromMs, query.untilMs);
  const roots = matchRoots(candidates, { name: query.name, spanPrefix: query.spanPrefix, tracePrefix: query.tracePrefix });
  if (query.sort === 'duration') roots.sort((a, b) => (b.durationMs ?? -1) - (a.durationMs ?? -1) || a.spanId.localeCompare(b.spanId));
  if (query.sort === 'blocked') roots.sort((a, b) => (breakdown(b)?.blockedNanos ?? -1) - (breakdown(a)?.blockedNanos ?? -1) || a.spanId.localeCompare(b.spanId));
  const profiles = store.contents.profiles.filter((p) => p.kind === 'cpu');
  return {
    trouble: describeStoreTrouble(dir, store, query.service),
    problems: store.problems,
    header: {
      services: [...new Set(profiles.map((p) => p.service))],
      cpuProfiles: profiles.length,
      fromMs: Math.min(...profiles.map((p) => p.fromMs)),
      untilMs: Math.max(...profiles.map((p) => p.untilMs)),
      cpuNanos: store.cpu.samples.reduce((sum, s) => sum + s.cpuNanos, 0),
      cpuInSpansNanos: store.roots.reduce((sum, r) => sum + r.cpuNanos, 0),
      rootsWithCpu: store.roots.length,
      spans: store.contents.spans.length,
      uncharged: unchargedCpu(store.cpu.samples),
    },
    matching: roots.length,
    roots: roots.slice(0, query.limit),
    namesSeen: [...new Set(store.roots.map((r) => r.name))].slice(0, 8),
    byName: byName(roots, bySpan),
    functions: (root, limit) => hottestFunctions(bySpan.get(root.spanId) ?? [], limit),
    breakdown,
    untimedSamples: timelines.untimedSamples,
    stalls: (limit) =>
      findStalls(timelines, store.contents.spans, { maxGapNanos: stallGapNanos(store.cpu.periodNanos), limit }).filter(
        (stall) =>
          (query.fromMs === undefined || stall.startMs + stall.durationNanos / 1e6 >= query.fromMs) && (query.untilMs === undefined || stall.startMs <= query.untilMs),
      ),
    loopDelayMax: (service, pid, fromMs, untilMs) => {
      const dir = serviceDirName(service);
      let max: number | undefined;
      for (const p of loopPoints) {
        if (p.service !== dir || (pid !== undefined && p.pid !== pid) || p.timeMs < fromMs || p.startMs > untilMs) continue;
        max = Math.max(max ?? 0, p.maxNanos);
      }
      return max;
    },
  };
}

/** Every stored local root span overlapping the range, with its CPU (zero when it has no samples). */
function allRootSpans(store: StoreCpu, resolver: RootResolver, fromMs: number | undefined, untilMs: number | undefined): RootSpanCpu[] {
  const cpu = new Map<StoredSpan, { cpuNanos: number; samples: number }>();
  for (const r of store.roots) {
    if (r.span === undefined) continue;
    const root = resolver.root(r.span);
    const entry = cpu.get(root) ?? { cpuNanos: 0, samples: 0 };
    entry.cpuNanos += r.cpuNanos;
    entry.samples += r.samples;
    cpu.set(root, entry);
  }
  const out: RootSpanCpu[] = [];
  for (const span of store.contents.spans) {
    if (span.name === '' && span.startMs === 0) continue; // a link of the roots index, not a span to list
    if (!resolver.isLocalRoot(span)) continue;
    if ((fromMs !== undefined && span.endMs < fromMs) || (untilMs !== undefined && span.startMs > untilMs)) continue;
    const c = cpu.get(span);
    out.push(rootOf(span, c?.cpuNanos ?? 0, c?.samples ?? 0));
  }
  return out;
}

function rootOf(span: StoredSpan, cpuNanos: number, samples: number): RootSpanCpu {
  return {
    spanId: span.profileId ?? span.spanId,
    traceId: span.traceId,
    name: span.name,
    service: span.service,
    startMs: span.startMs,
    durationMs: span.durationMs,
    cpuNanos,
    samples,
    span,
  };
}

function byName(roots: RootSpanCpu[], bySpan: Map<string, CpuSample[]>): NameCpu[] {
  const groups = new Map<string, RootSpanCpu[]>();
  for (const root of roots) {
    const group = groups.get(root.name);
    if (group === undefined) groups.set(root.name, [root]);
    else group.push(root);
  }
  return [...groups]
    .map(([name, group]) => ({
      name,
      spans: group.length,
      cpuNanos: group.reduce((sum, r) => sum + r.cpuNanos, 0),
      samples: group.reduce((sum, r) => sum + r.samples, 0),
      hottest: hottestFunctions(group.flatMap((r) => bySpan.get(r.spanId) ?? []), 1)[0],
    }))
    .sort((a, b) => b.cpuNanos - a.cpuNanos);
}

/** Samples of one span further apart than this (end of one stretch to start of the next) end a stall. */
function stallGapNanos(periodNanos: number): number {
  return Math.max(1_000_000, (periodNanos || 10_000_000) / 2);
}

// ---------------------------------------------------------------------------------------------------
// From the index

type Param = string | number | null;

function fromIndex(dir: string, index: StoreIndex, query: ReportQuery, problems: StoreProblem[]): ReportData {
  const serviceDir = query.service === undefined ? undefined : serviceDirName(query.service);
  // Files (and their samples) in range and of the service.
  const fileWhere: string[] = ["f.type = 'profile'", "f.kind = 'cpu'"];
  const fileParams: Param[] = [];
  if (serviceDir !== undefined) {
    fileWhere.push('f.service = ?');
    fileParams.push(serviceDir);
  }
  if (query.fromMs !== undefined) {
    fileWhere.push('f.until_ms >= ?');
    fileParams.push(query.fromMs);
  }
  if (query.untilMs !== undefined) {
    fileWhere.push('f.from_ms <= ?');
    fileParams.push(query.untilMs);
  }
  const files = index.get(
    `SELECT COUNT(*) AS n, SUM(f.read_ok) AS ok, MIN(f.from_ms) AS from_ms, MAX(f.until_ms) AS until_ms, GROUP_CONCAT(DISTINCT f.service) AS services FROM files f WHERE ${fileWhere.join(' AND ')}`,
    ...fileParams,
  )!;
  const totals = index.get(
    `SELECT SUM(f.samples) AS n, SUM(f.cpu_ns) AS cpu, SUM(f.cpu_in_spans_ns) AS in_spans, SUM(f.untimed) AS untimed FROM files f WHERE ${fileWhere.join(' AND ')}`,
    ...fileParams,
  )!;
  const timeFiltered = query.fromMs !== undefined || query.untilMs !== undefined;
  const rootWhere: string[] = ['r.is_link = 0'];
  const rootParams: Param[] = [];
  if (query.service !== undefined) {
    rootWhere.push('(r.service = ? OR r.service = ?)');
    rootParams.push(query.service, serviceDir!);
  }
  if (query.fromMs !== undefined) {
    rootWhere.push('r.end_us >= ?');
    rootParams.push(Math.round(query.fromMs * 1000));
  }
  if (query.untilMs !== undefined) {
    rootWhere.push('r.start_us <= ?');
    rootParams.push(Math.round(query.untilMs * 1000));
  }
  const spanCount = Number(index.get(`SELECT COUNT(*) AS n FROM roots r WHERE ${rootWhere.join(' AND ')}`, ...rootParams)?.n ?? 0);

  const trouble = troubleOf(dir, index, problems, query.service, Number(files.n), Number(files.ok ?? 0), Number(totals.n ?? 0));

  const spanCache = new Map<string, StoredSpan | undefined>();
  const spanOfLabel = (label: string): StoredSpan | undefined => {
    if (spanCache.has(label)) return spanCache.get(label);
    const row = index.get('SELECT * FROM roots WHERE profile_id = ? ORDER BY is_link LIMIT 1', label);
    const span = row === undefined ? undefined : StoreIndex.spanOf(row);
    spanCache.set(label, span);
    return span;
  };
  const samplesOfLabel = (label: string): CpuSample[] =>
    index
      .all('SELECT s.*, f.from_ms, f.until_ms FROM samples s JOIN files f ON f.id = s.file_id WHERE s.label = ?', label)
      .map((row) => index.sampleOf(row));

  let roots: RootSpanCpu[];
  let matching: number;
  const idFilters = (alias: { span: string; trace: string }, where: string[], params: Param[]): void => {
    if (query.spanPrefix !== undefined) {
      where.push(`${alias.span} LIKE ?`);
      params.push(`${query.spanPrefix}%`);
    }
    if (query.tracePrefix !== undefined) {
      where.push(`${alias.trace} LIKE ?`);
      params.push(`${query.tracePrefix}%`);
    }
  };
  let byNameRows: NameCpu[] = [];
  if (query.sort === 'cpu' && !timeFiltered) {
    // The running totals per label: the top N by an index, then their spans.
    const where: string[] = [];
    const params: Param[] = [];
    if (serviceDir !== undefined) {
      where.push('c.service = ?');
      params.push(serviceDir);
    }
    if (query.name !== undefined) {
      where.push('c.sname = ?');
      params.push(query.name);
    }
    idFilters({ span: 'c.label', trace: 'c.trace' }, where, params);
    const whereSql = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    matching = Number(index.get(`SELECT COUNT(*) AS n FROM label_cpu c ${whereSql}`, ...params)?.n ?? 0);
    roots = index.all(`SELECT * FROM label_cpu c ${whereSql} ORDER BY c.cpu DESC, c.label LIMIT ?`, ...params, query.limit).map((row) => {
      const span = spanOfLabel(String(row.label));
      return {
        spanId: String(row.label),
        traceId: span?.traceId ?? (row.trace === null ? undefined : String(row.trace)),
        name: span?.name || (row.sname === null ? '(unnamed span)' : String(row.sname)),
        service: span?.service ?? String(row.service),
        startMs: span?.startMs,
        durationMs: span?.durationMs,
        cpuNanos: Number(row.cpu),
        samples: Number(row.n),
        span,
      };
    });
    byNameRows = index
      .all(`SELECT COALESCE(c.sname, '(unnamed span)') AS name, COUNT(*) AS spans, SUM(c.cpu) AS cpu, SUM(c.n) AS n FROM label_cpu c ${whereSql} GROUP BY 1 ORDER BY 3 DESC LIMIT 100`, ...params)
      .map((row) => ({ name: String(row.name), spans: Number(row.spans), cpuNanos: Number(row.cpu), samples: Number(row.n), hottest: undefined }));
    for (const entry of byNameRows.slice(0, query.limit)) {
      // The most recent samples of the name are enough to name its hottest function.
      const stacks = index.all(
        'SELECT stack_id, SUM(cpu_ns) AS cpu FROM (SELECT stack_id, cpu_ns FROM samples WHERE span_name = ? ORDER BY rowid DESC LIMIT 20000) GROUP BY stack_id',
        entry.name,
      );
      entry.hottest = hottestFunctions(stacks.map((row) => stackSample(index, row)), 1)[0];
    }
  } else if (query.sort === 'cpu') {
    // CPU per label, named by its stored span when there is one (else by the span_name label).
    const where: string[] = [];
    const params: Param[] = [];
    if (query.name !== undefined) {
      where.push('COALESCE(r.name, c.sname) = ?');
      params.push(query.name);
    }
    idFilters({ span: 'c.label', trace: 'COALESCE(r.trace_id, c.trace)' }, where, params);
    if (query.fromMs !== undefined || query.untilMs !== undefined) {
      where.push('(r.span_id IS NULL OR (r.end_us >= ? AND r.start_us <= ?))');
      params.push(query.fromMs === undefined ? -1e18 : Math.round(query.fromMs * 1000), query.untilMs === undefined ? 1e18 : Math.round(query.untilMs * 1000));
    }
    const base = `WITH c AS (SELECT s.label, SUM(s.cpu_ns) AS cpu, SUM(s.count) AS n, MAX(s.trace_id) AS trace, MAX(s.span_name) AS sname, MIN(s.service) AS service
                   FROM samples s JOIN files f ON f.id = s.file_id WHERE s.label IS NOT NULL AND ${fileWhere.join(' AND ')} GROUP BY s.label)
      SELECT c.*, r.span_id AS r_span_id, r.trace_id AS r_trace_id, r.parent_span_id AS r_parent, r.name AS r_name, r.kind AS r_kind, r.start_us AS r_start,
             r.end_us AS r_end, r.status AS r_status, r.profile_id AS r_profile, r.url_path AS r_url, r.service AS r_service, r.pid AS r_pid
      FROM c LEFT JOIN roots r ON r.rowid = (SELECT rowid FROM roots WHERE profile_id = c.label AND is_link = 0 LIMIT 1)
      ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}`;
    const params2 = [...fileParams, ...params];
    matching = Number(index.get(`SELECT COUNT(*) AS n FROM (${base})`, ...params2)?.n ?? 0);
    const rowToRoot = (row: Record<string, unknown>): RootSpanCpu => {
      const span =
        row.r_span_id === null || row.r_span_id === undefined
          ? undefined
          : StoreIndex.spanOf({
              span_id: row.r_span_id,
              trace_id: row.r_trace_id,
              parent_span_id: row.r_parent,
              name: row.r_name,
              kind: row.r_kind,
              start_us: row.r_start,
              end_us: row.r_end,
              status: row.r_status,
              profile_id: row.r_profile,
              url_path: row.r_url,
              service: row.r_service,
              pid: row.r_pid,
            });
      return {
        spanId: String(row.label),
        traceId: span?.traceId ?? (row.trace === null ? undefined : String(row.trace)),
        name: span?.name || (row.sname === null ? '(unnamed span)' : String(row.sname)),
        service: span?.service ?? String(row.service),
        startMs: span?.startMs,
        durationMs: span?.durationMs,
        cpuNanos: Number(row.cpu),
        samples: Number(row.n),
        span,
      };
    };
    roots = index.all(`${base} ORDER BY c.cpu DESC, c.label LIMIT ?`, ...params2, query.limit).map(rowToRoot);
    byNameRows = index
      .all(`SELECT COALESCE(r_name, sname, '(unnamed span)') AS name, COUNT(*) AS spans, SUM(cpu) AS cpu, SUM(n) AS n FROM (${base}) GROUP BY 1 ORDER BY 3 DESC LIMIT 100`, ...params2)
      .map((row) => ({ name: String(row.name), spans: Number(row.spans), cpuNanos: Number(row.cpu), samples: Number(row.n), hottest: undefined }));
    for (const entry of byNameRows.slice(0, query.limit)) {
      const stacks = index.all(
        `SELECT s.stack_id, SUM(s.cpu_ns) AS cpu FROM samples s JOIN files f ON f.id = s.file_id WHERE s.span_name = ? AND ${fileWhere.join(' AND ')} GROUP BY s.stack_id`,
        entry.name,
        ...fileParams,
      );
      entry.hottest = hottestFunctions(stacks.map((row) => stackSample(index, row)), 1)[0];
    }
  } else {
    const where = [...rootWhere];
    const params = [...rootParams];
    if (query.name !== undefined) {
      where.push('r.name = ?');
      params.push(query.name);
    }
    idFilters({ span: 'COALESCE(r.profile_id, r.span_id)', trace: 'r.trace_id' }, where, params);
    matching = Number(index.get(`SELECT COUNT(*) AS n FROM roots r WHERE ${where.join(' AND ')}`, ...params)?.n ?? 0);
    const take = query.sort === 'blocked' ? Math.max(query.limit, BLOCKED_CANDIDATES) : query.limit;
    roots = index.all(`SELECT * FROM roots r WHERE ${where.join(' AND ')} ORDER BY (r.end_us - r.start_us) DESC, r.span_id LIMIT ?`, ...params, take).map((row) => {
      const span = StoreIndex.spanOf(row);
      const cpu = index.get('SELECT SUM(cpu_ns) AS cpu, SUM(count) AS n FROM samples WHERE label = ?', span.profileId ?? span.spanId);
      return rootOf(span, Number(cpu?.cpu ?? 0), Number(cpu?.n ?? 0));
    });
  }

  const periodNanos = Number(index.get(`SELECT MAX(f.period_ns) AS p FROM files f WHERE ${fileWhere.join(' AND ')}`, ...fileParams)?.p ?? 0);
  const breakdowns = new Map<string, DurationBreakdown>();
  const breakdown = (root: RootSpanCpu): DurationBreakdown | undefined => {
    const span = root.span;
    if (span === undefined) return undefined;
    let b = breakdowns.get(root.spanId);
    if (b !== undefined) return b;
    const around = index.timelinesAround(span, periodNanos);
    b = breakdownOf(around.root, around.timelines);
    breakdowns.set(root.spanId, b);
    return b;
  };
  if (query.sort === 'blocked') {
    roots.sort((a, b) => (breakdown(b)?.blockedNanos ?? -1) - (breakdown(a)?.blockedNanos ?? -1) || a.spanId.localeCompare(b.spanId));
    roots = roots.slice(0, query.limit);
  }
  if (query.sort !== 'cpu') byNameRows = byNameOfShown(roots);

  return {
    trouble,
    problems,
    header: {
      services: files.services === null ? [] : String(files.services).split(','),
      cpuProfiles: Number(files.n),
      fromMs: Number(files.from_ms),
      untilMs: Number(files.until_ms),
      cpuNanos: Number(totals.cpu ?? 0),
      cpuInSpansNanos: Number(totals.in_spans ?? 0),
      rootsWithCpu: Number(index.get(`SELECT COUNT(*) AS n FROM label_cpu ${serviceDir === undefined ? '' : 'WHERE service = ?'}`, ...(serviceDir === undefined ? [] : [serviceDir]))?.n ?? 0),
      spans: spanCount,
      uncharged: index.unchargedCpu(fileWhere.join(' AND '), ...fileParams),
    },
    matching,
    roots,
    get namesSeen() {
      return index.all('SELECT sname FROM label_cpu WHERE sname IS NOT NULL GROUP BY sname ORDER BY SUM(cpu) DESC LIMIT 8').map((row) => String(row.sname));
    },
    byName: byNameRows,
    functions: (root, limit) => hottestFunctions(samplesOfLabel(root.spanId), limit),
    breakdown,
    untimedSamples: Number(totals.untimed ?? 0),
    stalls: (limit) => stallsOfIndex(index, query, fileWhere, fileParams, limit),
    loopDelayMax: (service, pid, fromMs, untilMs) => index.loopDelayMax(service, pid, fromMs, untilMs),
  };
}

/** A sample standing for the CPU of one stack (for hottest functions). */
function stackSample(index: StoreIndex, row: Record<string, unknown>): CpuSample {
  return {
    spanId: undefined,
    traceId: undefined,
    spanName: undefined,
    cpuNanos: Number(row.cpu),
    count: 0,
    stack: index.stack(Number(row.stack_id)),
    service: '',
    fromMs: 0,
    untilMs: 0,
    pid: 0,
    timeMs: undefined,
  };
}

function byNameOfShown(roots: RootSpanCpu[]): NameCpu[] {
  const groups = new Map<string, NameCpu>();
  for (const r of roots) {
    const entry = groups.get(r.name) ?? { name: r.name, spans: 0, cpuNanos: 0, samples: 0, hottest: undefined };
    entry.spans++;
    entry.cpuNanos += r.cpuNanos;
    entry.samples += r.samples;
    groups.set(r.name, entry);
  }
  return [...groups.values()].sort((a, b) => b.cpuNanos - a.cpuNanos);
}

function stallsOfIndex(index: StoreIndex, query: ReportQuery, fileWhere: string[], fileParams: Param[], limit: number): Stall[] {
  const where = [...fileWhere];
  const params = [...fileParams];
  if (query.fromMs !== undefined) {
    where.push('u.until_us >= ?');
    params.push(Math.round(query.fromMs * 1000));
  }
  if (query.untilMs !== undefined) {
    where.push('u.from_us <= ?');
    params.push(Math.round(query.untilMs * 1000));
  }
  const rows = index.all(
    `SELECT u.* FROM runs u JOIN files f ON f.id = u.file_id WHERE ${where.join(' AND ')} ORDER BY (u.until_us - u.from_us) DESC, u.from_us LIMIT ?`,
    ...params,
    limit,
  );
  return rows.map((row) => {
    const fromUs = Number(row.from_us);
    const untilUs = Number(row.until_us);
    const label = row.label === null ? undefined : String(row.label);
    const owner = label === undefined ? undefined : index.get('SELECT * FROM roots WHERE profile_id = ? AND is_link = 0 LIMIT 1', label);
    // Requests last less than a minute, so only roots started in the minute before are looked at.
    const open = index.get(
      'SELECT COUNT(*) AS n FROM roots WHERE is_link = 0 AND start_us BETWEEN ? AND ? AND end_us > ? AND pid = ? AND COALESCE(profile_id, span_id) != ?',
      fromUs - 60_000_000,
      untilUs,
      fromUs,
      Number(row.pid),
      label ?? '',
    );
    return {
      name: owner !== undefined ? String(owner.name) : label === undefined ? OUTSIDE_SPANS : String(row.sname ?? '(unnamed span)'),
      spanId: label,
      traceId: owner !== undefined ? String(owner.trace_id) : row.trace === null ? undefined : String(row.trace),
      service: String(row.service),
      pid: Number(row.pid),
      startMs: fromUs / 1000,
      durationNanos: (untilUs - fromUs) * 1000,
      cpuNanos: Number(row.cpu),
      functions: JSON.parse(String(row.functions)) as string[],
      othersOpen: Number(open?.n ?? 0),
    };
  });
}

/** Why there is nothing to analyze in an indexed store (the messages of a store read whole); undefined when there is. */
export function indexTrouble(dir: string, index: StoreIndex, problems: StoreProblem[], service: string | undefined): string | undefined {
  const where = ["type = 'profile'", "kind = 'cpu'"];
  const params: string[] = [];
  if (service !== undefined) {
    where.push('service = ?');
    params.push(serviceDirName(service));
  }
  const row = index.get(`SELECT COUNT(*) AS n, SUM(read_ok) AS ok, SUM(samples) AS samples FROM files WHERE ${where.join(' AND ')}`, ...params);
  return troubleOf(dir, index, problems, service, Number(row?.n ?? 0), Number(row?.ok ?? 0), Number(row?.samples ?? 0));
}

function troubleOf(dir: string, index: StoreIndex, problems: StoreProblem[], service: string | undefined, cpuFiles: number, readable: number, samples: number): string | undefined {
  // The same messages as for a store read whole, from the index's counts.
  const rootProblem = problems.find((p) => p.path === index.dir);
  const fake = {
    contents: { problems: rootProblem === undefined ? [] : [rootProblem], profiles: Array.from({ length: cpuFiles }, () => ({ kind: 'cpu' })) },
    cpu: { profilesRead: readable, samples: { length: samples }, problems: problems.filter((p) => p.path !== index.dir) },
  } as unknown as StoreCpu;
  return describeStoreTrouble(dir, fake, service);
}
