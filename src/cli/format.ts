/**
 * Terminal text for the `span-profiles` command: durations, shortened names and paths, and tables that
 * fit a given width (80 columns by default).
 */

import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StoreProblem } from '../store/read/reader';
import type { StoreCpu } from '../store/read/span-cpu';

const ELLIPSIS = '…';

/** `1.23 s`, `312 ms`, `4.5 ms`, `850 µs`, `0 ms`. */
export function formatNanos(nanos: number): string {
  return formatMs(nanos / 1e6);
}

/** Milliseconds as a short human duration. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  if (ms === 0) return '0 ms';
  if (ms >= 60_000) return `${(ms / 60_000).toFixed(1)} min`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 10) return `${Math.round(ms)} ms`;
  if (ms >= 1) return `${ms.toFixed(1)} ms`;
  return `${Math.round(ms * 1000)} µs`;
}

/** `2026-11-24 20:15:30Z` (UTC, seconds). */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
}

/** Cuts `text` to `width` columns, marking the cut with an ellipsis at the end. */
export function truncateEnd(text: string, width: number): string {
  if (text.length <= width) return text;
  return width <= 1 ? ELLIPSIS.slice(0, width) : text.slice(0, width - 1) + ELLIPSIS;
}

/** Cuts `text` to `width` columns keeping its end (paths: the file name matters most). */
export function truncateStart(text: string, width: number): string {
  if (text.length <= width) return text;
  return width <= 1 ? ELLIPSIS.slice(0, width) : ELLIPSIS + text.slice(text.length - width + 1);
}

/** A source location for display: relative to `cwd` when inside it, `file://` URLs as paths. */
export function displayLocation(file: string, line: number, cwd: string = process.cwd()): string {
  if (file === '') return '';
  let shown = file;
  if (shown.startsWith('file://')) {
    try {
      shown = fileURLToPath(shown);
    } catch {
      // keep the URL
    }
  }
  if (path.isAbsolute(shown)) {
    const rel = path.relative(cwd, shown);
    if (rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel)) shown = rel;
  }
  return line > 0 ? `${shown}:${line}` : shown;
}

/** A column of a {@link renderTable}. */
export interface Column {
  header: string;
  /** Right-aligned (numbers). */
  right?: boolean;
  /** Fixed width; omitted for the flexible columns that share what is left. */
  width?: number;
  /** How a flexible column is cut when too long (default: at the end). */
  cut?: 'end' | 'start';
  /** Minimum width of a flexible column. */
  minWidth?: number;
}

/**
 * Renders rows under a header, two spaces of indent, one space between columns (two before a flexible
 * one), within `totalWidth` columns. Flexible columns get the space left, shared in proportion to need.
 */
export function renderTable(columns: Column[], rows: string[][], totalWidth = 80, indent = '  '): string[] {
  const gap = ' ';
  const fixed = columns.reduce((sum, c) => sum + (c.width ?? 0), 0) + indent.length + gap.length * (columns.length - 1);
  const flexible = columns.map((c, i) => (c.width === undefined ? i : -1)).filter((i) => i >= 0);
  const widths = columns.map((c) => c.width ?? 0);
  if (flexible.length > 0) {
    let room = Math.max(0, totalWidth - fixed);
    const need = flexible.map((i) => Math.max(columns[i]!.header.length, ...rows.map((r) => (r[i] ?? '').length)));
    const totalNeed = need.reduce((a, b) => a + b, 0);
    if (totalNeed <= room) {
      flexible.forEach((i, k) => (widths[i] = need[k]!));
    } else {
      // Give each its minimum, then share the rest in proportion to what it wants beyond that.
      const mins = flexible.map((i, k) => Math.min(need[k]!, columns[i]!.minWidth ?? 8));
      room -= mins.reduce((a, b) => a + b, 0);
      const extra = need.map((n, k) => Math.max(0, n - mins[k]!));
      const extraTotal = extra.reduce((a, b) => a + b, 0) || 1;
      flexible.forEach((i, k) => (widths[i] = mins[k]! + Math.floor((Math.max(0, room) * extra[k]!) / extraTotal)));
    }
  }
  const cell = (text: string, i: number): string => {
    const c = columns[i]!;
    const w = widths[i]!;
    const cut = c.cut === 'start' ? truncateStart(text, w) : truncateEnd(text, w);
    return c.right ? cut.padStart(w) : cut.padEnd(w);
  };
  const line = (cells: string[]): string => (indent + cells.map((t, i) => cell(t, i)).join(gap)).trimEnd();
  return [line(columns.map((c) => c.header)), ...rows.map(line)];
}

/**
 * Why there is nothing to report from `store`, with what to do; `undefined` when there are CPU
 * samples. `dir` is the directory as the user gave it.
 */
export function describeStoreTrouble(dir: string, store: StoreCpu, service: string | undefined): string | undefined {
  const root = path.resolve(dir);
  const rootProblem = store.contents.problems.find((p) => p.path === root);
  if (rootProblem !== undefined) {
    if (rootProblem.reason.includes('ENOENT')) {
      return (
        `no store at ${root} (it does not exist).\n` +
        'Run the app under the agent first (node --require @acme/span-profiles/register app.js);\n' +
        'it writes to SPAN_PROFILES_DIR (default <tmpdir>/span-profiles). Or pass the directory: span-profiles <command> DIR'
      );
    }
    return `cannot read the store ${root}: ${rootProblem.reason}`;
  }
  const cpuFiles = store.contents.profiles.filter((p) => p.kind === 'cpu');
  if (cpuFiles.length === 0) {
    const scope = service === undefined ? '' : ` of service ${JSON.stringify(service)}`;
    return (
      `no CPU profiles${scope} in ${root} for the time range asked.\n` +
      'The agent writes one every PYROSCOPE_UPLOAD_INTERVAL (default 15 s) and when the app exits,\n' +
      'unless PYROSCOPE_SERVER_ADDRESS sends them to Pyroscope instead (SPAN_PROFILES_STORE=always keeps both).'
    );
  }
  if (store.cpu.profilesRead === 0) {
    return `none of the ${cpuFiles.length} CPU profiles in ${root} could be read; the first: ${store.cpu.problems[0]?.reason ?? 'unknown'}`;
  }
  if (store.cpu.samples.length === 0) return `the CPU profiles in ${root} hold no samples (the app was idle)`;
  return undefined;
}

/** Problems to stderr, a few named and the rest counted; nothing when there are none. */
export function printProblems(command: string, problems: readonly StoreProblem[]): void {
  if (problems.length === 0) return;
  const shown = problems.slice(0, 3).map((p) => `  ${p.path}: ${p.reason}`);
  const more = problems.length > shown.length ? [`  and ${problems.length - shown.length} more`] : [];
  process.stderr.write(`span-profiles ${command}: skipped what could not be read:\n${[...shown, ...more].join('\n')}\n`);
}
