/**
 * `span-profiles report [dir]`: the root spans that used the most CPU, CPU per span name, and the
 * hottest functions of the top spans, in 80 columns; or all of it as JSON with `--json`.
 */

import { defaultStoreDir } from '../config';
import { breakdownOf, findStalls, ProcessTimelines, RootResolver, type DurationBreakdown, type Stall } from '../store/breakdown';
import type { StoredSpan } from '../store/reader';
import { hottestFunctions, loadStoreCpu, matchRoots, samplesBySpan, type CpuSample, type FunctionCpu, type RootSpanCpu, type StoreCpu } from '../store/span-cpu';
import { EXIT_FAILURE, EXIT_OK, parseCommandArgs, parseIdPrefix, parsePositiveInt, parseTimeArg, UsageError } from './args';
import { describeStoreTrouble, displayLocation, formatMs, formatNanos, formatTime, printProblems, renderTable, truncateEnd } from './format';
import type { Subcommand } from './main';

const WIDTH = 80;
const DEFAULT_LIMIT = 10;
const DEFAULT_DETAILS = 3;
const FUNCTIONS_PER_SPAN = 5;

const OPTIONS = {
  service: { type: 'string' },
  name: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  span: { type: 'string' },
  trace: { type: 'string' },
  limit: { type: 'string' },
  details: { type: 'string' },
  sort: { type: 'string' },
  stalls: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function usage(): string {
  return [
    'Usage: span-profiles report [dir] [options]',
    '',
    'The root spans (requests, jobs) that used the most CPU, CPU per span name,',
    'and the hottest functions of the top spans (self and total CPU, file:line).',
    '',
    'Arguments:',
    '  dir              the store: SPAN_PROFILES_DIR, else <tmpdir>/span-profiles',
    '',
    'Options:',
    '  --service NAME   only this service',
    '  --name NAME      only root spans with this exact name, e.g. "GET /users/:id"',
    '  --since TIME     only spans after TIME: ISO (2026-11-24T20:15Z) or ago (10m)',
    '  --until TIME     only spans before TIME',
    '  --span ID        only this root span (its id, or a prefix of 8+ hex digits)',
    '  --trace ID       only this trace (its id, or a prefix of 8+ hex digits)',
    `  --limit N        list N root spans (default ${DEFAULT_LIMIT})`,
    `  --details N      show the hottest functions of the top N (default ${DEFAULT_DETAILS})`,
    '  --sort KEY       cpu (default): most CPU first; duration: slowest first, every',
    '                   root span (also those with no CPU), with its time split into',
    '                   own CPU, blocked (the thread ran other work) and waiting;',
    '                   blocked: most blocked first',
    '  --stalls         the longest stretches of CPU by one span (event-loop stalls),',
    '                   with their functions and the requests open meanwhile',
    '  --json           everything as JSON, for scripts',
    '  -h, --help       this text',
    '',
    'Exit status: 0 spans found, 1 nothing found or unreadable store, 2 bad args.',
  ].join('\n');
}

interface NameCpu {
  name: string;
  spans: number;
  cpuNanos: number;
  samples: number;
  hottest: FunctionCpu | undefined;
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, OPTIONS, 1);
  if (values.help) {
    process.stdout.write(usage() + '\n');
    return EXIT_OK;
  }
  const now = Date.now();
  const str = (name: string): string | undefined => values[name] as string | undefined;
  const fromMs = str('since') === undefined ? undefined : parseTimeArg('since', str('since')!, now);
  const untilMs = str('until') === undefined ? undefined : parseTimeArg('until', str('until')!, now);
  const limit = str('limit') === undefined ? DEFAULT_LIMIT : parsePositiveInt('limit', str('limit')!);
  const details = str('details') === undefined ? DEFAULT_DETAILS : parsePositiveInt('details', str('details')!);
  const spanPrefix = str('span') === undefined ? undefined : parseIdPrefix('span', str('span')!, 16);
  const tracePrefix = str('trace') === undefined ? undefined : parseIdPrefix('trace', str('trace')!, 32);
  const sort = str('sort') ?? 'cpu';
  if (!SORT_KEYS.includes(sort as SortKey)) throw new UsageError(`--sort '${sort}' is not one of ${SORT_KEYS.join(', ')}`);
  const dir = positionals[0] ?? defaultStoreDir();

  const store = await loadStoreCpu(dir, { service: str('service'), fromMs, untilMs });
  const trouble = describeStoreTrouble(dir, store, str('service'));
  if (trouble !== undefined) {
    process.stderr.write(`span-profiles report: ${trouble}\n`);
    return EXIT_FAILURE;
  }
  printProblems('report', store.problems);
  const analysis = analyze(store);

  if (values.stalls) {
    const stalls = findStalls(analysis.timelines, store.contents.spans, { maxGapNanos: stallGapNanos(store), limit })
      .filter((stall) => (fromMs === undefined || stall.startMs + stall.durationNanos / 1e6 >= fromMs) && (untilMs === undefined || stall.startMs <= untilMs));
    if (values.json) process.stdout.write(JSON.stringify({ dir, stalls: stalls.map(stallJson), problems: store.problems }, null, 2) + '\n');
    else process.stdout.write(renderStalls(dir, stalls, analysis).join('\n') + '\n');
    return EXIT_OK;
  }

  const candidates = sort === 'cpu' ? store.roots : allRootSpans(store, analysis, fromMs, untilMs);
  const roots = matchRoots(candidates, { name: str('name'), spanPrefix, tracePrefix });
  if (sort === 'duration') roots.sort((a, b) => (b.durationMs ?? -1) - (a.durationMs ?? -1) || a.spanId.localeCompare(b.spanId));
  if (sort === 'blocked') {
    roots.sort((a, b) => (analysis.breakdown(b)?.blockedNanos ?? -1) - (analysis.breakdown(a)?.blockedNanos ?? -1) || a.spanId.localeCompare(b.spanId));
  }
  if (roots.length === 0) {
    const what = sort === 'cpu' ? 'no root span with CPU samples' : 'no root span';
    process.stderr.write(`span-profiles report: ${what} matches ${describeFilter(values)} in ${dir}\n`);
    const names = [...new Set(store.roots.map((r) => r.name))].slice(0, 8);
    if (str('name') !== undefined && names.length > 0) process.stderr.write(`Span names seen: ${names.map((n) => JSON.stringify(n)).join(', ')}\n`);
    return EXIT_FAILURE;
  }
  const bySpan = samplesBySpan(store.cpu.samples);
  if (values.json) {
    process.stdout.write(JSON.stringify(toJson(dir, store, roots, bySpan, limit, analysis, sort as SortKey), null, 2) + '\n');
  } else if (sort === 'cpu') {
    process.stdout.write(renderReport(dir, store, roots, bySpan, limit, details).join('\n') + '\n');
  } else {
    process.stdout.write(renderSlowest(dir, roots, bySpan, limit, details, analysis, sort as SortKey).join('\n') + '\n');
  }
  return EXIT_OK;
}

