/**
 * Another sampling profiler in the process (dd-trace's profiler, @pyroscope/nodejs, or a second copy of
 * @datadog/pprof) fights ours for V8's CPU profiler and SIGPROF: samples double, or one of them fails to
 * start. The agent leaves the profiling to the other one and keeps tracing.
 */
import * as path from 'node:path';

/** Why another profiler is (or will be) active, or undefined. Never throws. */
export function detectOtherProfiler(env: NodeJS.ProcessEnv = process.env): string | undefined {
  try {
    const ddProfiling = env.DD_PROFILING_ENABLED?.trim().toLowerCase();
    if (ddProfiling === 'true' || ddProfiling === '1' || ddProfiling === 'auto') {
      return `dd-trace profiling is enabled (DD_PROFILING_ENABLED=${ddProfiling})`;
    }
    return otherProfilerInModules(Object.keys(require.cache));
  } catch {
    return undefined;
  }
}

/** Looks at loaded module paths for a profiler that is not ours. */
export function otherProfilerInModules(loadedPaths: readonly string[]): string | undefined {
  const ours = ownPprofDirectory();
  for (const file of loadedPaths) {
    const normalized = file.split(path.sep).join('/');
    if (normalized.includes('/node_modules/@pyroscope/nodejs/')) return '@pyroscope/nodejs is loaded';
    if (normalized.includes('/node_modules/dd-trace/packages/dd-trace/src/profiling/')) return "dd-trace's profiler is loaded";
    const at = normalized.lastIndexOf('/node_modules/@datadog/pprof/');
    if (at >= 0) {
      const dir = normalized.slice(0, at + '/node_modules/@datadog/pprof'.length);
      if (ours !== undefined && dir !== ours) return `another copy of @datadog/pprof is loaded (${dir})`;
    }
  }
  return undefined;
}

/**
 * Watches `require.cache` for a profiler loaded after the agent started, looking only at modules loaded
 * since the last look: at every profile cut, a fresh scan of every loaded path cost milliseconds of
 * event-loop time in an app with a few thousand modules.
 */
export class LoadedProfilerWatch {
  private readonly seen = new Set<string>();

  constructor(private readonly cache: Record<string, unknown> = require.cache) {}

  /** Why another profiler is now loaded, or undefined. */
  check(): string | undefined {
    const paths = Object.keys(this.cache);
    if (paths.length === this.seen.size && this.seen.has(paths[paths.length - 1])) return undefined;
    const fresh: string[] = [];
    for (const file of paths) {
      if (!this.seen.has(file)) {
        this.seen.add(file);
        fresh.push(file);
      }
    }
    // Paths removed from the cache (rare) stay in `seen`: the size test above then just rescans names.
    return fresh.length > 0 ? otherProfilerInModules(fresh) : undefined;
  }
}

let ownDirectory: string | undefined | null = null;

function ownPprofDirectory(): string | undefined {
  if (ownDirectory === null) {
    try {
      ownDirectory = path.dirname(require.resolve('@datadog/pprof/package.json')).split(path.sep).join('/');
    } catch {
      ownDirectory = undefined;
    }
  }
  return ownDirectory;
}
