/**
 * The profile wire format: what a CPU profile sample carries between the agent that writes it (the
 * profiler's cut, the Pyroscope and OTLP uploads, the local store) and the command that reads it back.
 * The label keys, the CPU/wall and heap sample types, the synthetic frames and the one rule for finding
 * a value column live here, so a writer and a reader cannot drift apart.
 */
import type { Profile } from 'pprof-format';

/** Label key: the span id (16 hex digits) of the span that was running; on local roots, also its profile id. */
export const SPAN_ID_LABEL = 'span_id';
/**
 * Span attribute: set on local root spans (and, with OTEL_PYROSCOPE_ROOT_SPAN_ONLY=false, on every span) to the
 * span's own id, which its CPU samples carry as {@link SPAN_ID_LABEL}. Grafana's traces-to-profiles link reads it.
 */
export const PROFILE_ID_ATTRIBUTE = 'pyroscope.profile.id';
/** Label key: the trace id (32 hex digits) of that span. */
export const TRACE_ID_LABEL = 'trace_id';
/** Label key: the span's final name (added late for spans still running when a profile is cut). */
export const SPAN_NAME_LABEL = 'span_name';
/** The labels that link a sample to its span, most essential first. */
export const SPAN_LABEL_KEYS: readonly string[] = [SPAN_ID_LABEL, TRACE_ID_LABEL, SPAN_NAME_LABEL];

/**
 * Numeric label on every raw sample: when the sample was taken, Unix nanoseconds. Destinations that
 * merge samples (Pyroscope) drop it; `buildProfiles` drops it unless asked to keep it (the store keeps it).
 */
export const SAMPLE_TIME_LABEL = 'end_timestamp_ns';

/** Root frame of the CPU no tick of the sampler saw (between samples, non-JS threads): in no span. */
export const UNSAMPLED_CPU_FRAME = '(CPU between samples)';
/** Root frame of samples taken in a span's context after the span ended: not charged to the span. */
export const AFTER_SPAN_ENDED_FRAME = '(after its span ended)';

/** A pprof value type as type/unit strings. */
export interface SampleType {
  readonly type: string;
  readonly unit: string;
}

/** The sample types of the CPU and wall profiles the agent writes: a tick count, then the time. */
export const COUNT_SAMPLE_TYPE: SampleType = { type: 'samples', unit: 'count' };
export const CPU_SAMPLE_TYPE: SampleType = { type: 'cpu', unit: 'nanoseconds' };
export const WALL_SAMPLE_TYPE: SampleType = { type: 'wall', unit: 'nanoseconds' };

/** Index of each value in a sample's `value` array; -1 when the profile lacks it. */
export interface ValueColumns {
  readonly count: number;
  readonly wall: number;
  readonly cpu: number;
}

/**
 * Where a CPU/wall profile keeps each value of a sample, for the raw @datadog/pprof cut (`sample/count`,
 * `samples/count` in older versions) and for what the agent writes (`samples/count`) alike: the tick count,
 * wall time and CPU time, each the first column of its type and unit.
 */
export function valueColumns(profile: Profile): ValueColumns {
  const strings = profile.stringTable.strings;
  let count = -1;
  let wall = -1;
  let cpu = -1;
  profile.sampleType.forEach((valueType, index) => {
    const type = strings[Number(valueType.type)];
    const unit = strings[Number(valueType.unit)];
    if ((type === 'sample' || type === COUNT_SAMPLE_TYPE.type) && unit === COUNT_SAMPLE_TYPE.unit) {
      if (count < 0) count = index;
    } else if (type === WALL_SAMPLE_TYPE.type && unit === WALL_SAMPLE_TYPE.unit) {
      if (wall < 0) wall = index;
    } else if (type === CPU_SAMPLE_TYPE.type && unit === CPU_SAMPLE_TYPE.unit) {
      if (cpu < 0) cpu = index;
    }
  });
  return { count, wall, cpu };
}

/** Heap sample types as the agent writes them: Go's and Grafana's names (Pyroscope: `memory:inuse_*`). */
export const HEAP_SPACE_TYPE = 'inuse_space';
export const HEAP_OBJECTS_TYPE = 'inuse_objects';
/** The heap profile's period type: Grafana's memory profile types end in `space:bytes`. */
export const HEAP_PERIOD_TYPE: SampleType = { type: 'space', unit: 'bytes' };
/** Older @datadog/pprof releases name the heap sample types `objects`/`space`: the names the agent writes instead. */
export const HEAP_TYPE_RENAMES: Readonly<Record<string, string>> = { objects: HEAP_OBJECTS_TYPE, space: HEAP_SPACE_TYPE };

/** Index of each value in a heap sample's `value` array; -1 when the profile lacks it. */
export interface HeapColumns {
  readonly space: number;
  readonly objects: number;
}

/** Where a heap profile keeps in-use bytes and objects: the first column of each, by the agent's or pprof's older name. */
export function heapColumns(profile: Profile): HeapColumns {
  const strings = profile.stringTable.strings;
  const types = profile.sampleType.map((t) => strings[Number(t.type)] ?? '');
  return {
    space: types.findIndex((t) => t === HEAP_SPACE_TYPE || t === 'space'),
    objects: types.findIndex((t) => t === HEAP_OBJECTS_TYPE || t === 'objects'),
  };
}