const SORT_KEYS = ['cpu', 'duration', 'blocked'] as const;
type SortKey = (typeof SORT_KEYS)[number];

/** The samples placed on each process's time line, and each root's breakdown computed once. */
interface Analysis {
  resolver: RootResolver;
  timelines: ProcessTimelines;
  breakdown(root: RootSpanCpu): DurationBreakdown | undefined;
}

function analyze(store: StoreCpu): Analysis {
  const resolver = new RootResolver(store.contents.spans);
  const timelines = new ProcessTimelines(store.cpu.samples, resolver);
  const cache = new Map<StoredSpan, DurationBreakdown>();
  return {
    resolver,
    timelines,
    breakdown(root) {
      if (root.span === undefined) return undefined;
      const span = resolver.root(root.span);
      let b = cache.get(span);
      if (b === undefined) cache.set(span, (b = breakdownOf(span, timelines)));
      return b;
    },
  };
}

/** Samples of one span further apart than this (end of one stretch to start of the next) end a stall. */
function stallGapNanos(store: StoreCpu): number {
  return Math.max(1_000_000, (store.cpu.periodNanos || 10_000_000) / 2);
}

/**
 * Every stored local root span overlapping the time range, with its CPU (zero when it has no samples:
 * a request that only waited is the interesting case).
 */
