'use strict';
// Preload for bench/ab/cpu-ab.mjs (SWITCHES=1): the context switches of the measured load, per request:
// OpenTelemetry's `enterWith` calls (each a new AsyncContextFrame; under the agent including the context
// binding's work) and the time spent in them, and @datadog/pprof's native `time.setContext` calls (each a
// holder, a C++ record, a strong and a weak handle) with their time. Both are wrapped at the first SIGUSR1
// (the end of the warm-up, when the agent's binding has wrapped `enterWith` already, so its work is inside
// the timing); the second writes SWITCH_OUT as JSON. hrtime adds ~0.1-0.2 µs per timed call. Nothing is
// loaded that the app did not load (the profiler's module is taken from the require cache).
const http = require('node:http');

let requests = 0;
const emit = http.Server.prototype.emit;
http.Server.prototype.emit = function (event, ...args) {
  if (event === 'request') requests++;
  return emit.call(this, event, ...args);
};

const now = process.hrtime.bigint;
const counts = { enterWith: 0, enterWithNs: 0n, nativeSets: 0, nativeSetNs: 0n };

function timed(target, method, count, ns) {
  const original = target[method];
  target[method] = function (...args) {
    counts[count]++;
    const t0 = now();
    try {
      return original.apply(this, args);
    } finally {
      counts[ns] += now() - t0;
    }
  };
}

let started = false;
process.on('SIGUSR1', () => {
  if (!started) {
    started = true;
    const storage = globalThis[Symbol.for('opentelemetry.js.api.1')]?.context?._asyncLocalStorage;
    if (storage && typeof storage.enterWith === 'function') timed(storage, 'enterWith', 'enterWith', 'enterWithNs');
    const profiler = Object.keys(require.cache).find((file) => file.endsWith('/@datadog/pprof/out/src/time-profiler.js'));
    if (profiler) timed(require.cache[profiler].exports, 'setContext', 'nativeSets', 'nativeSetNs');
    requests = 0;
    return;
  }
  const per = (n) => n / requests;
  require('node:fs').writeFileSync(
    process.env.SWITCH_OUT,
    JSON.stringify({
      enterWith: per(counts.enterWith),
      enterWithUs: per(Number(counts.enterWithNs) / 1000),
      nativeSets: per(counts.nativeSets),
      nativeSetUs: per(Number(counts.nativeSetNs) / 1000),
    }),
  );
});
