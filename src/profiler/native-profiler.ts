/**
 * Loads the native sampler (@datadog/pprof) without letting a missing or broken addon reach the app:
 * when it cannot load, tracing still runs and the reason is reported once.
 */
import { describeError } from '../logger';
import type { TimeTree } from './raw-cut-builder';

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
      time: require('@datadog/pprof/out/src/time-profiler'),
      heap: require('@datadog/pprof/out/src/heap-profiler'),
    } as PprofModule;
    if (typeof samplers.time.start === 'function' && typeof samplers.time.stop === 'function' && typeof samplers.heap.start === 'function') {
      return samplers;
    }
  } catch {
    // Fall through: the index gives the error to report, or works where the layout differs.
  }
  return require('@datadog/pprof') as PprofModule;
}

/** What one stop of the sampler gave: V8's tree as pprof's native stop returns it, or pprof's own serialization. */
export type StoppedProfile = { tree: TimeTree } | { profile: import('pprof-format').Profile };

type Serialize = (tree: unknown, ...rest: unknown[]) => unknown;
type SerializerModule = { serializeTimeProfile: Serialize };

interface Capture {
  tree: unknown;
  rest: unknown[];
}

/** Set while {@link stopSampler} wants the tree instead of pprof's serialization. */
let capture: Capture | undefined;
let pprofSerialize: Serialize | undefined;
const CAPTURED = Object.freeze({ captured: true });
let hookInstalled: boolean | undefined;

/**
 * pprof's `time.stop()` is the native stop (V8's profile copied into a JS tree) followed by
 * `serializeTimeProfile`, synchronously, which was most of the cut's event-loop stall. We build the
 * profile from the tree ourselves, a slice at a time (raw-cut-builder.ts), so only the native part stays
 * synchronous. pprof's time profiler calls the serializer through its module's exports; while
 * {@link stopSampler} runs, that export hands the tree over instead of serializing it. Everyone else
 * (a later caller of pprof from the app) gets pprof's serializer unchanged.
 */
function installTreeHook(): boolean {
  if (hookInstalled !== undefined) return hookInstalled;
  hookInstalled = false;
  try {
    const serializer = require('@datadog/pprof/out/src/profile-serializer') as SerializerModule;
    const serialize = serializer.serializeTimeProfile;
    if (typeof serialize !== 'function') return false;
    pprofSerialize = serialize;
    serializer.serializeTimeProfile = function (this: unknown, tree: unknown, ...rest: unknown[]): unknown {
      if (capture !== undefined) {
        capture.tree = tree;
        capture.rest = rest;
        return CAPTURED;
      }
      return serialize.call(this, tree, ...rest);
    };
    hookInstalled = true;
  } catch {
    // Another layout: pprof serializes, as before.
  }
  return hookInstalled;
}

/**
 * Stops the sampler (restarting it at once with `restart`) and returns V8's tree, or, where this pprof
 * cannot hand it over, the profile pprof serialized with `generateLabels`. Throws what pprof throws.
 */
export function stopSampler(
  time: PprofModule['time'],
  restart: boolean,
  generateLabels: Parameters<PprofModule['time']['stop']>[1],
  lowCardinalityLabels: string[],
): StoppedProfile {
  if (!installTreeHook()) return { profile: time.stop(restart, generateLabels, lowCardinalityLabels) };
  const box: Capture = { tree: undefined, rest: [] };
  capture = box;
  let result: unknown;
  try {
    result = time.stop(restart, generateLabels, lowCardinalityLabels);
  } finally {
    capture = undefined;
  }
  if (result !== CAPTURED) {
    // The hook did not take (pprof changed): what stop returned is its own serialization, labels included.
    return { profile: result as import('pprof-format').Profile };
  }
  if (isTimeTree(box.tree)) return { tree: box.tree };
  // A tree we do not know: pprof serializes it, with the arguments it gave.
  return { profile: pprofSerialize!(box.tree, ...box.rest) as import('pprof-format').Profile };
}

function isTimeTree(value: unknown): value is TimeTree {
  const tree = value as TimeTree | undefined;
  return typeof tree === 'object' && tree !== null && typeof tree.startTime === 'number' && Array.isArray(tree.topDownRoot?.children);
}
