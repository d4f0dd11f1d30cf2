/**
 * `span-profiles report [dir]`: the root spans that used the most CPU, CPU per span name, and the
 * hottest functions of the top spans, in 80 columns; or all of it as JSON with `--json`.
 */

import { defaultStoreDir } from '../config';
import type { Stall } from '../store/read/breakdown';
import { isEstimate, ESTIMATE_MAX_SAMPLES, type RootSpanCpu } from '../store/read/span-cpu';
import { loadReportData, SORT_KEYS, type ReportData, type SortKey } from './report-data';
import { EXIT_FAILURE, EXIT_OK, parseCommandArgs, parseIdPrefix, parsePositiveInt, parseTimeArg, UsageError } from './args';
import { displayLocation, formatMs, formatNanos, formatTime, printProblems, renderTable, truncateEnd } from './format';
import { runHeapReport } from './heap-report';
import type { Subcommand } from './main';

/** Width when COLUMNS says nothing and stdout is a terminal that does not either. */
const DEFAULT_WIDTH = 80;
/** Narrower than this and the tables stop making sense: COLUMNS below it is ignored. */
const MIN_WIDTH = 40;

/**
 * How wide the text may be: COLUMNS when set, else the terminal's width; piped without COLUMNS, nothing
 * is cut (a file or grep wants whole names and paths).
 */
export function outputWidth(env: NodeJS.ProcessEnv = process.env, stdout: { isTTY?: boolean; columns?: number } = process.stdout): number {
  const columns = Number(env.COLUMNS);
  if (env.COLUMNS !== undefined && /^\d+$/.test(env.COLUMNS.trim()) && columns >= MIN_WIDTH) return columns;
  if (stdout.isTTY) return stdout.columns !== undefined && stdout.columns >= MIN_WIDTH ? stdout.columns : DEFAULT_WIDTH;
  return Infinity;
}

/** A CPU figure, marked `~` when it rests on one or two samples. */
function cpuFigure(nanos: number, samples: number): string {
  return isEstimate(samples) ? `~${formatNanos(nanos)}` : formatNanos(nanos);
}
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
  heap: { type: 'boolean' },
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
    `  --details N      show the hottest functions of the top N (default ${DEFAULT_DETAILS};`,
    '                   0 for none)',
    '  --heap           instead: what holds the heap, by allocation site (the last',
    '                   heap profile of each process in the range)',
    '  --sort KEY       cpu (default): most CPU first; duration: slowest first, every',
    '                   root span (also those with no CPU), with its time split into',
    '                   own CPU, blocked (the thread ran other work) and waiting;',
    '                   blocked: most blocked first',
    '  --stalls         the longest stretches of CPU by one span (event-loop stalls),',
    '                   with their functions and the requests open meanwhile',
    '  --json           everything as JSON, for scripts',
    '  -h, --help       this text',
    '',
    `CPU marked ~ rests on ${ESTIMATE_MAX_SAMPLES} samples or fewer: an estimate. Text is cut to COLUMNS,`,
    'else to the terminal; piped without COLUMNS, nothing is cut.',
    '',
    'Exit status: 0 spans found, 1 nothing found or unreadable store, 2 bad args.',
  ].join('\n');
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
  const details = str('details') === undefined ? DEFAULT_DETAILS : parseCount('details', str('details')!);
  const spanPrefix = str('span') === undefined ? undefined : parseIdPrefix('span', str('span')!, 16);
  const tracePrefix = str('trace') === undefined ? undefined : parseIdPrefix('trace', str('trace')!, 32);
  const sort = str('sort') ?? 'cpu';
  if (!SORT_KEYS.includes(sort as SortKey)) throw new UsageError(`--sort '${sort}' is not one of ${SORT_KEYS.join(', ')}`);
  const dir = positionals[0] ?? defaultStoreDir();
  if (values.heap) return runHeapReport({ dir, service: str('service'), fromMs, untilMs, limit, json: values.json === true });

  const data = await loadReportData(dir, { service: str('service'), fromMs, untilMs, name: str('name'), spanPrefix, tracePrefix, sort: sort as SortKey, limit });
  if (data.trouble !== undefined) {
    process.stderr.write(`span-profiles report: ${data.trouble}\n`);
    return EXIT_FAILURE;
  }
  printProblems('report', data.problems);

  if (values.stalls) {
    const stalls = data.stalls(limit);
    if (values.json) process.stdout.write(JSON.stringify({ dir, stalls: stalls.map((s) => stallJson(s, data)), problems: data.problems }, null, 2) + '\n');
    else process.stdout.write(renderStalls(dir, stalls, data).join('\n') + '\n');
    return EXIT_OK;
  }

  if (data.roots.length === 0) {
    const what = sort === 'cpu' ? 'no root span with CPU samples' : 'no root span';
    process.stderr.write(`span-profiles report: ${what} matches ${describeFilter(values)} in ${dir}\n`);
    if (str('name') !== undefined && data.namesSeen.length > 0) process.stderr.write(`Span names seen: ${data.namesSeen.map((n) => JSON.stringify(n)).join(', ')}\n`);
    return EXIT_FAILURE;
  }
  if (values.json) {
    process.stdout.write(JSON.stringify(toJson(dir, data, sort as SortKey), null, 2) + '\n');
  } else if (sort === 'cpu') {
    process.stdout.write(renderReport(dir, data, details, limit).join('\n') + '\n');
  } else {
    process.stdout.write(renderSlowest(dir, data, details, sort as SortKey).join('\n') + '\n');
  }
  return EXIT_OK;
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

