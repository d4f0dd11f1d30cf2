/**
 * Writes each profile (cpu, wall, heap) to the local store as `<dir>/<service>/<from>_<until>_<pid>.<kind>.pb.gz`:
 * first to `<name>.tmp`, then renamed, so a reader never sees half a file under its final name.
 * Writes run one at a time in the background; the profiler never waits on the disk.
 */

import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { EncodedProfile, HeapCut, ProfileCut, ProfileExporter } from '../export/profile-exporter';
import { encodeHeapCut } from '../profiler/heap-profiler';
import { isIdleProfile } from '../profiler/idle-profile';
import { buildProfilesOfCut } from '../profiler/profile-builder';
import { profileFileName, serviceDirName, TEMP_SUFFIX } from './layout';
import { StoreSizeCap } from './size-cap';
import { makeStoreDirectory, reportStoreWriteFailure } from './write-failure';

/** Profiles waiting for the disk beyond this are dropped (the disk is stuck; memory must not grow). */
const MAX_PENDING_WRITES = 8;

export interface ProfileStoreOptions {
  /** The store directory (SPAN_PROFILES_DIR). Created when missing. */
  dir: string;
  /** The service the profiles belong to; its sanitized form names the subdirectory. */
  serviceName: string;
  /** Size cap of the whole store directory, bytes. */
  maxBytes: number;
}

/** Counters for diagnostics and tests. */
export interface StoreWriteStats {
  written: number;
  dropped: number;
}

/** A {@link ProfileExporter} into the local store. */
export class ProfileStoreExporter implements ProfileExporter {
  readonly description: string;
  private readonly dir: string;
  private readonly serviceDir: string;
  private readonly sizeCap: StoreSizeCap;
  private queue: Promise<void> = Promise.resolve();
  private pending = 0;
  private closed = false;
  private serviceDirReady = false;
  private readonly counters: StoreWriteStats = { written: 0, dropped: 0 };

  constructor(options: ProfileStoreOptions) {
    this.dir = path.resolve(options.dir);
    this.serviceDir = path.join(this.dir, serviceDirName(options.serviceName));
    this.sizeCap = StoreSizeCap.for(this.dir, options.maxBytes);
    this.description = `local store ${this.serviceDir}`;
  }

  /** Profiles written and dropped (unwritable or full directory, or a stuck disk) so far. */
  get stats(): Readonly<StoreWriteStats> {
    return { ...this.counters };
  }

  /** Shapes `cut` for the store and writes it, in the background and in order. */
  export(cut: ProfileCut): void {
    this.schedule(() => this.writeCut(cut));
  }

  /** Writes a heap profile as `<from>_<until>_<pid>.heap.pb.gz`, in order with the cuts. */
  exportHeap(cut: HeapCut): void {
    this.schedule(async () => {
      let profile: EncodedProfile;
      try {
        profile = await encodeHeapCut(cut);
      } catch (error) {
        this.counters.dropped++;
        reportStoreWriteFailure(this.dir, 'a heap profile', error);
        return;
      }
      await this.write(profile);
    });
  }

  /** Writes one already built profile, in order with the cuts. */
  enqueue(profile: EncodedProfile): void {
    this.schedule(() => this.write(profile));
  }

  private schedule(work: () => Promise<void>): void {
    if (this.closed) {
      this.counters.dropped++;
      return;
    }
    if (this.pending >= MAX_PENDING_WRITES) {
      this.counters.dropped++;
      reportStoreWriteFailure(this.dir, 'a profile', Object.assign(new Error('writes are not completing'), { code: 'EBUSY' }));
      return;
    }
    this.pending++;
    this.queue = this.queue.then(work).finally(() => {
      this.pending--;
    });
  }

  async flush(deadline: number): Promise<void> {
    await untilOrDeadline(this.queue, deadline);
  }

  async shutdown(deadline: number): Promise<void> {
    await this.flush(deadline);
    this.closed = true;
  }

  /** Never rejects: a failure is logged and counted. */
  private async writeCut(cut: ProfileCut): Promise<void> {
    // An idle interval leaves no file (only the idle ticks and background threads' few ms are dropped).
    if (isIdleProfile(cut.raw)) return;
    let profiles: EncodedProfile[];
    try {
      profiles = await buildProfilesOfCut(cut);
    } catch (error) {
      this.counters.dropped++;
      reportStoreWriteFailure(this.dir, 'a profile', error);
      return;
    }
    for (const profile of profiles) await this.write(profile);
  }

  /** Never rejects: a failure is logged and counted. */
  private async write(profile: EncodedProfile): Promise<void> {
    const finalPath = path.join(this.serviceDir, profileFileName(profile.kind, profile.startMs, profile.endMs, process.pid));
    const tempPath = finalPath + TEMP_SUFFIX;
    try {
      if (!this.serviceDirReady) {
        await makeStoreDirectory(this.serviceDir);
        this.serviceDirReady = true;
      }
      await fsp.writeFile(tempPath, profile.data);
      await fsp.rename(tempPath, finalPath);
      this.counters.written++;
    } catch (error) {
      this.serviceDirReady = false; // it may have been removed: try again next time
      this.counters.dropped++;
      await fsp.rm(tempPath, { force: true }).catch(() => undefined);
      reportStoreWriteFailure(this.dir, `a ${profile.kind} profile`, error);
      return;
    }
    await this.sizeCap.noteWritten(profile.data.length);
  }
}

/** Resolves when `work` settles or at `deadline` (a Date.now() value), whichever is first. */
export async function untilOrDeadline(work: Promise<unknown>, deadline: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
    timer.unref();
  });
  try {
    await Promise.race([work.then(() => undefined, () => undefined), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
