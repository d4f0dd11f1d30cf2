/**
 * The local store's file layout, the one contract shared by the writers (the agent) and the reader (the
 * `span-profiles` command):
 *
 *     <dir>/<service>/<from>_<until>_<pid>.cpu.pb.gz     one gzipped pprof per upload interval
 *     <dir>/<service>/<from>_<until>_<pid>.wall.pb.gz    optional wall profile, same interval
 *     <dir>/<service>/<from>_<until>_<pid>.heap.pb.gz    heap profile: what was live at <until>
 *     <dir>/<service>/<start>_<pid>.spans.jsonl.zst      OTLP/JSON ExportTraceServiceRequest lines, one zstd
 *                                                        frame per batch (`zstd -dc` reads it); plain
 *                                                        `.spans.jsonl` from older versions is read too
 *     <dir>/<service>/<start>_<pid>.roots.jsonl.zst      the index of the spans file of the same name: its
 *                                                        local root spans, compact (see ./roots-index.ts)
 *     <dir>/<service>/<from>_<until>_<pid>.loop.json.gz  the event-loop delay of the interval (OTLP/JSON metrics)
 *
 * Profile kinds other than cpu and wall (e.g. heap) are listed too: readers pick the kinds they know.
 *
 * Times are UTC, compact, millisecond precision (`20261124T201530.123Z`) so names sort by time.
 */

import type { ProfileKind } from '../export/profile-exporter';

/** Suffix of a file still being written; readers ignore it, writers rename it away when done. */
export const TEMP_SUFFIX = '.tmp';

/** A spans file is closed and a new one started once it passes this size (smaller under small caps). */
export const SPANS_FILE_MAX_BYTES = 1024 * 1024;
/** ... or once it is this old, so history is removed in steps of at most a minute or so. */
export const SPANS_FILE_MAX_AGE_MS = 60_000;

/** The spans file size for a store capped at `maxBytes`: a small slice of the cap, so trimming goes in small steps. */
export function spansFileMaxBytes(maxBytes: number): number {
  return Math.max(16 * 1024, Math.min(SPANS_FILE_MAX_BYTES, Math.floor(maxBytes / 64)));
}

const STAMP = String.raw`(\d{8}T\d{6}\.\d{3}Z)`;
const PROFILE_FILE = new RegExp(`^${STAMP}_${STAMP}_(\\d+)\\.([a-z][a-z0-9]*)\\.pb\\.gz$`);
const LOOP_FILE = new RegExp(`^${STAMP}_${STAMP}_(\\d+)\\.loop\\.json\\.gz$`);
const SPANS_FILE = new RegExp(`^${STAMP}_(\\d+)\\.(spans|roots)\\.jsonl(\\.zst)?$`);
const STAMP_PARTS = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z$/;

/** The directory name of a service: characters outside `[A-Za-z0-9_.-]` become `_`; never `.`/`..`. */
export function serviceDirName(serviceName: string): string {
  const name = serviceName.replace(/[^A-Za-z0-9_.-]/g, '_');
  return name === '' || name === '.' || name === '..' ? '_'.repeat(Math.max(1, name.length)) : name;
}

/** `Date.now()`-style milliseconds to the compact UTC stamp used in file names. */
export function formatStamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '');
}

/** The inverse of {@link formatStamp}; `undefined` when `stamp` is not one. */
export function parseStamp(stamp: string): number | undefined {
  const m = STAMP_PARTS.exec(stamp);
  if (!m) return undefined;
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, +m[7]!);
  return Number.isNaN(ms) ? undefined : ms;
}

/** The file name of one profile. */
export function profileFileName(kind: ProfileKind, fromMs: number, untilMs: number, pid: number): string {
  return `${formatStamp(fromMs)}_${formatStamp(untilMs)}_${pid}.${kind}.pb.gz`;
}

/** The file name of a (zstd-compressed) spans file started at `startMs`. */
export function spansFileName(startMs: number, pid: number): string {
  return `${formatStamp(startMs)}_${pid}.spans.jsonl.zst`;
}

/** The file name of the roots index of the spans file started at `startMs`. */
export function rootsFileName(startMs: number, pid: number): string {
  return `${formatStamp(startMs)}_${pid}.roots.jsonl.zst`;
}

/** The file name of the event-loop delay points of one interval. */
export function loopFileName(fromMs: number, untilMs: number, pid: number): string {
  return `${formatStamp(fromMs)}_${formatStamp(untilMs)}_${pid}.loop.json.gz`;
}

/** What a store file name says about its content. */
export type StoreFileName =
  | { type: 'profile'; kind: ProfileKind; fromMs: number; untilMs: number; pid: number }
  | { type: 'loop'; fromMs: number; untilMs: number; pid: number }
  | { type: 'spans'; startMs: number; pid: number; compressed: boolean }
  | { type: 'roots'; startMs: number; pid: number };

/** Parses a store file name; `undefined` for anything else (temp files included). */
export function parseStoreFileName(name: string): StoreFileName | undefined {
  const profile = PROFILE_FILE.exec(name);
  if (profile) {
    const fromMs = parseStamp(profile[1]!);
    const untilMs = parseStamp(profile[2]!);
    if (fromMs === undefined || untilMs === undefined) return undefined;
    return { type: 'profile', kind: profile[4] as ProfileKind, fromMs, untilMs, pid: Number(profile[3]) };
  }
  const loop = LOOP_FILE.exec(name);
  if (loop) {
    const fromMs = parseStamp(loop[1]!);
    const untilMs = parseStamp(loop[2]!);
    if (fromMs === undefined || untilMs === undefined) return undefined;
    return { type: 'loop', fromMs, untilMs, pid: Number(loop[3]) };
  }
  const spans = SPANS_FILE.exec(name);
  if (spans) {
    const startMs = parseStamp(spans[1]!);
    if (startMs === undefined) return undefined;
    if (spans[3] === 'roots') return spans[4] === undefined ? undefined : { type: 'roots', startMs, pid: Number(spans[2]) };
    return { type: 'spans', startMs, pid: Number(spans[2]), compressed: spans[4] !== undefined };
  }
  return undefined;
}

/** The time a store file is ordered by for the size cap: when its data begins. */
export function storeFileTime(parsed: StoreFileName): number {
  return parsed.type === 'spans' || parsed.type === 'roots' ? parsed.startMs : parsed.fromMs;
}
