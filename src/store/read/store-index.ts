/**
 * An index of the local store in SQLite (`node:sqlite`, no dependency), kept up to date incrementally
 * by the command: each run lists the store, ingests only the files that are new or changed (the spans
 * file being appended, the profiles written since) and forgets the ones the size cap removed. Reading
 * a full 256 MiB store whole takes half a minute; with the index, `report` and `view` ask only for what
 * they show (the slowest roots, the CPU per span, the samples around one request).
 *
 * It lives beside the service directories as `<dir>/.span-profiles-index.sqlite` (nothing of the agent
 * reads it, and the size cap does not count it: it is the command's cache, safe to delete); when the
 * store is not writable, it is built in memory for the one run.
 */

import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { findStalls, ProcessTimelines, RootResolver } from './breakdown';
import { parseStoreFileName, rootsFileName, serviceDirName, storeFileTime, type StoreFileName } from '../layout';
import { listServiceDirs, readEventLoopDelay, readRootsFile, readSpansFile, type StoredProfileFile, type StoredSpan, type StoreProblem } from './reader';
import { loadCpuSamples, unchargedCpu, type CodeFrame, type CpuSample, type UnchargedCpu } from './span-cpu';

/** The index file inside the store directory. */
export const INDEX_FILE_NAME = '.span-profiles-index.sqlite';
/** Bump when the schema or what is ingested changes: an index of another version is rebuilt. */
const SCHEMA_VERSION = '5';

type Sqlite = typeof import('node:sqlite');
type Database = import('node:sqlite').DatabaseSync;
type Row = Record<string, unknown>;

function loadSqlite(): Sqlite | undefined {
  try {
    // Loaded only when used, so the command still runs (without the index) on a Node without it.
    const emit = process.emitWarning;
    process.emitWarning = () => undefined; // its "experimental" notice is not the user's concern
    try {
      return require('node:sqlite') as Sqlite;
    } finally {
      process.emitWarning = emit;
    }
  } catch {
    return undefined;
  }
}

/** A listed store file with its stamp (inode, mtime, size): a file whose stamp is unchanged is not read again. */
interface ListedFile {
  path: string;
  service: string;
  stamp: string;
  parsed: StoreFileName;
}

/** One local root span as the index gives it back. */
export interface IndexedRoot extends StoredSpan {
  /** CPU sampled under it (its label, or a span under it with its own profile id), ns. */
  cpuNanos: number;
  samples: number;
}

/** The store's index. Open with {@link StoreIndex.open}; {@link close} when done. */
export class StoreIndex {
  private readonly stackIds = new Map<string, number>();
  private readonly stacksById = new Map<number, CodeFrame[]>();
  private readonly frames = new Map<string, CodeFrame>();

  private constructor(
    readonly dir: string,
    private readonly db: Database,
    /** Where the index lives; ':memory:' when the store could not hold it. */
    readonly location: string,
  ) {}

  /** Opens (or creates) the index of `dir`; undefined when this Node has no `node:sqlite`. */
  static open(dir: string): StoreIndex | undefined {
    const sqlite = loadSqlite();
    if (sqlite === undefined) return undefined;
    const root = path.resolve(dir);
    const file = path.join(root, INDEX_FILE_NAME);
    for (const location of [file, ':memory:']) {
      let db: Database | undefined;
      try {
        db = new sqlite.DatabaseSync(location);
        db.exec('PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; PRAGMA cache_size = -262144; PRAGMA temp_store = MEMORY;');
        const index = new StoreIndex(root, db, location);
        index.prepareSchema();
        return index;
      } catch {
        try {
          db?.close();
        } catch {
          // already closed
        }
      }
    }
    return undefined;
  }

  close(): void {
    try {
      this.db.close();
    } catch {
      // closed
    }
  }