/** A whole number, 0 allowed (`--details 0`: no details). */
function parseCount(flag: string, text: string): number {
  if (text.trim() === '0') return 0;
  try {
    return parsePositiveInt(flag, text);
  } catch {
    throw new UsageError(`--${flag} '${text}' is not a whole number (0 or more)`);
  }
}

function describeFilter(values: Record<string, unknown>): string {
  const parts = ['service', 'name', 'since', 'until', 'span', 'trace']
    .filter((k) => values[k] !== undefined)
    .map((k) => `--${k} ${JSON.stringify(values[k])}`);
  return parts.length === 0 ? 'the store' : parts.join(' ');
}

function renderReport(dir: string, data: ReportData, details: number, limit: number): string[] {
  const WIDTH = outputWidth();
  const out: string[] = [];
  const h = data.header;
  out.push(truncateEnd(`Store ${dir}`, WIDTH));
  out.push(
    truncateEnd(
      `${h.services.join(', ')}: ${h.cpuProfiles} CPU profile${h.cpuProfiles === 1 ? '' : 's'}, ${formatTime(h.fromMs)} to ${formatTime(h.untilMs)}`,
      WIDTH,
    ),
  );
  const percent = h.cpuNanos > 0 ? Math.round((100 * h.cpuInSpansNanos) / h.cpuNanos) : 0;
  out.push(`CPU sampled ${formatNanos(h.cpuNanos)}, ${percent}% of it in ${h.rootsWithCpu} root span${h.rootsWithCpu === 1 ? '' : 's'}`);
  const uncharged = h.uncharged;
  if (uncharged.afterSpanEndedNanos > 0 || uncharged.betweenSamplesNanos > 0) {
    out.push(
      truncateEnd(
        `Charged to no span: ${formatNanos(uncharged.afterSpanEndedNanos)} after its span ended, ${formatNanos(uncharged.betweenSamplesNanos)} between samples`,
        WIDTH,
      ),
    );
  }
  out.push('');

  const shown = data.roots;
  out.push(data.matching > shown.length ? `Root spans by CPU time (top ${shown.length} of ${data.matching})` : 'Root spans by CPU time');
  out.push(
    ...renderTable(
      [
        { header: 'CPU', width: 9, right: true },
        { header: 'SAMPLES', width: 7, right: true },
        { header: 'DURATION', width: 9, right: true },
        { header: 'TRACE', width: 8 },
        { header: 'NAME', minWidth: 12 },
      ],
      shown.map((r) => [cpuFigure(r.cpuNanos, r.samples), String(r.samples), r.durationMs === undefined ? '-' : formatMs(r.durationMs), (r.traceId ?? '-').slice(0, 8), displayName(r)]),
      WIDTH,
    ),
  );

  const names = data.byName;
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
        names.slice(0, limit).map((n) => [cpuFigure(n.cpuNanos, n.samples), String(n.spans), n.name, n.hottest?.name ?? '-']),
        WIDTH,
      ),
    );
  }

  shown.slice(0, details).forEach((root, i) => {
    out.push('');
    const duration = root.durationMs === undefined ? '' : `, took ${formatMs(root.durationMs)}`;
    // The numbers stay whole; a long name gives way.
    const head = `#${i + 1} `;
    const tail = `: ${cpuFigure(root.cpuNanos, root.samples)} CPU${duration}, ${root.samples} sample${root.samples === 1 ? '' : 's'}`;
    out.push(head + truncateEnd(displayName(root), Math.max(12, WIDTH - head.length - tail.length)) + tail);
    out.push(`   trace ${root.traceId ?? '-'}  span ${root.spanId}`);
    const functions = data.functions(root, FUNCTIONS_PER_SPAN);
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
  const estimates = shown.some((r) => isEstimate(r.samples)) || names.slice(0, limit).some((n) => isEstimate(n.samples));
  out.push('');
  if (estimates) out.push(truncateEnd(`~ an estimate: the figure rests on ${ESTIMATE_MAX_SAMPLES} samples or fewer`, WIDTH));
  out.push(truncateEnd(`More: span-profiles report --span <id> | pprof --span <id> -o span.pb.gz | view`, WIDTH));
  return out;
}

function percentOf(part: number, whole: number): string {
  return whole > 0 ? `${Math.round((100 * part) / whole)}%` : '-';
}

function renderSlowest(dir: string, data: ReportData, details: number, sort: SortKey): string[] {
  const WIDTH = outputWidth();
  const out: string[] = [];
  out.push(truncateEnd(`Store ${dir}`, WIDTH));
  const shown = data.roots;
  const title = sort === 'duration' ? 'Root spans, slowest first' : 'Root spans, most blocked first';
  out.push(data.matching > shown.length ? `${title} (top ${shown.length} of ${data.matching})` : title);
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
        const b = data.breakdown(r);
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
  if (data.untimedSamples > 0) {
    const n = data.untimedSamples;
    out.push(`(${n} sample${n === 1 ? '' : 's'} without a time, not in the breakdown)`);
  }
  shown.slice(0, details).forEach((root, i) => {
    const b = data.breakdown(root);
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
    const delay = loopDelayOf(data, root);
    if (delay !== undefined) out.push(`   event-loop delay while it was open: up to ${formatNanos(delay)}`);
    if (b.blockedBy.length > 0) {
      out.push('   blocked by:');
      out.push(
        ...renderTable(
          [
            { header: 'CPU', width: 9, right: true },
            { header: 'SPANS', width: 5, right: true },
            { header: 'NAME', minWidth: 20 },
            { header: 'FUNCTIONS', minWidth: 14 },
          ],
          b.blockedBy.slice(0, FUNCTIONS_PER_SPAN).map((x) => [formatNanos(x.cpuNanos), String(x.spans), x.name, x.functions.join(', ')]),
          WIDTH,
          '   ',
        ),
      );
    }
    const functions = data.functions(root, 3);
    if (functions.length > 0) out.push(truncateEnd(`   own hottest: ${functions.map((f) => `${f.name} ${formatNanos(f.selfNanos)}`).join(', ')}`, WIDTH));
  });
  out.push('');
  out.push(truncateEnd(`More: span-profiles report --stalls | report --span <id> | view`, WIDTH));
  return out;
}

function renderStalls(dir: string, stalls: Stall[], data: ReportData): string[] {
  const WIDTH = outputWidth();
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
        { header: 'DELAY', width: 8, right: true },
        { header: 'OPEN', width: 4, right: true },
        { header: 'TRACE', width: 8 },
        { header: 'NAME', minWidth: 12 },
        { header: 'FUNCTIONS', minWidth: 12 },
      ],
      stalls.map((s) => [
        formatNanos(s.durationNanos),
        new Date(s.startMs).toISOString().slice(11, 23),
        delayText(data.loopDelayMax(s.service, s.pid, s.startMs, s.startMs + s.durationNanos / 1e6)),
        String(s.othersOpen),
        (s.traceId ?? '-').slice(0, 8),
        s.name,
        s.functions.join(', '),
      ]),
      WIDTH,
    ),
  );
  out.push('DELAY: the largest event-loop delay the process measured in those seconds.');
  out.push('OPEN: other requests of the process that were open (and could not run) meanwhile.');
  if (data.untimedSamples > 0) out.push(`(${data.untimedSamples} sample(s) without a time left out)`);
  return out;
}