function allRootSpans(store: StoreCpu, analysis: Analysis, fromMs: number | undefined, untilMs: number | undefined): RootSpanCpu[] {
  const cpu = new Map<StoredSpan, { cpuNanos: number; samples: number }>();
  for (const r of store.roots) {
    if (r.span === undefined) continue;
    const root = analysis.resolver.root(r.span);
    const entry = cpu.get(root) ?? { cpuNanos: 0, samples: 0 };
    entry.cpuNanos += r.cpuNanos;
    entry.samples += r.samples;
    cpu.set(root, entry);
  }
  const out: RootSpanCpu[] = [];
  for (const span of store.contents.spans) {
    if (!analysis.resolver.isLocalRoot(span)) continue;
    if ((fromMs !== undefined && span.endMs < fromMs) || (untilMs !== undefined && span.startMs > untilMs)) continue;
    const c = cpu.get(span);
    out.push({
      spanId: span.profileId ?? span.spanId,
      traceId: span.traceId,
      name: span.name,
      service: span.service,
      startMs: span.startMs,
      durationMs: span.durationMs,
      cpuNanos: c?.cpuNanos ?? 0,
      samples: c?.samples ?? 0,
      span,
    });
  }
  return out;
}

function percentOf(part: number, whole: number): string {
  return whole > 0 ? `${Math.round((100 * part) / whole)}%` : '-';
}

function renderSlowest(
  dir: string,
  roots: RootSpanCpu[],
  bySpan: Map<string, CpuSample[]>,
  limit: number,
  details: number,
  analysis: Analysis,
  sort: SortKey,
): string[] {
  const out: string[] = [];
  out.push(truncateEnd(`Store ${dir}`, WIDTH));
  const shown = roots.slice(0, limit);
  const title = sort === 'duration' ? 'Root spans, slowest first' : 'Root spans, most blocked first';
  out.push(roots.length > shown.length ? `${title} (top ${shown.length} of ${roots.length})` : title);
  out.push(
    ...renderTable(
      [
        { header: 'DURATION', width: 9, right: true },
        { header: 'CPU', width: 9, right: true },
        { header: 'BLOCKED', width: 9, right: true },
        { header: 'WAITING', width: 9, right: true },
        { header: 'TRACE', width: 8 },
        { header: 'NAME', minWidth: 12 },
      ],
      shown.map((r) => {
        const b = analysis.breakdown(r);
        return [
          r.durationMs === undefined ? '-' : formatMs(r.durationMs),
          b === undefined ? formatNanos(r.cpuNanos) : formatNanos(b.cpuNanos),
          b === undefined ? '-' : formatNanos(b.blockedNanos),
          b === undefined ? '-' : formatNanos(b.waitingNanos),
          (r.traceId ?? '-').slice(0, 8),
          displayName(r),
        ];
      }),
      WIDTH,
    ),
  );
  if (analysis.timelines.untimedSamples > 0) {
    const n = analysis.timelines.untimedSamples;
    out.push(`(${n} sample${n === 1 ? '' : 's'} without a time (older store files) not in the breakdown)`);
  }
  shown.slice(0, details).forEach((root, i) => {
    const b = analysis.breakdown(root);
    out.push('');
    const head = `#${i + 1} `;
    const tail = root.durationMs === undefined ? '' : `: took ${formatMs(root.durationMs)}`;
    out.push(head + truncateEnd(displayName(root), Math.max(12, WIDTH - head.length - tail.length)) + tail);
    out.push(`   trace ${root.traceId ?? '-'}  span ${root.spanId}`);
    if (b === undefined) return;
    out.push(
      `   own CPU ${formatNanos(b.cpuNanos)} (${percentOf(b.cpuNanos, b.durationNanos)}), blocked ${formatNanos(b.blockedNanos)} ` +
        `(${percentOf(b.blockedNanos, b.durationNanos)}), waiting ${formatNanos(b.waitingNanos)} (${percentOf(b.waitingNanos, b.durationNanos)})`,
    );
    if (b.blockedBy.length > 0) {
      out.push('   blocked by:');
      out.push(
        ...renderTable(
          [
            { header: 'CPU', width: 9, right: true },
            { header: 'SPANS', width: 5, right: true },
            { header: 'NAME', minWidth: 12 },
            { header: 'FUNCTIONS', minWidth: 14 },
          ],
          b.blockedBy.slice(0, FUNCTIONS_PER_SPAN).map((x) => [formatNanos(x.cpuNanos), String(x.spans), x.name, x.functions.join(', ')]),
          WIDTH,
          '   ',
        ),
      );
    }
    const functions = hottestFunctions(bySpan.get(root.spanId) ?? [], 3);
    if (functions.length > 0) out.push(truncateEnd(`   own hottest: ${functions.map((f) => `${f.name} ${formatNanos(f.selfNanos)}`).join(', ')}`, WIDTH));
  });
  out.push('');
  out.push(truncateEnd(`More: span-profiles report --stalls | report --span <id> | view`, WIDTH));
  return out;
}