  private prepareSchema(): void {
    const db = this.db;
    db.exec('CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT)');
    const version = (db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as Row | undefined)?.value;
    if (version !== SCHEMA_VERSION) {
      db.exec(
        'DROP TABLE IF EXISTS files; DROP TABLE IF EXISTS roots; DROP TABLE IF EXISTS samples; DROP TABLE IF EXISTS stacks; ' +
          'DROP TABLE IF EXISTS label_cpu; DROP TABLE IF EXISTS file_labels; DROP TABLE IF EXISTS runs; DROP TABLE IF EXISTS loop_delay;',
      );
    }
    db.exec(`
      CREATE TABLE IF NOT EXISTS files(id INTEGER PRIMARY KEY, path TEXT UNIQUE, stamp TEXT, service TEXT, type TEXT, kind TEXT,
        from_ms REAL, until_ms REAL, pid INTEGER, period_ns INTEGER, read_ok INTEGER, problem TEXT,
        samples INTEGER DEFAULT 0, untimed INTEGER DEFAULT 0, cpu_ns INTEGER DEFAULT 0, cpu_in_spans_ns INTEGER DEFAULT 0);
      CREATE TABLE IF NOT EXISTS label_cpu(label TEXT PRIMARY KEY, service TEXT, cpu INTEGER, n INTEGER, trace TEXT, sname TEXT);
      CREATE INDEX IF NOT EXISTS label_cpu_cpu ON label_cpu(cpu);
      CREATE TABLE IF NOT EXISTS file_labels(file_id INTEGER, label TEXT, cpu INTEGER, n INTEGER);
      CREATE INDEX IF NOT EXISTS file_labels_file ON file_labels(file_id);
      CREATE TABLE IF NOT EXISTS runs(file_id INTEGER, service TEXT, pid INTEGER, label TEXT, trace TEXT, sname TEXT, from_us INTEGER, until_us INTEGER,
        cpu INTEGER, functions TEXT);
      CREATE INDEX IF NOT EXISTS runs_file ON runs(file_id);
      CREATE INDEX IF NOT EXISTS runs_duration ON runs(until_us - from_us);
      CREATE TABLE IF NOT EXISTS roots(file_id INTEGER, span_id TEXT, trace_id TEXT, parent_span_id TEXT, name TEXT, kind INTEGER,
        start_us INTEGER, end_us INTEGER, status INTEGER, profile_id TEXT, url_path TEXT, service TEXT, pid INTEGER, is_link INTEGER);
      CREATE INDEX IF NOT EXISTS roots_file ON roots(file_id);
      CREATE INDEX IF NOT EXISTS roots_duration ON roots(end_us - start_us);
      CREATE INDEX IF NOT EXISTS roots_label ON roots(profile_id);
      CREATE INDEX IF NOT EXISTS roots_trace ON roots(trace_id);
      CREATE INDEX IF NOT EXISTS roots_start ON roots(start_us);
      CREATE TABLE IF NOT EXISTS samples(file_id INTEGER, service TEXT, pid INTEGER, time_us INTEGER, cpu_ns INTEGER, count INTEGER,
        label TEXT, trace_id TEXT, span_name TEXT, stack_id INTEGER);
      CREATE INDEX IF NOT EXISTS samples_file ON samples(file_id);
      CREATE INDEX IF NOT EXISTS samples_time ON samples(service, pid, time_us);
      CREATE INDEX IF NOT EXISTS samples_label ON samples(label);
      CREATE INDEX IF NOT EXISTS samples_name ON samples(span_name);
      CREATE TABLE IF NOT EXISTS stacks(id INTEGER PRIMARY KEY, frames TEXT UNIQUE);
      CREATE TABLE IF NOT EXISTS loop_delay(file_id INTEGER, service TEXT, pid INTEGER, from_ms REAL, until_ms REAL, max_ns INTEGER, p99_ns INTEGER, mean_ns INTEGER);
      CREATE INDEX IF NOT EXISTS loop_delay_time ON loop_delay(service, pid, until_ms);
      CREATE INDEX IF NOT EXISTS loop_delay_file ON loop_delay(file_id);
    `);
    db.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema', ?)").run(SCHEMA_VERSION);
  }

