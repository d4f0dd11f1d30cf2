/**
 * `span-profiles pprof [dir] --span ID | --trace ID | --name NAME [-o file]`: the CPU samples of those
 * root spans merged into one gzipped pprof, for `go tool pprof`, speedscope or Pyroscope's profilecli.
 */

import { promises as fsp } from 'node:fs';
import { defaultStoreDir } from '../config';
import { serviceDirName } from '../store/layout';
import type { StoreProblem } from '../store/read/reader';
import { buildPprof, encodePprofGzip, loadStoreCpu, matchRoots, type CpuSample, type RootSpanCpu } from '../store/read/span-cpu';
import { StoreIndex } from '../store/read/store-index';
import { indexTrouble } from './report-data';
import { EXIT_FAILURE, EXIT_OK, parseCommandArgs, parseIdPrefix, parseTimeArg, UsageError } from './args';
import { describeStoreTrouble, formatNanos, printProblems } from './format';
import type { Subcommand } from './main';

const OPTIONS = {
  span: { type: 'string' },
  trace: { type: 'string' },
  name: { type: 'string' },
  service: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  output: { type: 'string', short: 'o' },
  help: { type: 'boolean', short: 'h' },
} as const;

function usage(): string {
  return [
    'Usage: span-profiles pprof [dir] (--span ID | --trace ID | --name NAME) [-o F]',
    '',
    'Writes the CPU samples of the chosen root spans as one merged, gzipped pprof',
    'profile (span_id, trace_id and span_name labels kept), to open with',
    '`go tool pprof -http=: FILE`, speedscope or `profilecli`.',
    '',
    'Arguments:',
    '  dir              the store: SPAN_PROFILES_DIR, else <tmpdir>/span-profiles',
    '',
    'Choose the samples (at least one; all given must hold):',
    '  --span ID        one root span: its id, or a unique prefix of 8+ hex digits',
    '  --trace ID       the root spans of one trace: id or unique prefix of 8+ hex',
    '  --name NAME      every root span with this exact name, e.g. "GET /users/:id"',
    '  --service NAME   only this service',
    '  --since TIME     only spans after TIME: ISO (2026-11-24T20:15Z) or ago (10m)',
    '  --until TIME     only spans before TIME',
    '',
    'Options:',
    '  -o, --output FILE  where to write; "-" for stdout (default span-profile.pb.gz)',
    '  -h, --help         this text',
    '',
    'Exit status: 0 written, 1 no matching samples or unreadable store, 2 bad args.',
  ].join('\n');
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, OPTIONS, 1);
  if (values.help) {
    process.stdout.write(usage() + '\n');
    return EXIT_OK;
  }
  const str = (name: string): string | undefined => values[name] as string | undefined;
  const spanPrefix = str('span') === undefined ? undefined : parseIdPrefix('span', str('span')!, 16);
  const tracePrefix = str('trace') === undefined ? undefined : parseIdPrefix('trace', str('trace')!, 32);
  const name = str('name');
  if (spanPrefix === undefined && tracePrefix === undefined && name === undefined) {
    throw new UsageError('choose the samples with --span ID, --trace ID or --name NAME');
  }
  if (name === '') throw new UsageError('--name must not be empty');
  const now = Date.now();
  const fromMs = str('since') === undefined ? undefined : parseTimeArg('since', str('since')!, now);
  const untilMs = str('until') === undefined ? undefined : parseTimeArg('until', str('until')!, now);
  const output = str('output') ?? 'span-profile.pb.gz';
  if (output === '') throw new UsageError('--output must not be empty');
  const dir = positionals[0] ?? defaultStoreDir();

  const chosen = await chooseSamples(dir, { service: str('service'), fromMs, untilMs, name, spanPrefix, tracePrefix });
  if (chosen.trouble !== undefined) {
    process.stderr.write(`span-profiles pprof: ${chosen.trouble}\n`);
    return EXIT_FAILURE;
  }
  printProblems('pprof', chosen.problems);
  const roots = chosen.roots;
  if (roots.length === 0) {
    process.stderr.write(`span-profiles pprof: no root span with CPU samples matches in ${dir}\n`);
    return EXIT_FAILURE;
  }
  const ambiguity = ambiguousPrefix(roots, spanPrefix, tracePrefix);
  if (ambiguity !== undefined) {
    process.stderr.write(`span-profiles pprof: ${ambiguity}\n`);
    return EXIT_FAILURE;
  }
  const samples = chosen.samples();
  const data = await encodePprofGzip(buildPprof(samples, chosen.periodNanos));
  const cpuNanos = samples.reduce((sum, s) => sum + s.cpuNanos, 0);
  const summary = `${formatNanos(cpuNanos)} CPU of ${roots.length} root span${roots.length === 1 ? '' : 's'}`;
  if (output === '-') {
    process.stdout.write(data);
    process.stderr.write(`span-profiles pprof: wrote ${summary} to stdout\n`);
    return EXIT_OK;
  }
  try {
    await fsp.writeFile(output, data);
  } catch (error) {
    process.stderr.write(`span-profiles pprof: cannot write ${output}: ${(error as Error).message}\n`);
    return EXIT_FAILURE;
  }
  process.stdout.write(`Wrote ${summary} to ${output}\nOpen it: go tool pprof -http=: ${output}\n`);
  return EXIT_OK;
}

