/**
 * The store's size cap, shared by the profile and span writers of one directory: when the files under
 * `<dir>` pass `maxBytes`, the files whose data ends first are removed first, across services and kinds,
 * so profiles and the spans of the same minutes go together (a profile is not kept long after its
 * spans, nor spans after their profiles). A spans file and its roots index go as one. Files are small
 * slices of the cap (spans files rotate at 1/64 of it), so history goes in small steps.
 * Never removed: a file this process is appending to, and the newest spans file of another live process
 * (it may be appending to it).
 *
 * The total is rescanned from disk when the running estimate passes the cap, or at most once a minute,
 * so other processes writing to the same directory are accounted for without a scan per write.
 */

import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { formatStamp, parseStoreFileName, storeFileTime } from '../layout';

/** Rescan at least this often while writing, to see what other processes added. */
const RESCAN_INTERVAL_MS = 60_000;

interface StoreFile {
  path: string;
  bytes: number;
  /** When its data begins (the time in its name). */
  time: number;
  /** When its data ends: the interval's end for profiles, the last write for spans files. */
  endTime: number;
  /** Files removed together share it: a spans file and its roots index. */
  unit: string;
  /** `<service>/<pid>` for spans files, to find each writer's newest. */
  spansWriter: string | undefined;
}

const caps = new Map<string, StoreSizeCap>();

/** Enforces the size cap of one store directory. Get it with {@link StoreSizeCap.for}. */
export class StoreSizeCap {
  /** The cap of `dir` in this process, shared by every writer of that directory. The smallest maxBytes asked for wins. */
  static for(dir: string, maxBytes: number): StoreSizeCap {
    const root = path.resolve(dir);
    let cap = caps.get(root);
    if (cap === undefined) {
      cap = new StoreSizeCap(root, maxBytes);
      caps.set(root, cap);
    } else {
      cap.maxBytes = Math.min(cap.maxBytes, maxBytes);
    }
    return cap;
  }

  private readonly protectedPaths = new Set<string>();
  private estimatedBytes: number | undefined;
  private lastScanAt = 0;
  private running: Promise<void> | undefined;
  private rerun = false;

  private constructor(
    readonly dir: string,
    private maxBytes: number,
  ) {}

  /** Keeps `file` from being removed until {@link release}. */
  protect(file: string): void {
    this.protectedPaths.add(path.resolve(file));
  }

  release(file: string): void {
    this.protectedPaths.delete(path.resolve(file));
  }

  /**
   * Records `bytes` just written and removes old files when the store is over its cap. Resolves when
   * that is done; never rejects (a file that cannot be removed is left for the next round).
   */
  async noteWritten(bytes: number, now: number = Date.now()): Promise<void> {
    if (this.estimatedBytes !== undefined) this.estimatedBytes += bytes;
    const due = this.estimatedBytes === undefined || this.estimatedBytes > this.maxBytes || now - this.lastScanAt >= RESCAN_INTERVAL_MS;
    if (due) await this.enforce();
  }

  /** Scans the directory and removes the oldest files until the total fits. Concurrent calls share one scan. */
  enforce(): Promise<void> {
    if (this.running !== undefined) {
      this.rerun = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.rerun = false;
        await this.scanAndTrim().catch(() => undefined);
      } while (this.rerun);
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async scanAndTrim(): Promise<void> {
    this.lastScanAt = Date.now();
    const files = await listStoreFiles(this.dir);
    let total = files.reduce((sum, f) => sum + f.bytes, 0);
    if (total > this.maxBytes) {
      const keep = this.filesInUse(files);
      const units = new Map<string, StoreFile[]>();
      for (const f of files) {
        const unit = units.get(f.unit);
        if (unit === undefined) units.set(f.unit, [f]);
        else unit.push(f);
      }
      const removable = [...units.values()].filter((unit) => !unit.some((f) => keep.has(f.path)));
      const endOf = (unit: StoreFile[]): number => Math.max(...unit.map((f) => f.endTime));
      const startOf = (unit: StoreFile[]): number => Math.min(...unit.map((f) => f.time));
      removable.sort((a, b) => endOf(a) - endOf(b) || startOf(a) - startOf(b) || a[0]!.path.localeCompare(b[0]!.path));
      for (const unit of removable) {
        if (total <= this.maxBytes) break;
        // The index first: a spans file without its index is still read (whole); an index alone is not.
        unit.sort((a, b) => Number(b.path.includes('.roots.')) - Number(a.path.includes('.roots.')));
        for (const file of unit) {
          try {
            await fsp.unlink(file.path);
            total -= file.bytes;
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code === 'ENOENT') total -= file.bytes; // someone else removed it
          }
        }
      }
    }
    this.estimatedBytes = total;
  }

  private filesInUse(files: StoreFile[]): Set<string> {
    const keep = new Set(this.protectedPaths);
    const newestSpans = new Map<string, StoreFile>();
    for (const f of files) {
      if (f.spansWriter === undefined) continue;
      const newest = newestSpans.get(f.spansWriter);
      if (newest === undefined || f.time > newest.time) newestSpans.set(f.spansWriter, f);
    }
    for (const [writer, f] of newestSpans) {
      const pid = Number(writer.slice(writer.lastIndexOf('/') + 1));
      if (pid !== process.pid && isProcessAlive(pid)) {
        for (const g of files) if (g.unit === f.unit) keep.add(g.path);
      }
    }
    return keep;
  }
}

async function listStoreFiles(dir: string): Promise<StoreFile[]> {
  const files: StoreFile[] = [];
  let services: string[];
  try {
    services = (await fsp.readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return files;
  }
  for (const service of services) {
    let names: string[];
    try {
      names = await fsp.readdir(path.join(dir, service));
    } catch {
      continue;
    }
    for (const name of names) {
      const parsed = parseStoreFileName(name);
      if (parsed === undefined) continue;
      const file = path.join(dir, service, name);
      try {
        const stat = await fsp.lstat(file);
        if (!stat.isFile()) continue;
        const time = storeFileTime(parsed);
        const spansLike = parsed.type === 'spans' || parsed.type === 'roots';
        files.push({
          path: file,
          bytes: stat.size,
          time,
          endTime: spansLike ? Math.max(time, stat.mtimeMs) : parsed.untilMs,
          unit: spansLike ? `${service}/${formatStamp(parsed.startMs)}_${parsed.pid}` : file,
          spansWriter: spansLike ? `${service}/${parsed.pid}` : undefined,
        });
      } catch {
        // removed meanwhile
      }
    }
  }
  return files;
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
