// Shared by the reliability tests (faults-*, shutdown-*, processes-*, matrix-*, bad-input-e2e):
// a steady load generator, the agent's lines on stderr, and the guarded fixture's fault record.
import assert from 'node:assert/strict';
import { startOtlpReceiver } from './otlp-receiver.mjs';
import { startPyroscopeReceiver } from './pyroscope-receiver.mjs';
import { httpRequest, spawnApp } from './spawn-app.mjs';
import { waitUntil } from './wait-for.mjs';

/** The guarded fixture (fixtures/guarded-app): records uncaught exceptions, rejections, warnings. */
export const GUARDED_APP = 'fixtures/guarded-app/index.js';

/**
 * Keeps `concurrency` request loops running against the app until stop(). Each loop cycles through
 * `paths`; a request that is not answered 200 (or fails) is recorded. stop() resolves with
 * { total, byPath, failures: [{path, status?, error?}] } once the loops have finished.
 */
export function startLoad(app, { paths = ['/cpu?ms=3', '/slow?ms=10', '/'], concurrency = 2, timeoutMs = 10000 } = {}) {
  let stopped = false;
  const result = { total: 0, byPath: {}, failures: [] };
  const loop = async (offset) => {
    for (let i = offset; !stopped; i++) {
      const requestPath = paths[i % paths.length];
      try {
        const response = await httpRequest(`http://127.0.0.1:${app.port}${requestPath}`, { timeoutMs });
        if (response.status !== 200) result.failures.push({ path: requestPath, status: response.status });
      } catch (err) {
        result.failures.push({ path: requestPath, error: err.message });
        if (app.child.exitCode !== null || app.child.signalCode !== null) return;
      }
      result.total++;
      result.byPath[requestPath] = (result.byPath[requestPath] ?? 0) + 1;
    }
  };
  const loops = Array.from({ length: concurrency }, (_, i) => loop(i));
  return {
    get total() {
      return result.total;
    },
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return result;
    },
  };
}

/** Asserts that a stopped load saw only 200s and did real work. */
export function assertAllServed(load, { atLeast = 20 } = {}) {
  assert.deepEqual(load.failures.slice(0, 5), [], `every request is answered 200 (${load.failures.length} of ${load.total} failed)`);
  assert.ok(load.total >= atLeast, `the load ran (${load.total} requests, expected at least ${atLeast})`);
}

/** The agent's own stderr lines: `[span-profiles] ...` (continuation lines of a block excluded). */
export function agentLines(stderr) {
  return stderr.split('\n').filter((line) => line.startsWith('[span-profiles]'));
}

/** GET a JSON route of the app. */
export async function getJson(app, requestPath) {
  const response = await app.request(requestPath);
  assert.equal(response.status, 200, `${requestPath} answers 200`);
  return response.json();
}

/** What the guarded fixture recorded: { uncaughtExceptions, unhandledRejections, warnings, exceptionMonitor }. */
export const faultsOf = (app) => getJson(app, '/agent-faults');

/** Asserts that no exception, rejection or process warning reached the guarded fixture. */
export async function assertNoFaultsReachedApp(app) {
  const faults = await faultsOf(app);
  const summary = JSON.stringify(faults, null, 2);
  assert.deepEqual(faults.uncaughtExceptions, [], `no uncaught exception reached the app: ${summary}`);
  assert.deepEqual(faults.unhandledRejections, [], `no unhandled rejection reached the app: ${summary}`);
  assert.deepEqual(faults.warnings, [], `no process warning was emitted: ${summary}`);
  assert.deepEqual(faults.exceptionMonitor, [], `no exception was monitored: ${summary}`);
}

/** The agent's profiler and destination counters as the guarded fixture reads them. */
export const agentStatsOf = (app) => getJson(app, '/agent-stats');

/** The app's RSS in bytes. */
export async function rssOf(app) {
  return (await getJson(app, '/memory')).rss;
}

/** Waits until the agent (read through /agent-stats) satisfies `predicate`; resolves with the stats. */
export function waitForAgentStats(app, predicate, { timeoutMs = 20000, what = 'agent stats' } = {}) {
  let last;
  return waitUntil(
    async () => {
      last = await agentStatsOf(app);
      return predicate(last) ? last : undefined;
    },
    { timeoutMs, intervalMs: 100, what: `${what} (last: ${JSON.stringify(last)})` },
  );
}