  /**
   * Brings the index up to date with the store: new and changed files are read, removed ones
   * forgotten. Returns what could not be read (and the listing's problems).
   */
  async update(): Promise<StoreProblem[]> {
    const problems: StoreProblem[] = [];
    const listed = await this.list(problems);
    const known = new Map<string, { id: number; stamp: string }>();
    for (const row of this.db.prepare('SELECT id, path, stamp FROM files').all() as Row[]) {
      known.set(String(row.path), { id: Number(row.id), stamp: String(row.stamp) });
    }
    const present = new Set(listed.map((f) => f.path));
    for (const [filePath, { id }] of known) if (!present.has(filePath)) this.forget(id);
    const names = new Set(listed.map((f) => f.path));
    for (const file of listed) {
      const before = known.get(file.path);
      if (before !== undefined && before.stamp === file.stamp) continue;
      if (before !== undefined) this.forget(before.id);
      // Spans files with an index are represented by the index.
      if (file.parsed.type === 'spans' && file.parsed.compressed && names.has(path.join(path.dirname(file.path), rootsFileName(file.parsed.startMs, file.parsed.pid)))) {
        this.insertFile(file, true, undefined);
        continue;
      }
      await this.ingest(file);
    }
    for (const row of this.db.prepare('SELECT path, problem FROM files WHERE problem IS NOT NULL').all() as Row[]) {
      problems.push({ path: String(row.path), reason: String(row.problem) });
    }
    return problems;
  }

  private forget(id: number): void {
    this.db.prepare(
      'UPDATE label_cpu SET cpu = cpu - (SELECT SUM(cpu) FROM file_labels f WHERE f.file_id = ? AND f.label = label_cpu.label), ' +
        'n = n - (SELECT SUM(n) FROM file_labels f WHERE f.file_id = ? AND f.label = label_cpu.label) ' +
        'WHERE label IN (SELECT label FROM file_labels WHERE file_id = ?)',
    ).run(id, id, id);
    this.db.prepare('DELETE FROM label_cpu WHERE n <= 0').run();
    this.db.prepare('DELETE FROM file_labels WHERE file_id = ?').run(id);
    this.db.prepare('DELETE FROM runs WHERE file_id = ?').run(id);
    this.db.prepare('DELETE FROM loop_delay WHERE file_id = ?').run(id);
    this.db.prepare('DELETE FROM roots WHERE file_id = ?').run(id);
    this.db.prepare('DELETE FROM samples WHERE file_id = ?').run(id);
    this.db.prepare('DELETE FROM files WHERE id = ?').run(id);
  }

  private insertFile(file: ListedFile, ok: boolean, problem: string | undefined, periodNanos = 0): number {
    const p = file.parsed;
    const fromMs = storeFileTime(p);
    const untilMs = p.type === 'profile' || p.type === 'loop' ? p.untilMs : fromMs;
    const kind = p.type === 'profile' ? p.kind : null;
    const result = this.db
      .prepare('INSERT INTO files(path, stamp, service, type, kind, from_ms, until_ms, pid, period_ns, read_ok, problem) VALUES (?,?,?,?,?,?,?,?,?,?,?)')
      .run(file.path, file.stamp, file.service, p.type, kind, fromMs, untilMs, p.pid, periodNanos, ok ? 1 : 0, problem ?? null);
    return Number(result.lastInsertRowid);
  }

