/**
 * Loads the native sampler (@datadog/pprof) without letting a missing or broken addon reach the app:
 * when it cannot load, tracing still runs and the reason is reported once.
 */
import { describeError } from '../logger';

/** The two samplers the agent uses, as the package's index exports them. */
export type PprofModule = Pick<typeof import('@datadog/pprof'), 'time' | 'heap'>;

export type NativeProfilerLoad = { ok: true; pprof: PprofModule } | { ok: false; reason: string };

let cached: NativeProfilerLoad | undefined;

/** Requires @datadog/pprof once; never throws. */
export function loadNativeProfiler(): NativeProfilerLoad {
  if (cached) return cached;
  try {
    // pprof reads `module.parent` at load (DEP0144): with --pending-deprecation that would be a warning
    // in the app's output, and with --throw-deprecation a crash. Silence deprecations for this require only.
    const noDeprecation = process.noDeprecation;
    process.noDeprecation = true;
    let pprof: PprofModule;
    try {
      pprof = requireSamplers();
    } finally {
      process.noDeprecation = noDeprecation;
    }
    if (process.platform === 'win32') {
      cached = { ok: false, reason: 'CPU profiling with span labels needs SIGPROF, which Windows does not have' };
    } else {
      cached = { ok: true, pprof };
    }
  } catch (err) {
    const detail = describeError(err).split('\n')[0];
    cached = {
      ok: false,
      reason:
        `the native profiler (@datadog/pprof) did not load for ${process.platform}-${process.arch}, ` +
        `Node ABI ${process.versions.modules}: ${detail}`,
    };
  }
  return cached;
}

/**
 * Only the two samplers we use. The package's index also loads its source mapper (the `source-map`
 * package), its profile encoder and the OpenTelemetry thread context, none of which the agent calls: a
 * short-lived process would pay for them at start-up. The index re-exports these two modules' functions
 * unchanged; if a later version moves them, the index is the fallback (and reports the same load error).
 */
function requireSamplers(): PprofModule {
  let samplers: PprofModule;
  try {
    samplers = {
      time: require('@datadog/pprof/out/src/time-profiler') as typeof import('@datadog/pprof/out/src/time-profiler'),
      heap: require('@datadog/pprof/out/src/heap-profiler') as typeof import('@datadog/pprof/out/src/heap-profiler'),
    };
    if (typeof samplers.time.start === 'function' && typeof samplers.time.stop === 'function' && typeof samplers.heap.start === 'function') {
      return samplers;
    }
  } catch {
    // Fall through: the index gives the error to report, or works where the layout differs.
  }
  return require('@datadog/pprof') as typeof import('@datadog/pprof');
}
