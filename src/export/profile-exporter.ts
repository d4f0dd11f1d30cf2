/**
 * What the profiler hands to a destination, and what a destination promises in return. Every profile
 * destination (Pyroscope, the local store) implements {@link ProfileExporter}.
 */

/** The kind of data a profile holds; it decides how Pyroscope names the series. */
export type ProfileKind = 'cpu' | 'wall';

/** One finished, serialized profile for one upload interval. */
export interface EncodedProfile {
  /** `cpu`: sample types samples/count + cpu/nanoseconds, period cpu/nanoseconds (Pyroscope: process_cpu). */
  readonly kind: ProfileKind;
  /** The gzipped pprof protobuf. */
  readonly data: Buffer;
  /** Start of the interval the profile covers, Unix milliseconds. */
  readonly startMs: number;
  /** End of the interval the profile covers, Unix milliseconds. */
  readonly endMs: number;
  /** Number of pprof samples in the profile (after merging). */
  readonly sampleCount: number;
  /** The sampling interval the profile was taken at, microseconds. */
  readonly intervalMicros: number;
}

/** A destination for profiles. */
export interface ProfileExporter {
  /** Short name for diagnostics, e.g. `pyroscope http://localhost:4040`. Never contains secrets. */
  readonly description: string;
  /**
   * Accepts a profile. Must return at once: slow work (network, disk) happens in the background and
   * failures are reported through the agent's logger, never thrown to the caller.
   */
  export(profile: EncodedProfile): void;
  /** Delivers what is pending, giving up at `deadline` (a `Date.now()` value). Never rejects. */
  flush(deadline: number): Promise<void>;
  /** Flushes, then releases resources. Never rejects. Further `export` calls are dropped. */
  shutdown(deadline: number): Promise<void>;
}
