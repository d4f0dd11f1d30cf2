/**
 * What the profiler hands to a destination, and what a destination promises in return. Every profile
 * destination (Pyroscope, the local store) implements {@link ProfileExporter}. The profiler hands over
 * the raw cut; each destination shapes it by its own rules (which labels, merged or per sample, which
 * limits), usually through `buildProfiles`.
 */

import type { Profile } from 'pprof-format';

/** The kind of data a profile holds; it decides how Pyroscope names the series. */
export type ProfileKind = 'cpu' | 'wall' | 'heap';

/** One cut of the profiler: the raw samples of one interval, before any destination shapes them. */
export interface ProfileCut {
  /**
   * The raw @datadog/pprof time profile: one sample per labelled tick, each with its span labels and
   * the sample-time label (`SAMPLE_TIME_LABEL`, profile-format.ts); late span names already applied. Shared by every destination: read it,
   * never change it.
   */
  readonly raw: Profile;
  /** Start of the interval, Unix milliseconds. */
  readonly startMs: number;
  /** End of the interval, Unix milliseconds. */
  readonly endMs: number;
  /** The sampling interval the profiler ran at, microseconds. */
  readonly intervalMicros: number;
  /** Whether the user asked for the wall-time profile too. */
  readonly wall: boolean;
}

/**
 * One heap profile: what V8's sampling heap profiler holds live at the end of an interval. Heap samples
 * carry no span labels (an allocation outlives the request that made it), so every destination sends
 * it as it is: see `encodeHeapCut` in profiler/heap-profiler.ts.
 */
export interface HeapCut {
  /**
   * The @datadog/pprof heap profile, frames symbolized, sample types named as Pyroscope and Go name
   * them: `inuse_objects/count`, `inuse_space/bytes`, period `space/bytes`. Shared: never change it.
   */
  readonly raw: Profile;
  /** Start of the interval, Unix milliseconds. */
  readonly startMs: number;
  /** End of the interval (when the snapshot was taken), Unix milliseconds. */
  readonly endMs: number;
  /** Average bytes allocated between two samples. */
  readonly intervalBytes: number;
}

/** One finished, serialized profile for one upload interval. */
export interface EncodedProfile {
  /**
   * `cpu`: sample types samples/count + cpu/nanoseconds, period cpu/nanoseconds (Pyroscope: process_cpu).
   * `heap`: inuse_objects/count + inuse_space/bytes, period space/bytes (Pyroscope: memory).
   */
  readonly kind: ProfileKind;
  /** The gzipped pprof protobuf. */
  readonly data: Buffer;
  /** Start of the interval the profile covers, Unix milliseconds. */
  readonly startMs: number;
  /** End of the interval the profile covers, Unix milliseconds. */
  readonly endMs: number;
  /** Number of pprof samples in the profile (after merging). */
  readonly sampleCount: number;
  /** The sampling interval the profile was taken at, microseconds; 0 for heap profiles. */
  readonly intervalMicros: number;
}

/** A destination for profiles. */
export interface ProfileExporter {
  /** Short name for diagnostics, e.g. `pyroscope http://localhost:4040`. Never contains secrets. */
  readonly description: string;
  /**
   * Accepts one cut. Must return at once: shaping, encoding and slow work (network, disk) happen in the
   * background and failures are reported through the agent's logger, never thrown to the caller.
   */
  export(cut: ProfileCut): void;
  /**
   * Accepts one heap profile, under the same rules as `export`. Optional: a destination without it
   * receives no heap profiles.
   */
  exportHeap?(cut: HeapCut): void;
  /** Delivers what is pending, giving up at `deadline` (a `Date.now()` value). Never rejects. */
  flush(deadline: number): Promise<void>;
  /** Flushes, then releases resources. Never rejects. Further `export` calls are dropped. */
  shutdown(deadline: number): Promise<void>;
}