  private async ingest(file: ListedFile): Promise<void> {
    const p = file.parsed;
    if (p.type === 'loop') {
      const { points, problems } = await readEventLoopDelay([{ service: file.service, fromMs: p.fromMs, untilMs: p.untilMs, pid: p.pid, path: file.path }]);
      this.transaction(() => {
        const id = this.insertFile(file, problems.length === 0, problems[0]?.reason);
        const insert = this.db.prepare('INSERT INTO loop_delay(file_id, service, pid, from_ms, until_ms, max_ns, p99_ns, mean_ns) VALUES (?,?,?,?,?,?,?,?)');
        for (const point of points) insert.run(id, file.service, p.pid, point.startMs, point.timeMs, point.maxNanos, point.p99Nanos, point.meanNanos);
      });
      return;
    }
    if (p.type === 'profile') {
      if (p.kind !== 'cpu') {
        this.insertFile(file, true, undefined); // other kinds are listed, not analyzed here
        return;
      }
      const profileFile: StoredProfileFile = { service: file.service, kind: p.kind, fromMs: p.fromMs, untilMs: p.untilMs, pid: p.pid, path: file.path };
      const loaded = await loadCpuSamples([profileFile]);
      const problem = loaded.problems[0]?.reason;
      this.transaction(() => {
        const id = this.insertFile(file, problem === undefined, problem, loaded.periodNanos);
        const insert = this.db.prepare('INSERT INTO samples(file_id, service, pid, time_us, cpu_ns, count, label, trace_id, span_name, stack_id) VALUES (?,?,?,?,?,?,?,?,?,?)');
        const labels = new Map<string, { cpu: number; n: number; trace: string | null; sname: string | null }>();
        let cpu = 0;
        let inSpans = 0;
        let untimed = 0;
        for (const s of loaded.samples) {
          insert.run(id, s.service, s.pid, s.timeMs === undefined ? null : Math.round(s.timeMs * 1000), s.cpuNanos, s.count, s.spanId ?? null, s.traceId ?? null, s.spanName ?? null, this.stackId(s.stack));
          cpu += s.cpuNanos;
          if (s.timeMs === undefined) untimed++;
          if (s.spanId === undefined) continue;
          inSpans += s.cpuNanos;
          const entry = labels.get(s.spanId) ?? { cpu: 0, n: 0, trace: s.traceId ?? null, sname: s.spanName ?? null };
          entry.cpu += s.cpuNanos;
          entry.n += s.count;
          labels.set(s.spanId, entry);
        }
        this.db.prepare('UPDATE files SET samples = ?, untimed = ?, cpu_ns = ?, cpu_in_spans_ns = ? WHERE id = ?').run(loaded.samples.length, untimed, cpu, inSpans, id);
        // Running CPU totals per label, so "most CPU first" never sums the samples at query time.
        const fileLabel = this.db.prepare('INSERT INTO file_labels(file_id, label, cpu, n) VALUES (?,?,?,?)');
        const upsert = this.db.prepare(
          'INSERT INTO label_cpu(label, service, cpu, n, trace, sname) VALUES (?,?,?,?,?,?) ' +
            'ON CONFLICT(label) DO UPDATE SET cpu = cpu + excluded.cpu, n = n + excluded.n, sname = COALESCE(excluded.sname, sname)',
        );
        for (const [label, e] of labels) {
          fileLabel.run(id, label, e.cpu, e.n);
          upsert.run(label, file.service, e.cpu, e.n, e.trace, e.sname);
        }
        // The file's stretches of CPU by one span (stalls): a stall never spans a cut, which runs on the event loop.
        const runs = findStalls(new ProcessTimelines(loaded.samples, new RootResolver([]), loaded.periodNanos || undefined), [], {
          maxGapNanos: Math.max(1_000_000, (loaded.periodNanos || 10_000_000) / 2),
          limit: 1000,
          minNanos: 2 * (loaded.periodNanos || 10_000_000),
        });
        const insertRun = this.db.prepare('INSERT INTO runs(file_id, service, pid, label, trace, sname, from_us, until_us, cpu, functions) VALUES (?,?,?,?,?,?,?,?,?,?)');
        for (const run of runs) {
          const fromUs = Math.round(run.startMs * 1000);
          insertRun.run(id, file.service, run.pid, run.spanId ?? null, run.traceId ?? null, run.spanId === undefined ? null : run.name, fromUs, fromUs + run.durationNanos / 1000, run.cpuNanos, JSON.stringify(run.functions));
        }
      });
      return;
    }
    const contents = p.type === 'roots' ? await readRootsFile(file.path, file.service) : await readSpansFile(file.path, file.service);
    const problem = contents.problems.length === 0 ? undefined : contents.problems.map((x) => x.reason).join('; ');
    // A plain spans file (older stores) holds every span: keep its local roots and linked spans only.
    const ids = new Set(p.type === 'spans' ? contents.spans.map((s) => s.spanId) : []);
    this.transaction(() => {
      const id = this.insertFile(file, contents.spans.length > 0 || problem === undefined, problem);
      const insert = this.db.prepare(
        'INSERT INTO roots(file_id, span_id, trace_id, parent_span_id, name, kind, start_us, end_us, status, profile_id, url_path, service, pid, is_link) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)',
      );
      for (const s of contents.spans) {
        const isLink = s.name === '' && s.startMs === 0 ? 1 : p.type === 'spans' && s.parentSpanId !== undefined && ids.has(s.parentSpanId) ? 1 : 0;
        if (isLink === 1 && s.profileId === undefined) continue;
        const urlPath = s.attributes['url.path'] ?? s.attributes['http.target'];
        insert.run(
          id,
          s.spanId,
          s.traceId,
          s.parentSpanId ?? null,
          s.name,
          s.kind,
          Math.round(s.startMs * 1000),
          Math.round(s.endMs * 1000),
          s.statusCode,
          s.profileId ?? null,
          typeof urlPath === 'string' ? urlPath : null,
          s.service,
          s.pid ?? null,
          isLink,
        );
      }
    });
  }

