/**
 * `span-profiles report [dir]`: the root spans that used the most CPU, CPU per span name, and the
 * hottest functions of the top spans, in 80 columns; or all of it as JSON with `--json`.
 */

import { defaultStoreDir } from '../config';
import {
  hottestFunctions,
  isEstimate,
  loadStoreCpu,
  matchRoots,
  samplesBySpan,
  unchargedCpu,
  ESTIMATE_MAX_SAMPLES,
  type CpuSample,
  type FunctionCpu,
  type RootSpanCpu,
  type StoreCpu,
} from '../store/span-cpu';
import { EXIT_FAILURE, EXIT_OK, UsageError, parseCommandArgs, parseIdPrefix, parsePositiveInt, parseTimeArg } from './args';
import { describeStoreTrouble, displayLocation, formatMs, formatNanos, formatTime, printProblems, renderTable, truncateEnd } from './format';
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
    '  --json           everything as JSON, for scripts',
    '  -h, --help       this text',
    '',
    `CPU marked ~ rests on ${ESTIMATE_MAX_SAMPLES} samples or fewer: an estimate. Text is cut to COLUMNS,`,
    'else to the terminal; piped without COLUMNS, nothing is cut.',
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
  const details = str('details') === undefined ? DEFAULT_DETAILS : parseCount('details', str('details')!);
  const spanPrefix = str('span') === undefined ? undefined : parseIdPrefix('span', str('span')!, 16);
  const tracePrefix = str('trace') === undefined ? undefined : parseIdPrefix('trace', str('trace')!, 32);
  const dir = positionals[0] ?? defaultStoreDir();
  if (values.heap) return runHeapReport({ dir, service: str('service'), fromMs, untilMs, limit, json: values.json === true });

  const store = await loadStoreCpu(dir, { service: str('service'), fromMs, untilMs });
  const trouble = describeStoreTrouble(dir, store, str('service'));
  if (trouble !== undefined) {
    process.stderr.write(`span-profiles report: ${trouble}\n`);
    return EXIT_FAILURE;
  }
  printProblems('report', store.problems);

  const roots = matchRoots(store.roots, { name: str('name'), spanPrefix, tracePrefix });
  if (roots.length === 0) {
    process.stderr.write(`span-profiles report: no root span with CPU samples matches ${describeFilter(values)} in ${dir}\n`);
    const names = [...new Set(store.roots.map((r) => r.name))].slice(0, 8);
    if (str('name') !== undefined && names.length > 0) process.stderr.write(`Span names seen: ${names.map((n) => JSON.stringify(n)).join(', ')}\n`);
    return EXIT_FAILURE;
  }
  const bySpan = samplesBySpan(store.cpu.samples);
  if (values.json) {
    process.stdout.write(JSON.stringify(toJson(dir, store, roots, bySpan, limit), null, 2) + '\n');
  } else {
    process.stdout.write(renderReport(dir, store, roots, bySpan, limit, details).join('\n') + '\n');
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
  const WIDTH = outputWidth();
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
  const uncharged = unchargedCpu(store.cpu.samples);
  if (uncharged.afterSpanEndedNanos > 0 || uncharged.betweenSamplesNanos > 0) {
    out.push(
      truncateEnd(
        `Charged to no span: ${formatNanos(uncharged.afterSpanEndedNanos)} after its span ended, ${formatNanos(uncharged.betweenSamplesNanos)} between samples`,
        WIDTH,
      ),
    );
  }
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
      shown.map((r) => [cpuFigure(r.cpuNanos, r.samples), String(r.samples), r.durationMs === undefined ? '-' : formatMs(r.durationMs), (r.traceId ?? '-').slice(0, 8), displayName(r)]),
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
  const estimates = shown.some((r) => isEstimate(r.samples)) || names.slice(0, limit).some((n) => isEstimate(n.samples));
  out.push('');
  if (estimates) out.push(truncateEnd(`~ an estimate: the figure rests on ${ESTIMATE_MAX_SAMPLES} samples or fewer`, WIDTH));
  out.push(truncateEnd(`More: span-profiles report --span <id> | pprof --span <id> -o span.pb.gz | view`, WIDTH));
  return out;
}

function toJson(dir: string, store: StoreCpu, roots: RootSpanCpu[], bySpan: Map<string, CpuSample[]>, limit: number): unknown {
  return {
    dir,
    profiles: store.contents.profiles.filter((p) => p.kind === 'cpu').length,
    spans: store.contents.spans.length,
    cpuNanos: store.cpu.samples.reduce((sum, s) => sum + s.cpuNanos, 0),
    cpuInSpansNanos: store.roots.reduce((sum, r) => sum + r.cpuNanos, 0),
    ...unchargedCpu(store.cpu.samples),
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
      estimate: isEstimate(r.samples),
      hottestFunctions: hottestFunctions(bySpan.get(r.spanId) ?? [], FUNCTIONS_PER_SPAN),
    })),
    byName: byName(roots, bySpan).map((n) => ({ name: n.name, spans: n.spans, cpuNanos: n.cpuNanos, samples: n.samples, estimate: isEstimate(n.samples), hottestFunction: n.hottest ?? null })),
    problems: store.problems,
  };
}

/** `span-profiles report`. */
export const reportCommand: Subcommand = {
  summary: 'the root spans that used the most CPU, and their hottest functions',
  usage,
  run,
};