interface Choice {
  service?: string;
  fromMs?: number;
  untilMs?: number;
  name?: string;
  spanPrefix?: string;
  tracePrefix?: string;
}

interface Chosen {
  trouble: string | undefined;
  problems: StoreProblem[];
  /** The matching root spans (their label ids and traces). */
  roots: Array<Pick<RootSpanCpu, 'spanId' | 'traceId'>>;
  samples(): CpuSample[];
  periodNanos: number;
}

/** The samples to write: from the store's index when this Node has node:sqlite, else from the store read whole. */
async function chooseSamples(dir: string, choice: Choice): Promise<Chosen> {
  const index = StoreIndex.open(dir);
  if (index === undefined) {
    const store = await loadStoreCpu(dir, choice);
    const roots = matchRoots(store.roots, choice);
    const ids = new Set(roots.map((r) => r.spanId));
    return {
      trouble: describeStoreTrouble(dir, store, choice.service),
      problems: store.problems,
      roots,
      samples: () => store.cpu.samples.filter((s) => s.spanId !== undefined && ids.has(s.spanId)),
      periodNanos: store.cpu.periodNanos,
    };
  }
  const problems = await index.update();
  const trouble = indexTrouble(dir, index, problems, choice.service);
  const where: string[] = [];
  const params: Array<string | number> = [];
  if (choice.service !== undefined) {
    where.push('c.service = ?');
    params.push(serviceDirName(choice.service));
  }
  if (choice.name !== undefined) {
    where.push('c.sname = ?');
    params.push(choice.name);
  }
  if (choice.spanPrefix !== undefined) {
    where.push('c.label LIKE ?');
    params.push(`${choice.spanPrefix}%`);
  }
  if (choice.tracePrefix !== undefined) {
    where.push('c.trace LIKE ?');
    params.push(`${choice.tracePrefix}%`);
  }
  let labels = index.all(`SELECT c.label, c.trace FROM label_cpu c ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}`, ...params);
  if (choice.fromMs !== undefined || choice.untilMs !== undefined) {
    labels = labels.filter((row) => {
      const span = index.spanOfLabel(String(row.label));
      return span === undefined || ((choice.fromMs === undefined || span.endMs >= choice.fromMs) && (choice.untilMs === undefined || span.startMs <= choice.untilMs));
    });
  }
  const roots = labels.map((row) => ({ spanId: String(row.label), traceId: row.trace === null ? undefined : String(row.trace) }));
  return {
    trouble,
    problems,
    roots,
    samples: () => {
      const wanted = new Set(roots.map((r) => r.spanId));
      // A name: its samples by the name's index, then kept to the chosen spans; else span by span.
      if (choice.name !== undefined) {
        return index
          .all('SELECT s.*, f.from_ms, f.until_ms FROM samples s JOIN files f ON f.id = s.file_id WHERE s.span_name = ?', choice.name)
          .filter((row) => wanted.has(String(row.label)))
          .map((row) => index.sampleOf(row));
      }
      return roots.flatMap((r) => index.samplesOfLabel(r.spanId));
    },
    periodNanos: index.periodNanos(),
  };
}

/** A span/trace prefix that names more than one span/trace is a mistake worth stopping for. */
function ambiguousPrefix(roots: Array<Pick<RootSpanCpu, 'spanId' | 'traceId'>>, spanPrefix: string | undefined, tracePrefix: string | undefined): string | undefined {
  if (spanPrefix !== undefined && spanPrefix.length < 16 && roots.length > 1) {
    return `--span ${spanPrefix} matches ${roots.length} spans (${roots.slice(0, 3).map((r) => r.spanId).join(', ')}${roots.length > 3 ? ', …' : ''}): give more digits`;
  }
  if (tracePrefix !== undefined && tracePrefix.length < 32) {
    const traces = [...new Set(roots.map((r) => r.traceId))];
    if (traces.length > 1) return `--trace ${tracePrefix} matches ${traces.length} traces (${traces.slice(0, 3).join(', ')}${traces.length > 3 ? ', …' : ''}): give more digits`;
  }
  return undefined;
}

/** `span-profiles pprof`. */
export const pprofCommand: Subcommand = {
  summary: 'write the merged pprof of a span, a trace or a span name',
  usage,
  run,
};