function renderStalls(dir: string, stalls: Stall[], analysis: Analysis): string[] {
  const out: string[] = [truncateEnd(`Store ${dir}`, WIDTH)];
  if (stalls.length === 0) {
    out.push('No CPU samples with times in the range (stores written before per-sample times have none).');
    return out;
  }
  out.push('Longest stretches of CPU by one span (event-loop stalls)');
  out.push(
    ...renderTable(
      [
        { header: 'STALL', width: 9, right: true },
        { header: 'AT', width: 12 },
        { header: 'OPEN', width: 4, right: true },
        { header: 'TRACE', width: 8 },
        { header: 'NAME', minWidth: 12 },
        { header: 'FUNCTIONS', minWidth: 12 },
      ],
      stalls.map((s) => [
        formatNanos(s.durationNanos),
        new Date(s.startMs).toISOString().slice(11, 23),
        String(s.othersOpen),
        (s.traceId ?? '-').slice(0, 8),
        s.name,
        s.functions.join(', '),
      ]),
      WIDTH,
    ),
  );
  out.push('OPEN: other requests of the process that were open (and could not run) meanwhile.');
  if (analysis.timelines.untimedSamples > 0) out.push(`(${analysis.timelines.untimedSamples} sample(s) without a time left out)`);
  return out;
}

function stallJson(s: Stall): unknown {
  return {
    name: s.name,
    spanId: s.spanId ?? null,
    traceId: s.traceId ?? null,
    service: s.service,
    pid: s.pid,
    startTime: new Date(s.startMs).toISOString(),
    durationNanos: s.durationNanos,
    cpuNanos: s.cpuNanos,
    functions: s.functions,
    othersOpen: s.othersOpen,
  };
}

/**
 * The name to show for one span: a server span named only by its method (plain node:http, no route)
 * gets its request path, so the rows say which request it was. Grouping still uses the real name.
 */
function displayName(root: RootSpanCpu): string {
  if (root.span === undefined || !/^[A-Z]+$/.test(root.name)) return root.name;
  const target = root.span.attributes['url.path'] ?? root.span.attributes['http.target'];
  return typeof target === 'string' && target !== '' ? `${root.name} ${target.split('?')[0]}` : root.name;
}