/** Unix seconds now, as the ingest `from`/`until` parameters count. */
export const unixSeconds = (ms = Date.now()) => Math.floor(ms / 1000);

/** Span ids of every labelled sample of an upload. */
export function labelledSpanIds(upload) {
  return new Set(upload.samples.map((s) => s.labels.span_id).filter(Boolean));
}

/** When an upload's profile starts and ends, in ms (from the pprof timeNanos/durationNanos). */
export function profileWindowMs(upload) {
  const start = Number(upload.timeNanos / 1_000_000n);
  return { start, end: start + Number(upload.durationNanos / 1_000_000n) };
}

/** Sum of (heapUsed + arrayBuffers) after a full GC: what the process retains (app run with --expose-gc). */
export async function retainedBytesOf(app) {
  const memory = await getJson(app, '/memory?gc=1');
  return { retained: memory.heapUsed + memory.arrayBuffers, rss: memory.rss };
}

const MIB = 1024 * 1024;
/** Retained memory may grow this much during a fault: the profile queue holds a few profiles of tens of KiB. */
export const RETAINED_GROWTH_LIMIT = 8 * MIB;

/** The upload queue size the fault tests configure (SPAN_PROFILES_UPLOAD_QUEUE). */
export const FAULT_QUEUE_SIZE = 3;
/** Attempts per profile (DEFAULT_RETRY_POLICY.maxAttempts in src/export/upload-queue.ts). */
export const UPLOAD_ATTEMPTS = 4;

/**
 * The guarded app under the agent, with a local Pyroscope and OTLP receiver (closed when the test ends),
 * profiles cut every second; `env` adds or overrides variables.
 */
export async function startGuardedAppWithBackends(t, env = {}) {
  const pyroscope = await startPyroscopeReceiver();
  const otlp = await startOtlpReceiver();
  t.after(() => Promise.all([pyroscope.close(), otlp.close()]));
  const app = await spawnApp({
    app: GUARDED_APP,
    args: ['--expose-gc'],
    env: {
      PYROSCOPE_SERVER_ADDRESS: pyroscope.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      PYROSCOPE_UPLOAD_INTERVAL: '1s',
      SPAN_PROFILES_HEAP: undefined, // the agent's default (heap profiles on): faults hit both kinds
      ...env,
    },
  });
  return { pyroscope, otlp, app };
}

/**
 * One Pyroscope fault, end to end: the guarded fixture under steady load sends profiles every second
 * to a Pyroscope receiver (spans to an OTLP receiver); the receiver switches to `mode` ('refuse',
 * 'hang' or a status code) until the agent has lived through the fault (`retryable`: the queue
 * overflowed twice; otherwise three profiles were refused), then comes back. Checks: every request
 * 200, nothing reached the app, the queue never held more than its cap (+1 in flight), dropped and
 * failed profiles counted, retained memory bounded, no retry storm, few rate-limited warnings
 * mentioning `reason`, spans unaffected, and after recovery the queued profiles (retryable faults)
 * and fresh ones delivered.
 */
