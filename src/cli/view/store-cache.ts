/**
 * The view's picture of the local store. Every API request asks for a fresh {@link StoreSnapshot} so a
 * browser refresh shows what the agent wrote since, but only changed files are parsed again: each
 * request lists the store and stats its files (cheap), and each profile or spans file is read again
 * only when its stamp (inode, times, size) changed.
 */

import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { parseStoreFileName, type StoreFileName } from '../../store/layout';
import type { EventLoopDelayPoint } from '../../store/event-loop-delay';
import { describeFsError, listServiceDirs, readEventLoopDelay, readSpansFile, type SpansFileContents, type StoredLoopFile, type StoredProfileFile, type StoredSpan, type StoreProblem } from '../../store/read/reader';
import { loadCpuSamples, type CodeFrame, type CpuSample } from '../../store/read/span-cpu';

/** Everything the API answers from; treat as read-only (it is shared between requests). */
export interface StoreSnapshot {
  /** Absolute store directory. */
  dir: string;
  /** All stored spans, ordered by start time. */
  spans: StoredSpan[];
  /** The samples of every readable CPU profile; equal frames are the same object across files. */
  samples: CpuSample[];
  /** Sampling period of the profiles, nanoseconds (0 when none was read). */
  periodNanos: number;
  /** Profile files read successfully. */
  profilesRead: number;
  /** The event-loop delay points of every process, oldest first. */
  loopDelay: Array<EventLoopDelayPoint & { pid: number; service: string }>;
  /** What could not be read; paths relative to the store directory. */
  problems: StoreProblem[];
}

interface ListedFile {
  path: string;
  /** Service directory name. */
  service: string;
  /** Inode, times and size: a file whose stamp is unchanged is not read again. */
  stamp: string;
  type: StoreFileName['type'];
  profile: StoredProfileFile | undefined;
  loop: StoredLoopFile | undefined;
}

interface CachedSpansFile extends SpansFileContents {
  stamp: string;
}

interface CachedProfile {
  stamp: string;
  samples: CpuSample[];
  periodNanos: number;
  problem: StoreProblem | undefined;
}

/** Holds the parsed store between requests. One per served directory. */
export class StoreCache {
  readonly dir: string;
  private readonly profiles = new Map<string, CachedProfile>();
  /** Frames interned across files, so flame graphs merge a function seen in several profiles. */
  private readonly frames = new Map<string, CodeFrame>();
  private readonly spansFiles = new Map<string, CachedSpansFile>();
  private readonly loopFiles = new Map<string, { stamp: string; points: StoreSnapshot['loopDelay'] }>();
  /** All spans of {@link spansFiles} by start time, rebuilt when one of those files changed. */
  private spans: StoredSpan[] = [];
  private lastStamp: string | undefined;
  private last: StoreSnapshot | undefined;
  private inFlight: Promise<StoreSnapshot> | undefined;

  constructor(dir: string) {
    this.dir = path.resolve(dir);
  }

