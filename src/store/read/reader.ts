/**
 * Reads the local store (see ../layout.ts) back: the spans of every spans file and the list of profile
 * files. Used by the `span-profiles` command and its browser view, so it never throws on bad content:
 * whatever cannot be read is listed in `problems` and the rest is returned.
 */

import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { Profile } from 'pprof-format';
import type { ProfileKind } from '../../export/profile-exporter';
import { eventLoopDelayFromOtlpJson, type EventLoopDelayPoint } from '../event-loop-delay';
import { decompressTolerant } from '../compression';
import { parseStoreFileName, rootsFileName, serviceDirName } from '../layout';
import { spansOfRootsIndex } from '../roots-index';
import { describeError } from '../../logger';
import { PROFILE_ID_ATTRIBUTE } from '../../profile-format';

const gunzip = promisify(zlib.gunzip);

/** Problems listed per spans file before the rest are only counted. */
const PROBLEMS_PER_FILE = 3;

/** A finished span as stored, with ids in lowercase hex and times in Unix milliseconds. */
export interface StoredSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  /** OTLP SpanKind: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  startMs: number;
  endMs: number;
  durationMs: number;
  /** `service.name` of the span's resource, else the store's service directory name. */
  service: string;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
  /** OTLP status code: 0 unset, 1 ok, 2 error. */
  statusCode: number;
  /** Attribute `pyroscope.profile.id`: set on local root spans, the `span_id` label of their samples. */
  profileId: string | undefined;
  /** The process that ran it: resource `process.pid`, else the pid in the spans file's name. */
  pid: number | undefined;
}

/** One profile file of the store (not yet read; see {@link readProfile}). */
export interface StoredProfileFile {
  /** The service directory name. */
  service: string;
  kind: ProfileKind;
  fromMs: number;
  untilMs: number;
  pid: number;
  /** Absolute path of the `.pb.gz` file. */
  path: string;
}

/** One event-loop delay file of the store. */
export interface StoredLoopFile {
  service: string;
  fromMs: number;
  untilMs: number;
  pid: number;
  path: string;
}

/** Something in the store that could not be read, and why. */
export interface StoreProblem {
  path: string;
  reason: string;
}

export interface StoreContents {
  /** All spans found, ordered by start time. */
  spans: StoredSpan[];
  /** All profile files found, ordered by start of interval. */
  profiles: StoredProfileFile[];
  /** Event-loop delay files (not yet read; see {@link readEventLoopDelay}), ordered by start of interval. */
  loopFiles: StoredLoopFile[];
  problems: StoreProblem[];
}

/** Restricts what {@link readStore} returns. Times are Unix milliseconds; intervals overlapping the range count. */
export interface StoreFilter {
  /** A service name (as given to the agent, or its directory name). */
  service?: string;
  fromMs?: number;
  untilMs?: number;
  /**
   * Read only the local root spans (and the links of spans with their own profile id) from the roots
   * index beside each spans file: what report and lists need, 30 to 50 times less to read. Spans files
   * without an index (older stores) are read whole.
   */
  rootsOnly?: boolean;
}

/** One service directory of the store and its file names, sorted. */
export interface ServiceDirListing {
  readonly service: string;
  readonly serviceDir: string;
  readonly names: string[];
}

/**
 * The service directories under `root` (sorted; only `onlyDir` when given) with their file names. Never
 * rejects: an unreadable store or service directory is added to `problems` (the store's own reason from
 * `describeRoot`).
 */
export async function listServiceDirs(
  root: string,
  problems: StoreProblem[],
  { onlyDir, describeRoot = describeFsError }: { onlyDir?: string; describeRoot?: (error: unknown) => string } = {},
): Promise<ServiceDirListing[]> {
  let serviceDirs: string[];
  try {
    const entries = await fsp.readdir(root, { withFileTypes: true });
    serviceDirs = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  } catch (error) {
    problems.push({ path: root, reason: describeRoot(error) });
    return [];
  }
  const listings: ServiceDirListing[] = [];
  for (const service of serviceDirs) {
    if (onlyDir !== undefined && service !== onlyDir) continue;
    const serviceDir = path.join(root, service);
    try {
      listings.push({ service, serviceDir, names: (await fsp.readdir(serviceDir)).sort() });
    } catch (error) {
      problems.push({ path: serviceDir, reason: describeFsError(error) });
    }
  }
  return listings;
}

