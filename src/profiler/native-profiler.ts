/**
 * Loads the native sampler (@datadog/pprof) without letting a missing or broken addon reach the app:
 * when it cannot load, tracing still runs and the reason is reported once.
 */
import { describeError } from '../logger';

export type PprofModule = typeof import('@datadog/pprof');

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
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      pprof = require('@datadog/pprof') as PprofModule;
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