  /** The store as it is now. Concurrent callers share one read. Never rejects. */
  snapshot(): Promise<StoreSnapshot> {
    this.inFlight ??= this.load().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async load(): Promise<StoreSnapshot> {
    const listing = await this.list();
    const stamp = listing.files.map((f) => `${f.path}@${f.stamp}`).join('\n') + '\n' + listing.problems.map((p) => p.path).join('\n');
    if (this.last !== undefined && stamp === this.lastStamp) return this.last;

    const problems: StoreProblem[] = [...listing.problems];
    for (const file of await this.readSpansFiles(listing.files)) for (const problem of file.problems) problems.push(problem);

    const present = new Set<string>();
    const samples: CpuSample[] = [];
    let periodNanos = 0;
    let profilesRead = 0;
    for (const file of listing.files) {
      if (file.profile === undefined || file.profile.kind !== 'cpu') continue;
      present.add(file.path);
      const cached = await this.profile(file.profile, file.stamp);
      if (cached.problem !== undefined) {
        problems.push(cached.problem);
        continue;
      }
      profilesRead++;
      periodNanos = Math.max(periodNanos, cached.periodNanos);
      for (const sample of cached.samples) samples.push(sample);
    }
    for (const cachedPath of this.profiles.keys()) if (!present.has(cachedPath)) this.profiles.delete(cachedPath);

    const loopDelay: StoreSnapshot['loopDelay'] = [];
    const loopPresent = new Set<string>();
    for (const file of listing.files) {
      if (file.type !== 'loop' || file.loop === undefined) continue;
      loopPresent.add(file.path);
      let cached = this.loopFiles.get(file.path);
      if (cached === undefined || cached.stamp !== file.stamp) {
        const read = await readEventLoopDelay([file.loop]);
        cached = { stamp: file.stamp, points: read.points };
        this.loopFiles.set(file.path, cached);
        for (const problem of read.problems) problems.push(problem);
      }
      for (const point of cached.points) loopDelay.push(point);
    }
    for (const cachedPath of this.loopFiles.keys()) if (!loopPresent.has(cachedPath)) this.loopFiles.delete(cachedPath);
    loopDelay.sort((a, b) => a.timeMs - b.timeMs);

    const snapshot: StoreSnapshot = {
      dir: this.dir,
      spans: this.spans,
      samples,
      periodNanos,
      profilesRead,
      loopDelay,
      problems: problems.map((p) => ({ path: this.relative(p.path), reason: this.withoutDir(p.reason) })),
    };
    this.last = snapshot;
    this.lastStamp = stamp;
    return snapshot;
  }

  /** The listed spans files, each read again only when its stamp changed; keeps {@link spans} current. */
  private async readSpansFiles(listed: ListedFile[]): Promise<CachedSpansFile[]> {
    const files: CachedSpansFile[] = [];
    let changed = false;
    const present = new Set<string>();
    for (const file of listed) {
      if (file.type !== 'spans') continue;
      present.add(file.path);
      let cached = this.spansFiles.get(file.path);
      if (cached === undefined || cached.stamp !== file.stamp) {
        cached = { stamp: file.stamp, ...(await readSpansFile(file.path, file.service)) };
        this.spansFiles.set(file.path, cached);
        changed = true;
      }
      files.push(cached);
    }
    for (const cachedPath of this.spansFiles.keys()) {
      if (present.has(cachedPath)) continue;
      this.spansFiles.delete(cachedPath);
      changed = true;
    }
    if (changed) {
      const spans: StoredSpan[] = [];
      for (const file of files) for (const span of file.spans) spans.push(span);
      this.spans = spans.sort((a, b) => a.startMs - b.startMs);
    }
    return files;
  }

  private async profile(file: StoredProfileFile, stamp: string): Promise<CachedProfile> {
    const cached = this.profiles.get(file.path);
    if (cached !== undefined && cached.stamp === stamp) return cached;
    const loaded = await loadCpuSamples([file]);
    for (const sample of loaded.samples) sample.stack = sample.stack.map((frame) => this.intern(frame));
    const entry: CachedProfile = {
      stamp,
      samples: loaded.samples,
      periodNanos: loaded.periodNanos,
      problem: loaded.problems[0],
    };
    this.profiles.set(file.path, entry);
    return entry;
  }

  private intern(frame: CodeFrame): CodeFrame {
    const key = `${frame.name}\0${frame.file}\0${frame.line}`;
    const known = this.frames.get(key);
    if (known !== undefined) return known;
    this.frames.set(key, frame);
    return frame;
  }

  /** Names and stamps of the store's files (temp files and foreign names skipped). */
  private async list(): Promise<{ files: ListedFile[]; problems: StoreProblem[] }> {
    const files: ListedFile[] = [];
    const problems: StoreProblem[] = [];
    const describeRoot = (error: unknown): string => `the store directory ${describeFsError(error)}`;
    for (const { service, serviceDir, names } of await listServiceDirs(this.dir, problems, { describeRoot })) {
      for (const name of names) {
        const parsed = parseStoreFileName(name);
        if (parsed === undefined) continue;
        const filePath = path.join(serviceDir, name);
        let stamp: string;
        try {
          const stat = await fsp.stat(filePath);
          if (!stat.isFile()) continue;
          stamp = `${stat.ino}:${stat.mtimeMs}:${stat.ctimeMs}:${stat.size}`;
        } catch {
          continue; // removed by the size cap between readdir and stat
        }
        const profile: StoredProfileFile | undefined =
          parsed.type === 'profile'
            ? { service, kind: parsed.kind, fromMs: parsed.fromMs, untilMs: parsed.untilMs, pid: parsed.pid, path: filePath }
            : undefined;
        const loop: StoredLoopFile | undefined =
          parsed.type === 'loop' ? { service, fromMs: parsed.fromMs, untilMs: parsed.untilMs, pid: parsed.pid, path: filePath } : undefined;
        files.push({ path: filePath, service, stamp, type: parsed.type, profile, loop });
      }
    }
    return { files, problems };
  }

  private relative(file: string): string {
    const rel = path.relative(this.dir, file);
    return rel === '' ? '.' : rel.startsWith('..') ? file : rel;
  }

  /** Reasons often repeat the absolute path; the page shows paths relative to the store. */
  private withoutDir(reason: string): string {
    return reason.split(this.dir + path.sep).join('');
  }
}