/**
 * Lists the profile files and reads the spans of the store at `dir`. Never rejects: a missing or
 * unreadable directory and every malformed file or line is reported in `problems`. No part of `filter`
 * is ever used to build a path, so it may come from untrusted input.
 */
export async function readStore(dir: string, filter: StoreFilter = {}): Promise<StoreContents> {
  const root = path.resolve(dir);
  const contents: StoreContents = { spans: [], profiles: [], loopFiles: [], problems: [] };
  const wantedDir = filter.service === undefined ? undefined : serviceDirName(filter.service);

  for (const { service, serviceDir, names } of await listServiceDirs(root, contents.problems, { onlyDir: wantedDir })) {
    const nameSet = new Set(names);
    for (const name of names) {
      const parsed = parseStoreFileName(name);
      if (parsed === undefined) continue; // temp files and anything not ours
      const filePath = path.join(serviceDir, name);
      if (parsed.type === 'roots') continue; // read in place of its spans file, below
      if (parsed.type === 'profile') {
        if (!overlaps(parsed.fromMs, parsed.untilMs, filter)) continue;
        contents.profiles.push({ service, kind: parsed.kind, fromMs: parsed.fromMs, untilMs: parsed.untilMs, pid: parsed.pid, path: filePath });
      } else if (parsed.type === 'loop') {
        if (!overlaps(parsed.fromMs, parsed.untilMs, filter)) continue;
        contents.loopFiles.push({ service, fromMs: parsed.fromMs, untilMs: parsed.untilMs, pid: parsed.pid, path: filePath });
      } else {
        const indexName = rootsFileName(parsed.startMs, parsed.pid);
        const file = filter.rootsOnly && parsed.compressed && nameSet.has(indexName)
          ? await readRootsFile(path.join(serviceDir, indexName), service)
          : await readSpansFile(filePath, service);
        for (const span of file.spans) if (spanInRange(span, filter) || span.name === '') contents.spans.push(span);
        for (const problem of file.problems) contents.problems.push(problem);
      }
    }
  }
  contents.spans.sort((a, b) => a.startMs - b.startMs);
  contents.profiles.sort((a, b) => a.fromMs - b.fromMs || a.path.localeCompare(b.path));
  contents.loopFiles.sort((a, b) => a.fromMs - b.fromMs || a.path.localeCompare(b.path));
  return contents;
}

/** The event-loop delay points of `files`, oldest first, with the pid they belong to. Never rejects. */
export async function readEventLoopDelay(files: readonly StoredLoopFile[]): Promise<{ points: Array<EventLoopDelayPoint & { pid: number; service: string }>; problems: StoreProblem[] }> {
  const points: Array<EventLoopDelayPoint & { pid: number; service: string }> = [];
  const problems: StoreProblem[] = [];
  for (const file of files) {
    try {
      const raw = await fsp.readFile(file.path);
      const text = (raw[0] === 0x1f && raw[1] === 0x8b ? await gunzip(raw) : raw).toString('utf8');
      for (const point of eventLoopDelayFromOtlpJson(text)) points.push({ ...point, pid: file.pid, service: file.service });
    } catch (error) {
      problems.push({ path: file.path, reason: `not an OTLP/JSON metrics file: ${describeFsError(error)}` });
    }
  }
  points.sort((a, b) => a.timeMs - b.timeMs);
  return { points, problems };
}

/**
 * Reads and decodes one gzipped pprof file. When `withinDir` is given, rejects any `file` that does
 * not resolve to a place inside it (for paths that came from untrusted input). Rejects with a message
 * naming the file when it cannot be read or decoded.
 */
export async function readProfile(file: string, withinDir?: string): Promise<Profile> {
  const resolved = withinDir === undefined ? path.resolve(file) : resolveInside(withinDir, file);
  let raw: Buffer;
  try {
    raw = await fsp.readFile(resolved);
  } catch (error) {
    throw new Error(`cannot read ${resolved}: ${describeFsError(error)}`);
  }
  try {
    // The store always gzips; accept a plain pprof too (it starts with a protobuf tag, never 0x1f 0x8b).
    const data = raw[0] === 0x1f && raw[1] === 0x8b ? await gunzip(raw) : raw;
    return Profile.decode(data);
  } catch (error) {
    throw new Error(`${resolved} is not a gzipped pprof profile: ${describeError(error)}`);
  }
}

