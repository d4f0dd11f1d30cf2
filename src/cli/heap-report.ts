/**
 * `span-profiles report --heap`: what holds the heap, by allocation site (the function that allocated
 * the objects still live), from the last heap profile of each process in the time range.
 */
import * as path from 'node:path';
import { heapSites, loadStoreHeap, type HeapSite, type StoreHeap } from '../store/read/heap-reader';
import { EXIT_FAILURE, EXIT_OK } from './args';
import { displayLocation, formatTime, printProblems, renderTable, truncateEnd } from './format';

const WIDTH = 80;

export interface HeapReportOptions {
  dir: string;
  service: string | undefined;
  fromMs: number | undefined;
  untilMs: number | undefined;
  limit: number;
  json: boolean;
}

/** Prints the heap report; returns the exit status. */
export async function runHeapReport(options: HeapReportOptions): Promise<number> {
  const { dir, service, fromMs, untilMs, limit } = options;
  const heap = await loadStoreHeap(dir, { service, fromMs, untilMs });
  if (heap.snapshots.length === 0) {
    process.stderr.write(`span-profiles report: ${describeNoHeap(dir, heap, service)}\n`);
    return EXIT_FAILURE;
  }
  printProblems('report', heap.problems);
  const sites = heapSites(heap);
  if (options.json) {
    process.stdout.write(JSON.stringify(toJson(dir, heap, sites, limit), null, 2) + '\n');
  } else {
    process.stdout.write(renderHeapReport(dir, heap, sites, limit).join('\n') + '\n');
  }
  return EXIT_OK;
}

function describeNoHeap(dir: string, heap: StoreHeap, service: string | undefined): string {
  const root = path.resolve(dir);
  const rootProblem = heap.problems.find((p) => p.path === root);
  if (rootProblem !== undefined) {
    return rootProblem.reason.includes('ENOENT')
      ? `no store at ${root} (it does not exist). Run the app under the agent first; it writes to SPAN_PROFILES_DIR.`
      : `cannot read the store ${root}: ${rootProblem.reason}`;
  }
  const scope = service === undefined ? '' : ` of service ${JSON.stringify(service)}`;
  if (heap.filesInRange > 0) return `none of the ${heap.filesInRange} heap profiles${scope} in ${root} could be read; the first: ${heap.problems[0]?.reason ?? 'unknown'}`;
  return (
    `no heap profiles${scope} in ${root} for the time range asked.\n` +
    'The agent writes one every PYROSCOPE_UPLOAD_INTERVAL (default 15 s) unless SPAN_PROFILES_HEAP=false,\n' +
    'or PYROSCOPE_SERVER_ADDRESS sends them to Pyroscope instead (SPAN_PROFILES_STORE=always keeps both).'
  );
}

/** `41.2 MiB`, `512 KiB`, `900 B`. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '-';
  const abs = Math.abs(bytes);
  if (abs >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
  if (abs >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  if (abs >= 1024) return `${(bytes / 1024).toFixed(abs >= 10 * 1024 ? 0 : 1)} KiB`;
  return `${Math.round(bytes)} B`;
}

function renderHeapReport(dir: string, heap: StoreHeap, sites: HeapSite[], limit: number): string[] {
  const out: string[] = [];
  const services = [...new Set(heap.snapshots.map((s) => s.service))];
  const at = Math.max(...heap.snapshots.map((s) => s.untilMs));
  const processes = heap.snapshots.length;
  out.push(truncateEnd(`Store ${dir}`, WIDTH));
  out.push(
    truncateEnd(
      `${services.join(', ')}: heap in use at ${formatTime(at)}, the last snapshot of ${processes} process${processes === 1 ? '' : 'es'}`,
      WIDTH,
    ),
  );
  out.push(`${formatBytes(heap.bytes)} in ${heap.objects.toLocaleString('en-US')} objects (sampled every ${formatBytes(heap.intervalBytes)}; estimates)`);
  out.push('');
  const shown = sites.slice(0, limit);
  out.push(sites.length > shown.length ? `Top retainers by allocation site (top ${shown.length} of ${sites.length})` : 'Top retainers by allocation site');
  out.push(
    ...renderTable(
      [
        { header: 'IN USE', width: 9, right: true },
        { header: 'SHARE', width: 6, right: true },
        { header: 'OBJECTS', width: 9, right: true },
        { header: 'FUNCTION', minWidth: 14 },
        { header: 'LOCATION', minWidth: 16, cut: 'start' },
      ],
      shown.map((s) => [
        formatBytes(s.bytes),
        heap.bytes > 0 ? `${Math.round((100 * s.bytes) / heap.bytes)}%` : '-',
        s.objects.toLocaleString('en-US'),
        s.name,
        displayLocation(s.file, s.line),
      ]),
      WIDTH,
    ),
  );
  out.push('');
  out.push(truncateEnd('Heap samples have no span: an object outlives the request that allocated it.', WIDTH));
  out.push(truncateEnd('More: span-profiles view (Heap flame graph) | report (CPU by request)', WIDTH));
  return out;
}

function toJson(dir: string, heap: StoreHeap, sites: HeapSite[], limit: number): unknown {
  return {
    dir,
    snapshots: heap.snapshots.map((s) => ({ service: s.service, pid: s.pid, takenAt: new Date(s.untilMs).toISOString(), file: s.path })),
    inuseBytes: heap.bytes,
    inuseObjects: heap.objects,
    samplingIntervalBytes: heap.intervalBytes,
    sites: sites.slice(0, limit).map((s) => ({ function: s.name, file: s.file, line: s.line, inuseBytes: s.bytes, inuseObjects: s.objects })),
    problems: heap.problems,
  };
}