  private transaction(work: () => void): void {
    this.db.exec('BEGIN');
    try {
      work();
      this.db.exec('COMMIT');
    } catch (error) {
      this.db.exec('ROLLBACK');
      throw error;
    }
  }

  private stackId(stack: CodeFrame[]): number {
    const key = JSON.stringify(stack.map((f) => [f.name, f.file, f.line]));
    let id = this.stackIds.get(key);
    if (id !== undefined) return id;
    const row = this.db.prepare('SELECT id FROM stacks WHERE frames = ?').get(key) as Row | undefined;
    id = row !== undefined ? Number(row.id) : Number(this.db.prepare('INSERT INTO stacks(frames) VALUES (?)').run(key).lastInsertRowid);
    this.stackIds.set(key, id);
    return id;
  }

  /** The frames of a stack id, leaf first; equal frames are the same object. */
  stack(id: number): CodeFrame[] {
    let stack = this.stacksById.get(id);
    if (stack !== undefined) return stack;
    const row = this.db.prepare('SELECT frames FROM stacks WHERE id = ?').get(id) as Row | undefined;
    const raw = row === undefined ? [] : (JSON.parse(String(row.frames)) as Array<[string, string, number]>);
    stack = raw.map(([name, file, line]) => {
      const key = `${name}\0${file}\0${line}`;
      let frame = this.frames.get(key);
      if (frame === undefined) this.frames.set(key, (frame = { name, file, line }));
      return frame;
    });
    this.stacksById.set(id, stack);
    return stack;
  }

  private async list(problems: StoreProblem[]): Promise<ListedFile[]> {
    const files: ListedFile[] = [];
    for (const { service, serviceDir, names } of await listServiceDirs(this.dir, problems)) {
      for (const name of names) {
        const parsed = parseStoreFileName(name);
        if (parsed === undefined) continue;
        const filePath = path.join(serviceDir, name);
        try {
          const stat = await fsp.stat(filePath);
          if (!stat.isFile()) continue;
          files.push({ path: filePath, service, stamp: `${stat.ino}:${stat.mtimeMs}:${stat.size}`, parsed });
        } catch {
          // removed by the size cap meanwhile
        }
      }
    }
    return files;
  }

  // -------------------------------------------------------------------------------------------------
  // Queries

  /** Runs `sql` with `params` and returns the rows. */
  /**
   * CPU charged to no span on purpose (after its span ended, between samples) in the files that match
   * `fileWhere` (a condition on `files f`). Unlabelled CPU is grouped by stack: its root frame says which.
   */
  unchargedCpu(fileWhere = '1 = 1', ...params: Array<string | number | null>): UnchargedCpu {
    const rows = this.all(
      `SELECT s.stack_id, SUM(s.cpu_ns) AS cpu FROM samples s JOIN files f ON f.id = s.file_id WHERE s.label IS NULL AND ${fileWhere} GROUP BY s.stack_id`,
      ...params,
    );
    return unchargedCpu(rows.map((row) => ({ spanId: undefined, stack: this.stack(Number(row.stack_id)), cpuNanos: Number(row.cpu) })));
  }

  all(sql: string, ...params: Array<string | number | null>): Row[] {
    return this.db.prepare(sql).all(...params) as Row[];
  }

  get(sql: string, ...params: Array<string | number | null>): Row | undefined {
    return this.db.prepare(sql).get(...params) as Row | undefined;
  }

  /** The local root span a `span_id` label belongs to (its own row, or up the links); undefined when not stored. */
  spanOfLabel(label: string): StoredSpan | undefined {
    const row = this.get('SELECT * FROM roots WHERE profile_id = ? ORDER BY is_link LIMIT 1', label);
    return row === undefined ? undefined : StoreIndex.spanOf(row);
  }

  /** The CPU samples labelled `label`, as {@link CpuSample}s. */
  samplesOfLabel(label: string): CpuSample[] {
    return this.all('SELECT s.*, f.from_ms, f.until_ms FROM samples s JOIN files f ON f.id = s.file_id WHERE s.label = ?', label).map((row) => this.sampleOf(row));
  }