/** {@link readProfile} for a batch of files: undefined once `problems` says why this one could not be read. */
export async function readProfileOrNote(file: string, problems: StoreProblem[]): Promise<Profile | undefined> {
  try {
    return await readProfile(file);
  } catch (error) {
    problems.push({ path: file, reason: describeError(error) });
    return undefined;
  }
}

/**
 * Resolves `relative` against `dir` and returns the absolute path, throwing when the result would lie
 * outside `dir` (`..`, absolute paths, symlink names are not followed here).
 */
export function resolveInside(dir: string, relative: string): string {
  const root = path.resolve(dir);
  const resolved = path.resolve(root, relative);
  const rel = path.relative(root, resolved);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel) || resolved.includes('\0')) {
    throw new Error(`${JSON.stringify(relative)} is not a file inside ${root}`);
  }
  return resolved;
}

function overlaps(fromMs: number, untilMs: number, filter: StoreFilter): boolean {
  if (filter.fromMs !== undefined && untilMs < filter.fromMs) return false;
  if (filter.untilMs !== undefined && fromMs > filter.untilMs) return false;
  return true;
}

function spanInRange(span: StoredSpan, filter: StoreFilter): boolean {
  if (filter.fromMs !== undefined && span.endMs < filter.fromMs) return false;
  if (filter.untilMs !== undefined && span.startMs > filter.untilMs) return false;
  return true;
}

/** What one spans file holds: its spans in file order, and what in it could not be read. */
export interface SpansFileContents {
  spans: StoredSpan[];
  problems: StoreProblem[];
}

/**
 * Reads one `.spans.jsonl` file of the store. `serviceDir` is the name of the service directory it
 * lies in, the service of spans whose resource has no `service.name`. Never rejects: an unreadable
 * file or malformed line is reported in `problems` (at most a few lines per file, then a count), and
 * a last line without '\n' is skipped as still being written.
 */
export async function readSpansFile(file: string, serviceDir: string): Promise<SpansFileContents> {
  const contents: SpansFileContents = { spans: [], problems: [] };
  const complete = await readWholeLines(file, contents.problems);
  if (complete === undefined) return contents;
  const filePid = parseStoreFileName(path.basename(file))?.pid;
  const lines = complete.split('\n');
  let bad = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    try {
      collectSpans(JSON.parse(line) as unknown, serviceDir, filePid, contents.spans);
    } catch (error) {
      bad++;
      if (bad <= PROBLEMS_PER_FILE) contents.problems.push({ path: `${file}:${i + 1}`, reason: `not an OTLP/JSON trace request: ${describeError(error)}` });
    }
  }
  if (bad > PROBLEMS_PER_FILE) {
    contents.problems.push({ path: file, reason: `${bad - PROBLEMS_PER_FILE} more unreadable lines` });
  }
  return contents;
}

/**
 * The text of a store file: zstd frames and gzip members are decompressed; a last frame still being
 * written gives what came out of it (the caller keeps only whole lines).
 */
export async function readStoreText(file: string): Promise<string> {
  const raw = await fsp.readFile(file);
  return (await decompressTolerant(raw)).data.toString('utf8');
}

/**
 * The whole lines of a store file's text, or undefined once `problems` says why it could not be read.
 * A last line without '\n' is still being appended (or was cut short): not ours to judge yet.
 */
async function readWholeLines(file: string, problems: StoreProblem[]): Promise<string | undefined> {
  let text: string;
  try {
    text = await readStoreText(file);
  } catch (error) {
    problems.push({ path: file, reason: describeFsError(error) });
    return undefined;
  }
  return text.slice(0, text.lastIndexOf('\n') + 1);
}

/** Reads the roots index `<start>_<pid>.roots.jsonl.zst` (see ../roots-index.ts). Never rejects. */
export async function readRootsFile(file: string, serviceDir: string): Promise<SpansFileContents> {
  const contents: SpansFileContents = { spans: [], problems: [] };
  const complete = await readWholeLines(file, contents.problems);
  if (complete === undefined) return contents;
  const bad = spansOfRootsIndex(complete, serviceDir, parseStoreFileName(path.basename(file))?.pid, contents.spans);
  if (bad > 0) contents.problems.push({ path: file, reason: `${bad} unreadable index line${bad === 1 ? '' : 's'}` });
  return contents;
}

interface OtlpKeyValue {
  key?: unknown;
  value?: unknown;
}