export async function runPyroscopeFault(t, { mode, retryable, reason }) {
  const { pyroscope, otlp, app } = await startGuardedAppWithBackends(t, {
    SPAN_PROFILES_UPLOAD_QUEUE: String(FAULT_QUEUE_SIZE),
    SPAN_PROFILES_UPLOAD_TIMEOUT: '1s',
    OTEL_BSP_SCHEDULE_DELAY: '500',
  });
  const load = startLoad(app);
  try {
    await pyroscope.waitForUploads((uploads) => uploads.length >= 1);
    const before = await agentStatsOf(app);
    assert.equal(before.exporters?.length, 1, `one destination, Pyroscope: ${JSON.stringify(before)}`);
    const memoryBefore = await retainedBytesOf(app);

    await pyroscope.respondWith(mode);
    const faultAt = Date.now();
    const requestsAtFault = pyroscope.requests.length;
    const spansAtFault = otlp.spans.length;
    let mostPending = 0;
    const during = await waitForAgentStats(
      app,
      (stats) => {
        const exporter = stats.exporters[0];
        mostPending = Math.max(mostPending, exporter.pending);
        return retryable
          ? exporter.counters.dropped >= 2
          : exporter.counters.failed >= before.exporters[0].counters.failed + 3;
      },
      { timeoutMs: 30000, what: `the agent living through Pyroscope ${mode}` },
    );
    // The reason reaches stderr once a profile has used up its attempts (hang: ~4 timeouts + backoff).
    await app.waitForOutput(reason, { timeoutMs: 30000 });
    const memoryDuring = await retainedBytesOf(app);
    const exporter = during.exporters[0];
    assert.ok(
      mostPending <= FAULT_QUEUE_SIZE + 1,
      `the queue holds at most ${FAULT_QUEUE_SIZE} profiles plus the one in flight (saw ${mostPending})`,
    );
    if (retryable) assert.ok(exporter.counters.dropped >= 2, 'profiles dropped for the cap are counted');
    else assert.equal(exporter.counters.retried, before.exporters[0].counters.retried, `HTTP ${mode} is not retried`);
    const growth = memoryDuring.retained - memoryBefore.retained;
    assert.ok(
      growth < RETAINED_GROWTH_LIMIT,
      `retained memory grew ${(growth / MIB).toFixed(1)} MiB during the fault (limit ${RETAINED_GROWTH_LIMIT / MIB} MiB)`,
    );
    // No retry storm: at most UPLOAD_ATTEMPTS requests per profile cut during the fault.
    const intervals = during.profiler.intervals - before.profiler.intervals;
    const requestsDuringFault = pyroscope.requests.length - requestsAtFault;
    assert.ok(
      requestsDuringFault <= UPLOAD_ATTEMPTS * (intervals + 1),
      `${requestsDuringFault} upload requests for ${intervals} profiles: no retry storm`,
    );
    // Tracing does not depend on the profile backend.
    await otlp.waitForSpans((spans) => spans.length > spansAtFault + 10);

    await pyroscope.respondWith('resume');
    const resumedAt = Date.now();
    const uploadsAtResume = pyroscope.uploads.length;
    const afterResume = () => pyroscope.uploads.slice(uploadsAtResume);
    const cutDuringFault = (upload) => {
      const { start, end } = profileWindowMs(upload);
      return end > faultAt && start < resumedAt && end <= resumedAt;
    };
    await pyroscope.waitForUploads(
      () => afterResume().some((u) => profileWindowMs(u).start >= resumedAt - 1000 && !cutDuringFault(u)) &&
        (!retryable || afterResume().some(cutDuringFault)),
      30000,
    );
    const delivered = afterResume().filter(cutDuringFault);
    if (retryable) {
      assert.ok(
        delivered.length >= 1 && delivered.length <= FAULT_QUEUE_SIZE + 1,
        `the profiles still queued are delivered after the fault (${delivered.length}, cap ${FAULT_QUEUE_SIZE} + 1 in flight)`,
      );
      assert.ok(delivered.some((u) => labelledSpanIds(u).size > 0), 'the delivered outage profiles still carry span labels');
    }

    const result = await load.stop();
    assertAllServed(result);
    await assertNoFaultsReachedApp(app);

    const lines = agentLines(app.stderr());
    assert.ok(lines.length >= 1, `the fault is reported: ${app.stderr()}`);
    assert.ok(lines.length <= 3, `warnings are rate-limited, not one per profile (${lines.length} lines):\n${lines.join('\n')}`);
    assert.ok(lines.some((line) => reason.test(line)), `a warning says why (${reason}):\n${lines.join('\n')}`);
    const kinds = lines.map((line) => line.replace(/\d+/g, 'N'));
    assert.equal(new Set(kinds).size, kinds.length, `no warning repeats within a minute:\n${lines.join('\n')}`);
    if (retryable) assert.ok(lines.some((line) => /upload queue full \(3 profiles\).*dropped/.test(line)), 'dropping is reported');
    t.diagnostic(
      `${mode}: ${result.total} requests, ${intervals} profiles during the fault, ${requestsDuringFault} upload requests, ` +
        `counters ${JSON.stringify(exporter.counters)}, most pending ${mostPending}, retained ${(memoryBefore.retained / MIB).toFixed(1)} -> ` +
        `${(memoryDuring.retained / MIB).toFixed(1)} MiB, rss ${(memoryBefore.rss / MIB).toFixed(0)} -> ${(memoryDuring.rss / MIB).toFixed(0)} MiB, ` +
        `${delivered.length} outage profiles delivered after recovery, ${lines.length} warning lines`,
    );
  } finally {
    await load.stop();
  }
}
