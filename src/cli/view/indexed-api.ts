/**
 * The view's list and span pages answered from the store's SQLite index (see ../../store/read/store-index.ts)
 * instead of the whole store in memory: on a large store (hundreds of MiB, hundreds of thousands of
 * requests) reading every span for each refresh takes half a minute, the index answers in a second.
 * Same answers as ./api.ts for `store`, `roots`, `span/<id>` (with its pprof and Chrome trace);
 * the service-wide flame graph and the diff still read the whole store.
 */

import * as path from 'node:path';
import { breakdownOf, type DurationBreakdown } from '../../store/read/breakdown';
import { parseStoreFileName, serviceDirName, spansFileName } from '../../store/layout';
import { readSpansFile, type StoredSpan, type StoreProblem } from '../../store/read/reader';
import { buildPprof, encodePprofGzip, flameTree, hottestFunctions, isEstimate } from '../../store/read/span-cpu';
import { StoreIndex } from '../../store/read/store-index';
import { chromeTrace, laneOf, type ApiResult, type RootSpanRow, type SpanDetail } from './api';
import { toFlameJson } from './flame-json';
import { ApiError, choiceParam, limitParam, spanIdParam, textParam, timeParam } from './query';
import { buildWaterfall } from './waterfall';

const HOTTEST_LIMIT = 15;
/** Root spans considered when sorting by blocked time (the slowest ones), and rows given their blocked time otherwise. */
const BLOCKED_CANDIDATES = 100;
const ROWS_WITH_BREAKDOWN = 50;
/** Labels looked at, most CPU first, to fill a filtered list. */
const MAX_LABELS_SCANNED = 100_000;

type Param = string | number | null;

/** Answers `route` from the index, or undefined when the route is not one it answers. Throws {@link ApiError}. */
export async function handleIndexedApi(index: StoreIndex, problems: StoreProblem[], route: string, params: URLSearchParams): Promise<ApiResult | undefined> {
  const json = (body: object): ApiResult => ({ type: 'json', body: { ...body, problems } });
  if (route === 'store') return json(storeSummary(index));
  if (route === 'roots') return json(rootSpans(index, params));
  const spanRoute = /^span\/([^/]*)(\/pprof|\/chrome-trace)?$/.exec(route);
  if (spanRoute) {
    let raw: string;
    try {
      raw = decodeURIComponent(spanRoute[1]!);
    } catch {
      throw new ApiError(400, 'the span id in the path is not valid URL encoding');
    }
    const id = spanIdParam(raw, 'the span id in the path');
    if (spanRoute[2] === '/pprof') return spanPprof(index, id);
    const found = await spanWithTrace(index, id);
    if (spanRoute[2] === '/chrome-trace') {
      const labels = new Set(found.traceSpans.map((s) => s.profileId).filter((p): p is string => p !== undefined));
      return chromeTrace(found.span.traceId, found.traceSpans, [...labels].flatMap((label) => index.samplesOfLabel(label)));
    }
    return json(spanDetail(index, found));
  }
  return undefined;
}

function storeSummary(index: StoreIndex): object {
  const services = index.all("SELECT DISTINCT service FROM roots WHERE is_link = 0 UNION SELECT DISTINCT service FROM files WHERE type = 'profile'").map((r) => String(r.service));
  const names = index.all('SELECT name, COUNT(*) AS n FROM roots WHERE is_link = 0 GROUP BY name ORDER BY n DESC, name LIMIT 500');
  const counts = index.get("SELECT SUM(samples) AS samples, SUM(read_ok) AS ok, MIN(from_ms) AS first, MAX(until_ms) AS last FROM files WHERE type = 'profile' AND kind = 'cpu'");
  const spanRange = index.get('SELECT COUNT(*) AS n, MIN(start_us) AS first, MAX(end_us) AS last FROM roots WHERE is_link = 0');
  const firsts = [counts?.first, spanRange?.first === null || spanRange?.first === undefined ? null : Number(spanRange.first) / 1000].filter((v) => v !== null && v !== undefined).map(Number);
  const lasts = [counts?.last, spanRange?.last === null || spanRange?.last === undefined ? null : Number(spanRange.last) / 1000].filter((v) => v !== null && v !== undefined).map(Number);
  return {
    dir: index.dir,
    services: [...new Set(services)].sort(),
    rootSpanNames: names.map((r) => ({ name: String(r.name), count: Number(r.n) })),
    spans: Number(spanRange?.n ?? 0),
    samples: Number(counts?.samples ?? 0),
    profilesRead: Number(counts?.ok ?? 0),
    firstMs: firsts.length > 0 ? Math.min(...firsts) : undefined,
    lastMs: lasts.length > 0 ? Math.max(...lasts) : undefined,
  };
}