/** Adds the spans of one ExportTraceServiceRequest; throws on a shape that is not one. */
function collectSpans(request: unknown, serviceDir: string, filePid: number | undefined, out: StoredSpan[]): void {
  const resourceSpans = (request as { resourceSpans?: unknown })?.resourceSpans;
  if (!Array.isArray(resourceSpans)) throw new Error('no resourceSpans array');
  for (const rs of resourceSpans as Array<{ resource?: { attributes?: unknown }; scopeSpans?: unknown }>) {
    const resource = attributesOf(rs?.resource?.attributes);
    const serviceName = typeof resource['service.name'] === 'string' ? (resource['service.name'] as string) : serviceDir;
    const resourcePid = resource['process.pid'];
    const pid = typeof resourcePid === 'number' && Number.isSafeInteger(resourcePid) ? resourcePid : filePid;
    const scopeSpans = Array.isArray(rs?.scopeSpans) ? (rs.scopeSpans as Array<{ spans?: unknown }>) : [];
    for (const ss of scopeSpans) {
      if (!Array.isArray(ss?.spans)) continue;
      for (const raw of ss.spans as Array<Record<string, unknown>>) {
        const span = toStoredSpan(raw, serviceName, resource, pid);
        if (span === undefined) throw new Error('a span without valid ids or times');
        out.push(span);
      }
    }
  }
}

function toStoredSpan(raw: Record<string, unknown>, service: string, resource: Record<string, unknown>, pid: number | undefined): StoredSpan | undefined {
  const traceId = hexId(raw.traceId, 16);
  const spanId = hexId(raw.spanId, 8);
  const startMs = nanosToMs(raw.startTimeUnixNano);
  const endMs = nanosToMs(raw.endTimeUnixNano);
  if (traceId === undefined || spanId === undefined || startMs === undefined || endMs === undefined) return undefined;
  const attributes = attributesOf(raw.attributes);
  const profileId = attributes[PROFILE_ID_ATTRIBUTE];
  const status = raw.status as { code?: unknown } | undefined;
  return {
    traceId,
    spanId,
    parentSpanId: hexId(raw.parentSpanId, 8),
    name: typeof raw.name === 'string' ? raw.name : '',
    kind: typeof raw.kind === 'number' ? raw.kind : 0,
    startMs,
    endMs,
    durationMs: Math.max(0, endMs - startMs),
    service,
    attributes,
    resource,
    statusCode: typeof status?.code === 'number' ? status.code : 0,
    profileId: typeof profileId === 'string' && profileId !== '' ? profileId : undefined,
    pid,
  };
}

/** OTLP/JSON ids are hex; protobuf-to-JSON tools that ignore the spec write base64. Both are read. */
function hexId(value: unknown, bytes: number): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  if (value.length === bytes * 2 && /^[0-9a-fA-F]+$/.test(value)) return value.toLowerCase();
  const decoded = Buffer.from(value, 'base64');
  return decoded.length === bytes ? decoded.toString('hex') : undefined;
}

function nanosToMs(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value / 1e6;
  if (typeof value === 'string' && /^\d+$/.test(value)) return Number(value) / 1e6;
  return undefined;
}

function attributesOf(list: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!Array.isArray(list)) return out;
  for (const kv of list as OtlpKeyValue[]) {
    if (typeof kv?.key === 'string') out[kv.key] = anyValue(kv.value);
  }
  return out;
}

/** An OTLP AnyValue to plain JSON (int64 strings become numbers when they fit). */
function anyValue(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  if ('stringValue' in v) return v.stringValue;
  if ('boolValue' in v) return v.boolValue;
  if ('intValue' in v) {
    const n = Number(v.intValue);
    return Number.isSafeInteger(n) ? n : v.intValue;
  }
  if ('doubleValue' in v) return Number(v.doubleValue);
  if ('bytesValue' in v) return v.bytesValue;
  if ('arrayValue' in v) {
    const values = (v.arrayValue as { values?: unknown })?.values;
    return Array.isArray(values) ? values.map(anyValue) : [];
  }
  if ('kvlistValue' in v) return attributesOf((v.kvlistValue as { values?: unknown })?.values);
  return undefined;
}

/** `ENOENT: no such file or directory` style text, without a stack. */
export function describeFsError(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  if (e?.code === 'ENOENT') return 'does not exist (ENOENT)';
  if (e?.code === 'ENOTDIR') return 'is not a directory (ENOTDIR)';
  if (e?.code === 'EACCES') return 'permission denied (EACCES)';
  return e?.code ? `${e.code}: ${e.message}` : String(e?.message ?? error);
}