function delayText(nanos: number | undefined): string {
  return nanos === undefined ? '-' : formatNanos(nanos);
}

/** The largest event-loop delay recorded while `root` was open, ns. */
function loopDelayOf(data: ReportData, root: RootSpanCpu): number | undefined {
  if (root.span === undefined) return undefined;
  return data.loopDelayMax(root.span.service, root.span.pid, root.span.startMs, root.span.endMs);
}

function stallJson(s: Stall, data: ReportData): unknown {
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
    loopDelayMaxNanos: data.loopDelayMax(s.service, s.pid, s.startMs, s.startMs + s.durationNanos / 1e6) ?? null,
  };
}

function toJson(dir: string, data: ReportData, sort: SortKey): unknown {
  return {
    dir,
    sort,
    profiles: data.header.cpuProfiles,
    spans: data.header.spans,
    cpuNanos: data.header.cpuNanos,
    cpuInSpansNanos: data.header.cpuInSpansNanos,
    ...data.header.uncharged,
    matchingRootSpans: data.matching,
    rootSpans: data.roots.map((r) => ({
      spanId: r.spanId,
      traceId: r.traceId ?? null,
      name: r.name,
      service: r.service,
      startTime: r.startMs === undefined ? null : new Date(r.startMs).toISOString(),
      durationMs: r.durationMs ?? null,
      cpuNanos: r.cpuNanos,
      samples: r.samples,
      estimate: isEstimate(r.samples),
      hottestFunctions: data.functions(r, FUNCTIONS_PER_SPAN),
      breakdown: data.breakdown(r) ?? null,
      loopDelayMaxNanos: loopDelayOf(data, r) ?? null,
    })),
    samplesWithoutTime: data.untimedSamples,
    byName: data.byName.map((n) => ({ name: n.name, spans: n.spans, cpuNanos: n.cpuNanos, samples: n.samples, estimate: isEstimate(n.samples), hottestFunction: n.hottest ?? null })),
    problems: data.problems,
  };
}

/** `span-profiles report`. */
export const reportCommand: Subcommand = {
  summary: 'the root spans that used the most CPU, and their hottest functions',
  usage,
  run,
};