function rootSpans(index: StoreIndex, params: URLSearchParams): object {
  const service = textParam(params, 'service');
  const nameFilter = textParam(params, 'name')?.toLowerCase();
  const fromMs = timeParam(params, 'from');
  const untilMs = timeParam(params, 'until');
  if (fromMs !== undefined && untilMs !== undefined && fromMs > untilMs) throw new ApiError(400, 'from is after until');
  const sort = choiceParam(params, 'sort', ['cpu', 'duration', 'blocked', 'start'] as const, 'cpu');
  const limit = limitParam(params, 'limit', 200, 5000);

  const where: string[] = ['r.is_link = 0'];
  const values: Param[] = [];
  if (service !== undefined) {
    where.push('(r.service = ? OR r.service = ?)');
    values.push(service, serviceDirName(service));
  }
  if (nameFilter !== undefined) {
    where.push("LOWER(r.name) LIKE ? ESCAPE '\\'");
    values.push(`%${nameFilter.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  }
  if (fromMs !== undefined) {
    where.push('r.end_us >= ?');
    values.push(Math.round(fromMs * 1000));
  }
  if (untilMs !== undefined) {
    where.push('r.start_us <= ?');
    values.push(Math.round(untilMs * 1000));
  }
  const whereSql = where.join(' AND ');
  const total = Number(index.get(`SELECT COUNT(*) AS n FROM roots r WHERE ${whereSql}`, ...values)?.n ?? 0);
  let rows: Array<Record<string, unknown>>;
  if (sort === 'cpu') {
    // Most CPU first: the running totals per label by their index, filtered here, until the page is full.
    rows = [];
    const batch = Math.max(2 * limit, 500);
    const dir = service === undefined ? undefined : serviceDirName(service);
    for (let offset = 0; rows.length < limit && offset < MAX_LABELS_SCANNED; offset += batch) {
      const labels = index.all('SELECT * FROM label_cpu ORDER BY cpu DESC, label LIMIT ? OFFSET ?', batch, offset);
      if (labels.length === 0) break;
      for (const c of labels) {
        const root = index.get('SELECT * FROM roots WHERE profile_id = ? AND is_link = 0 LIMIT 1', String(c.label));
        const name = root === undefined ? String(c.sname ?? '(unnamed span)') : String(root.name);
        if (dir !== undefined && String(c.service) !== dir) continue;
        if (nameFilter !== undefined && !name.toLowerCase().includes(nameFilter)) continue;
        if (root === undefined) {
          if (fromMs !== undefined || untilMs !== undefined) continue;
          rows.push({ label: c.label, trace_id: c.trace, name, service: c.service, cpu: c.cpu, n: c.n, samplesOnly: true });
        } else {
          if (fromMs !== undefined && Number(root.end_us) < fromMs * 1000) continue;
          if (untilMs !== undefined && Number(root.start_us) > untilMs * 1000) continue;
          rows.push({ ...root, cpu: c.cpu, n: c.n });
        }
        if (rows.length === limit) break;
      }
    }
    if (rows.length < limit) {
      // Then the requests too light to be sampled, slowest first.
      const more = index.all(
        `SELECT r.* FROM roots r WHERE ${whereSql} AND NOT EXISTS (SELECT 1 FROM label_cpu c WHERE c.label = COALESCE(r.profile_id, r.span_id)) ORDER BY (r.end_us - r.start_us) DESC LIMIT ?`,
        ...values,
        limit - rows.length,
      );
      rows = [...rows, ...more];
    }
  } else {
    const order = sort === 'start' ? 'r.start_us DESC' : '(r.end_us - r.start_us) DESC';
    rows = index.all(`SELECT r.* FROM roots r WHERE ${whereSql} ORDER BY ${order}, r.span_id LIMIT ?`, ...values, sort === 'blocked' ? BLOCKED_CANDIDATES : limit);
  }
  const periodNanos = index.periodNanos();
  let list: RootSpanRow[] = rows.map((row) => {
    if (row.samplesOnly === true) {
      return { spanId: String(row.label), traceId: row.trace_id === null ? undefined : String(row.trace_id), name: String(row.name), service: String(row.service), startMs: undefined, durationMs: undefined, statusCode: undefined, cpuNanos: Number(row.cpu), samples: Number(row.n), estimate: isEstimate(Number(row.n)) };
    }
    const span = StoreIndex.spanOf(row);
    const label = span.profileId ?? span.spanId;
    const cpu = row.cpu === undefined ? index.get('SELECT cpu, n FROM label_cpu WHERE label = ?', label) : { cpu: row.cpu, n: row.n };
    return {
      spanId: label,
      traceId: span.traceId,
      name: span.name,
      service: span.service,
      startMs: span.startMs,
      durationMs: span.durationMs,
      statusCode: span.statusCode,
      cpuNanos: Number(cpu?.cpu ?? 0),
      samples: Number(cpu?.n ?? 0),
      estimate: isEstimate(Number(cpu?.n ?? 0)),
      span,
    } as RootSpanRow & { span?: StoredSpan };
  });
  const withBreakdown = (row: RootSpanRow & { span?: StoredSpan }): void => {
    if (row.span === undefined || row.blockedNanos !== undefined) return;
    const around = index.timelinesAround(row.span, periodNanos);
    const b = breakdownOf(around.root, around.timelines);
    row.blockedNanos = b.blockedNanos;
    row.waitingNanos = b.waitingNanos;
  };
  if (sort === 'blocked') {
    for (const row of list) withBreakdown(row);
    list.sort((x, y) => (y.blockedNanos ?? -1) - (x.blockedNanos ?? -1) || (y.durationMs ?? -1) - (x.durationMs ?? -1) || x.spanId.localeCompare(y.spanId));
    list = list.slice(0, limit);
  }
  list.forEach((row, i) => {
    // The blocked time of the first rows of the page (each costs a look at the samples around it).
    if (i < ROWS_WITH_BREAKDOWN) withBreakdown(row);
    delete (row as { span?: StoredSpan }).span;
  });
  const totals = index.get("SELECT SUM(cpu_ns) AS cpu, SUM(cpu_in_spans_ns) AS in_spans FROM files WHERE type = 'profile' AND kind = 'cpu'");
  return {
    total,
    roots: list,
    cpu: {
      totalNanos: Number(totals?.cpu ?? 0),
      unattributedNanos: Number(totals?.cpu ?? 0) - Number(totals?.in_spans ?? 0),
      ...index.unchargedCpu("f.type = 'profile' AND f.kind = 'cpu'"),
    },
    periodNanos,
  };
}

interface FoundSpan {
  span: StoredSpan;
  /** The local root the span's samples carry the id of. */
  root: StoredSpan;
  traceSpans: StoredSpan[];
}

/**
 * The span asked for (by its profile id, the id the list links to) and every stored span of its trace:
 * read from the spans file its index entry points to and the one before it of the same process (a
 * root's children may have been exported in the batch before).
 */
async function spanWithTrace(index: StoreIndex, id: string): Promise<FoundSpan> {
  const row = index.get('SELECT r.*, f.path AS file_path FROM roots r JOIN files f ON f.id = r.file_id WHERE r.profile_id = ? ORDER BY r.is_link LIMIT 1', id);
  if (row === undefined) throw new ApiError(404, `no span ${id} in the store`);
  const span = StoreIndex.spanOf(row);
  const traceSpans: StoredSpan[] = [];
  const files = new Set<string>();
  for (const r of index.all('SELECT DISTINCT f.path FROM roots r JOIN files f ON f.id = r.file_id WHERE r.trace_id = ?', span.traceId)) files.add(String(r.path));
  for (const indexPath of [...files]) {
    const parsed = parseStoreFileName(path.basename(indexPath));
    if (parsed === undefined || parsed.type !== 'roots') continue;
    const dir = path.dirname(indexPath);
    files.delete(indexPath);
    files.add(path.join(dir, spansFileName(parsed.startMs, parsed.pid)));
    const before = index.get(
      "SELECT path FROM files WHERE type = 'roots' AND service = ? AND pid = ? AND from_ms < ? ORDER BY from_ms DESC LIMIT 1",
      path.basename(dir),
      parsed.pid,
      parsed.startMs,
    );
    if (before !== undefined) {
      const previous = parseStoreFileName(path.basename(String(before.path)));
      if (previous !== undefined && previous.type === 'roots') files.add(path.join(dir, spansFileName(previous.startMs, previous.pid)));
    }
  }
  const seen = new Set<string>();
  for (const file of files) {
    const contents = await readSpansFile(file, path.basename(path.dirname(file)));
    for (const s of contents.spans) {
      if (s.traceId !== span.traceId || seen.has(s.spanId)) continue;
      seen.add(s.spanId);
      traceSpans.push(s);
    }
  }
  if (traceSpans.length === 0) traceSpans.push(span);
  return { span, root: span, traceSpans };
}

function spanDetail(index: StoreIndex, found: FoundSpan): SpanDetail {
  const { span, traceSpans } = found;
  const label = span.profileId ?? span.spanId;
  const samples = index.samplesOfLabel(label);
  let cpuNanos = 0;
  let count = 0;
  for (const sample of samples) {
    cpuNanos += sample.cpuNanos;
    count += sample.count;
  }
  const cpuByProfileId: Record<string, number> = {};
  for (const s of traceSpans) {
    if (s.profileId === undefined) continue;
    const cpu = index.get('SELECT cpu FROM label_cpu WHERE label = ?', s.profileId);
    if (cpu !== undefined) cpuByProfileId[s.profileId] = Number(cpu.cpu);
  }
  const periodNanos = index.periodNanos();
  const around = index.timelinesAround(span, periodNanos);
  const breakdown: DurationBreakdown = breakdownOf(around.root, around.timelines);
  return {
    span,
    root: { spanId: label, name: span.name, service: span.service, durationMs: span.durationMs, startMs: span.startMs },
    trace: buildWaterfall(span.traceId, traceSpans),
    cpuByProfileId,
    cpuNanos,
    samples: count,
    estimate: isEstimate(count),
    flame: toFlameJson(flameTree(samples), span.name),
    hottest: hottestFunctions(samples, HOTTEST_LIMIT),
    periodNanos,
    breakdown,
    lane: laneOf(around.timelines, around.root),
    loopDelayMaxNanos: index.loopDelayMax(span.service, span.pid, span.startMs, span.endMs),
  };
}

async function spanPprof(index: StoreIndex, id: string): Promise<ApiResult> {
  const samples = index.samplesOfLabel(id);
  if (samples.length === 0) throw new ApiError(404, `no CPU samples of span ${id} in the store`);
  const data = await encodePprofGzip(buildPprof(samples, index.periodNanos()));
  return { type: 'download', fileName: `span-${id}.cpu.pb.gz`, contentType: 'application/octet-stream', data };
}
