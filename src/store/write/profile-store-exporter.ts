/**
 * Writes each profile (cpu, wall, heap) to the local store as `<dir>/<service>/<from>_<until>_<pid>.<kind>.pb.gz`:
 * first to `<name>.tmp`, then renamed, so a reader never sees half a file under its final name.
 * Writes run one at a time in the background; the profiler never waits on the disk.
 */

import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import type { EncodedProfile, HeapCut, ProfileCut, ProfileExporter } from '../../export/profile-exporter';
import { encodeHeapCut } from '../../profiler/heap-profiler';
import { isIdleProfile } from '../../profiler/idle-profile';
import { buildProfilesOfCut } from '../../profiler/profile-builder';
import { EventLoopDelayRecorder, eventLoopDelayToOtlpJson, type EventLoopDelayPoint } from '../event-loop-delay';
import { loopFileName, profileFileName, serviceDirName, TEMP_SUFFIX } from '../layout';
import { StoreSizeCap } from './size-cap';
import { makeStoreDirectory, reportStoreWriteFailure } from './write-failure';

const gzip = promisify(gzipCallback);

/** Profiles waiting for the disk beyond this are dropped (the disk is stuck; memory must not grow). */
const MAX_PENDING_WRITES = 8;

export interface ProfileStoreOptions {
  /** The store directory (SPAN_PROFILES_DIR). Created when missing. */
  dir: string;
  /** The service the profiles belong to; its sanitized form names the subdirectory. */
  serviceName: string;
  /** Size cap of the whole store directory, bytes. */
  maxBytes: number;
  /** Record the event-loop delay and write it beside each cut's profiles (default true). */
  eventLoopDelay?: boolean;
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
  private readonly serviceName: string;
  private readonly loopDelay: EventLoopDelayRecorder | undefined;

  constructor(options: ProfileStoreOptions) {
    this.dir = path.resolve(options.dir);
    this.serviceName = options.serviceName;
    this.serviceDir = path.join(this.dir, serviceDirName(options.serviceName));
    this.sizeCap = StoreSizeCap.for(this.dir, options.maxBytes);
    this.description = `local store ${this.serviceDir}`;
    if (options.eventLoopDelay !== false) {
      const recorder = new EventLoopDelayRecorder();
      this.loopDelay = recorder.start() ? recorder : undefined;
    }
  }

  /** Profiles written and dropped (unwritable or full directory, or a stuck disk) so far. */
  get stats(): Readonly<StoreWriteStats> {
    return { ...this.counters };
  }

  /** Shapes `cut` for the store and writes it, in the background and in order. */
  export(cut: ProfileCut): void {
    // Asked for now, on the cut's turn: the points belong to the interval just cut (closed a turn or two
    // later, once the monitor has seen the loop up to now).
    const loopPoints = this.loopDelay?.drain() ?? Promise.resolve([]);
    // The delay first: a reader that sees the cut's profile sees its delay file complete too.
    this.schedule(async () => {
      const points = await loopPoints;
      // An idle interval leaves no file at all (only the idle ticks and background threads' few ms, and a
      // quiet event loop's delay, are dropped). The points were drained when the cut was exported, which
      // waits for the names of spans running at the cut (up to MAX_NAME_WAIT_MS): those that ended after the
      // cut are a later, maybe busy, interval's and go with the next cut.
      if (isIdleProfile(cut.raw)) {
        this.loopDelay?.keep(points.filter((point) => point.timeMs > cut.endMs));
        return;
      }
      if (points.length > 0) await this.writeLoopDelay(points, cut.startMs, cut.endMs);
      await this.writeCut(cut);
    });
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
    this.loopDelay?.stop();
    await this.flush(deadline);
    this.closed = true;
  }

  /** The event-loop delay of one interval, as gzipped OTLP/JSON metrics. Never rejects. */
  private async writeLoopDelay(points: EventLoopDelayPoint[], fromMs: number, untilMs: number): Promise<void> {
    let data: Buffer;
    try {
      data = await gzip(eventLoopDelayToOtlpJson(points, this.serviceName, process.pid));
    } catch {
      return;
    }
    await this.writeFile(loopFileName(fromMs, untilMs, process.pid), data, 'the event-loop delay');
  }

  /** Never rejects: a failure is logged and counted. */
  private async writeCut(cut: ProfileCut): Promise<void> {
    let profiles: EncodedProfile[];
    try {
      // The store keeps each sample's time (the breakdown of a request's duration needs it); Pyroscope
      // uploads are shaped by their own exporter and keep merging.
      profiles = await buildProfilesOfCut(cut, { keepSampleTimes: true });
    } catch (error) {
      this.counters.dropped++;
      reportStoreWriteFailure(this.dir, 'a profile', error);
      return;
    }
    for (const profile of profiles) await this.write(profile);
  }

  /** Never rejects: a failure is logged and counted. */
  private async write(profile: EncodedProfile): Promise<void> {
    await this.writeFile(profileFileName(profile.kind, profile.startMs, profile.endMs, process.pid), profile.data, `a ${profile.kind} profile`, true);
  }

  /** Writes `data` as `name` in the service directory (temp file, then rename). Never rejects. */
  private async writeFile(name: string, data: Buffer, what: string, counted = false): Promise<void> {
    const finalPath = path.join(this.serviceDir, name);
    const tempPath = finalPath + TEMP_SUFFIX;
    try {
      if (!this.serviceDirReady) {
        await makeStoreDirectory(this.serviceDir);
        this.serviceDirReady = true;
      }
      await fsp.writeFile(tempPath, data);
      await fsp.rename(tempPath, finalPath);
      if (counted) this.counters.written++;
    } catch (error) {
      this.serviceDirReady = false; // it may have been removed: try again next time
      if (counted) this.counters.dropped++;
      await fsp.rm(tempPath, { force: true }).catch(() => undefined);
      reportStoreWriteFailure(this.dir, what, error);
      return;
    }
    await this.sizeCap.noteWritten(data.length);
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