function describeFilter(values: Record<string, unknown>): string {
  const parts = ['service', 'name', 'since', 'until', 'span', 'trace']
    .filter((k) => values[k] !== undefined)
    .map((k) => `--${k} ${JSON.stringify(values[k])}`);
  return parts.length === 0 ? 'the store' : parts.join(' ');
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

function renderReport(dir: string, store: StoreCpu, roots: RootSpanCpu[], bySpan: Map<string, CpuSample[]>, limit: number, details: number): string[] {
  const out: string[] = [];
  const profiles = store.contents.profiles.filter((p) => p.kind === 'cpu');
  const totalNanos = store.cpu.samples.reduce((sum, s) => sum + s.cpuNanos, 0);
  const inSpansNanos = store.roots.reduce((sum, r) => sum + r.cpuNanos, 0);
  const from = Math.min(...profiles.map((p) => p.fromMs));
  const until = Math.max(...profiles.map((p) => p.untilMs));
  const services = [...new Set(profiles.map((p) => p.service))];
  out.push(truncateEnd(`Store ${dir}`, WIDTH));
  out.push(
    truncateEnd(
      `${services.join(', ')}: ${profiles.length} CPU profile${profiles.length === 1 ? '' : 's'}, ${formatTime(from)} to ${formatTime(until)}`,
      WIDTH,
    ),
  );
  const percent = totalNanos > 0 ? Math.round((100 * inSpansNanos) / totalNanos) : 0;
  out.push(`CPU sampled ${formatNanos(totalNanos)}, ${percent}% of it in ${store.roots.length} root span${store.roots.length === 1 ? '' : 's'}`);
  out.push('');

  const shown = roots.slice(0, limit);
  out.push(roots.length > shown.length ? `Root spans by CPU time (top ${shown.length} of ${roots.length})` : 'Root spans by CPU time');
  out.push(
    ...renderTable(
      [
        { header: 'CPU', width: 9, right: true },
        { header: 'SAMPLES', width: 7, right: true },
        { header: 'DURATION', width: 9, right: true },
        { header: 'TRACE', width: 8 },
        { header: 'NAME', minWidth: 12 },
      ],
      shown.map((r) => [formatNanos(r.cpuNanos), String(r.samples), r.durationMs === undefined ? '-' : formatMs(r.durationMs), (r.traceId ?? '-').slice(0, 8), displayName(r)]),
      WIDTH,
    ),
  );

  const names = byName(roots, bySpan);
  if (names.length > 1 || (names[0] && names[0].spans > 1)) {
    out.push('');
    out.push('CPU by span name');
    out.push(
      ...renderTable(
        [
          { header: 'CPU', width: 9, right: true },
          { header: 'SPANS', width: 6, right: true },
          { header: 'NAME', minWidth: 12 },
          { header: 'HOTTEST FUNCTION', minWidth: 12 },
        ],
        names.slice(0, limit).map((n) => [formatNanos(n.cpuNanos), String(n.spans), n.name, n.hottest?.name ?? '-']),
        WIDTH,
      ),
    );
  }

  shown.slice(0, details).forEach((root, i) => {
    out.push('');
    const duration = root.durationMs === undefined ? '' : `, took ${formatMs(root.durationMs)}`;
    // The numbers stay whole; a long name gives way.
    const head = `#${i + 1} `;
    const tail = `: ${formatNanos(root.cpuNanos)} CPU${duration}, ${root.samples} sample${root.samples === 1 ? '' : 's'}`;
    out.push(head + truncateEnd(displayName(root), Math.max(12, WIDTH - head.length - tail.length)) + tail);
    out.push(`   trace ${root.traceId ?? '-'}  span ${root.spanId}`);
    const functions = hottestFunctions(bySpan.get(root.spanId) ?? [], FUNCTIONS_PER_SPAN);
    out.push(
      ...renderTable(
        [
          { header: 'SELF', width: 9, right: true },
          { header: 'TOTAL', width: 9, right: true },
          { header: 'FUNCTION', minWidth: 14 },
          { header: 'LOCATION', minWidth: 16, cut: 'start' },
        ],
        functions.map((f) => [formatNanos(f.selfNanos), formatNanos(f.totalNanos), f.name, displayLocation(f.file, f.line)]),
        WIDTH,
        '   ',
      ),
    );
  });
  out.push('');
  out.push(truncateEnd(`More: span-profiles report --span <id> | pprof --span <id> -o span.pb.gz | view`, WIDTH));
  return out;
}

function toJson(dir: string, store: StoreCpu, roots: RootSpanCpu[], bySpan: Map<string, CpuSample[]>, limit: number, analysis: Analysis, sort: SortKey): unknown {
  return {
    sort,
    dir,
    profiles: store.contents.profiles.filter((p) => p.kind === 'cpu').length,
    spans: store.contents.spans.length,
    cpuNanos: store.cpu.samples.reduce((sum, s) => sum + s.cpuNanos, 0),
    cpuInSpansNanos: store.roots.reduce((sum, r) => sum + r.cpuNanos, 0),
    matchingRootSpans: roots.length,
    rootSpans: roots.slice(0, limit).map((r) => ({
      spanId: r.spanId,
      traceId: r.traceId ?? null,
      name: r.name,
      service: r.service,
      startTime: r.startMs === undefined ? null : new Date(r.startMs).toISOString(),
      durationMs: r.durationMs ?? null,
      cpuNanos: r.cpuNanos,
      samples: r.samples,
      hottestFunctions: hottestFunctions(bySpan.get(r.spanId) ?? [], FUNCTIONS_PER_SPAN),
      breakdown: analysis.breakdown(r) ?? null,
    })),
    samplesWithoutTime: analysis.timelines.untimedSamples,
    byName: byName(roots, bySpan).map((n) => ({ name: n.name, spans: n.spans, cpuNanos: n.cpuNanos, samples: n.samples, hottestFunction: n.hottest ?? null })),
    problems: store.problems,
  };
}

/** `span-profiles report`. */
export const reportCommand: Subcommand = {
  summary: 'the root spans that used the most CPU, and their hottest functions',
  usage,
  run,
};