  /**
   * The largest event-loop delay measured by the process in the seconds overlapping `[fromMs, untilMs]`,
   * ns; undefined when none was recorded then.
   */
  loopDelayMax(service: string, pid: number | undefined, fromMs: number, untilMs: number): number | undefined {
    const row = this.get(
      `SELECT MAX(max_ns) AS m FROM loop_delay WHERE service = ? ${pid === undefined ? '' : 'AND pid = ?'} AND until_ms >= ? AND from_ms <= ?`,
      ...([serviceDirName(service), ...(pid === undefined ? [] : [pid]), fromMs, untilMs] as Array<string | number>),
    );
    return row?.m === null || row?.m === undefined ? undefined : Number(row.m);
  }

  /** The sampling period of the profiles, ns (0 when none). */
  periodNanos(): number {
    return Number(this.get("SELECT MAX(period_ns) AS p FROM files WHERE type = 'profile'")?.p ?? 0);
  }

  /**
   * The time line of `span`'s process around its lifetime (a second either side), with a resolver of
   * the spans its samples carry: enough for its breakdown and its CPU lane.
   */
  timelinesAround(span: StoredSpan, periodNanos = this.periodNanos()): { timelines: ProcessTimelines; resolver: RootResolver; root: StoredSpan } {
    const startUs = Math.round(span.startMs * 1000);
    const endUs = Math.round(span.endMs * 1000);
    const params: Array<string | number> = [serviceDirName(span.service)];
    if (span.pid !== undefined) params.push(span.pid);
    params.push(startUs - 1_000_000, endUs + 1_000_000);
    const rows = this.all(
      `SELECT s.*, f.from_ms, f.until_ms FROM samples s JOIN files f ON f.id = s.file_id
       WHERE s.service = ? ${span.pid === undefined ? '' : 'AND s.pid = ?'} AND s.time_us BETWEEN ? AND ? ORDER BY s.time_us`,
      ...params,
    );
    const samples = rows.map((row) => this.sampleOf(row));
    const spans = new Map<string, StoredSpan>([[span.spanId, span]]);
    for (const label of new Set(samples.map((s) => s.spanId))) {
      if (label === undefined) continue;
      let current = this.spanOfLabel(label);
      // Up the links (spans with their own profile id) to their local root.
      for (let depth = 0; current !== undefined && depth < 50 && !spans.has(current.spanId); depth++) {
        spans.set(current.spanId, current);
        if (current.parentSpanId === undefined) break;
        const parent = this.get('SELECT * FROM roots WHERE trace_id = ? AND span_id = ? LIMIT 1', current.traceId, current.parentSpanId);
        current = parent === undefined ? undefined : StoreIndex.spanOf(parent);
      }
    }
    const resolver = new RootResolver([...spans.values()]);
    return { timelines: new ProcessTimelines(samples, resolver, periodNanos || undefined), resolver, root: resolver.root(span) };
  }

  /** A roots row as a {@link StoredSpan}. */
  static spanOf(row: Row): StoredSpan {
    const startMs = Number(row.start_us) / 1000;
    const endMs = Number(row.end_us) / 1000;
    const pid = row.pid === null ? undefined : Number(row.pid);
    return {
      traceId: String(row.trace_id),
      spanId: String(row.span_id),
      parentSpanId: row.parent_span_id === null ? undefined : String(row.parent_span_id),
      name: String(row.name),
      kind: Number(row.kind),
      startMs,
      endMs,
      durationMs: Math.max(0, endMs - startMs),
      service: String(row.service),
      attributes: row.url_path === null || row.url_path === undefined ? {} : { 'url.path': String(row.url_path) },
      resource: { 'service.name': String(row.service), 'process.pid': pid },
      statusCode: Number(row.status),
      profileId: row.profile_id === null ? undefined : String(row.profile_id),
      pid,
    };
  }

  /** A samples row as a {@link CpuSample}. */
  sampleOf(row: Row): CpuSample {
    return {
      spanId: row.label === null ? undefined : String(row.label),
      traceId: row.trace_id === null ? undefined : String(row.trace_id),
      spanName: row.span_name === null ? undefined : String(row.span_name),
      cpuNanos: Number(row.cpu_ns),
      count: Number(row.count),
      stack: this.stack(Number(row.stack_id)),
      service: String(row.service),
      fromMs: Number(row.from_ms ?? 0),
      untilMs: Number(row.until_ms ?? 0),
      pid: Number(row.pid),
      timeMs: row.time_us === null ? undefined : Number(row.time_us) / 1000,
    };
  }
}
