/**
 * Profiling: whether the profiler runs and how (sampling, what it labels, wall, heap, source maps). It
 * runs when asked to (OTEL_PYROSCOPE_START_PROFILING) and profiles have somewhere to go.
 */
import type { Warnings } from './parse';
import type { AgentConfig } from './types';
import type { Values, VariableName } from './variables';

/** The profiling part of the config: off when not asked for, or with nowhere for profiles to go (then with a warning). */
export function profiling(
  values: Values,
  destinations: AgentConfig['profiles'],
  /** Whether the variable is in the environment with a non-empty value (valid or not). */
  given: (name: VariableName) => boolean,
  warnings: Warnings,
): AgentConfig['profiling'] {
  let enabled = values.OTEL_PYROSCOPE_START_PROFILING;
  if (destinations.none) enabled = false;
  else if (destinations.exporters.length === 0 && enabled) {
    warnings.add(
      undefined,
      values.SPAN_PROFILES_STORE === 'never' && values.PYROSCOPE_SERVER_ADDRESS === undefined && !given('OTEL_PROFILES_EXPORTER')
        ? 'SPAN_PROFILES_STORE="never" and no PYROSCOPE_SERVER_ADDRESS: profiles have nowhere to go; the profiler stays off'
        : 'no profile destination is left (see the warnings above): profiles have nowhere to go; the profiler stays off',
    );
    enabled = false;
  }
  return {
    enabled,
    rootSpanOnly: values.OTEL_PYROSCOPE_ROOT_SPAN_ONLY,
    addSpanName: values.OTEL_PYROSCOPE_ADD_SPAN_NAME,
    samplingIntervalMicros: values.PYROSCOPE_PROFILING_INTERVAL * 1000,
    uploadIntervalMs: values.PYROSCOPE_UPLOAD_INTERVAL,
    wall: values.SPAN_PROFILES_WALL,
    sourceMaps: values.SPAN_PROFILES_SOURCE_MAPS,
    heap: {
      enabled: values.SPAN_PROFILES_HEAP,
      samplingIntervalBytes: values.PYROSCOPE_HEAP_SAMPLING_INTERVAL_BYTES,
      stackDepth: values.PYROSCOPE_HEAP_STACK_DEPTH,
    },
  };
}
