// The guard: nothing of the agent's own may reach the app as an uncaught exception, an unhandled
// rejection or a process warning. First the guarded fixture's recorder is shown to catch the app's
// own faults (so the checks elsewhere can fail); then the agent runs a whole life (start, load, a
// backend that fails and recovers, SIGTERM flush) under Node flags that turn sloppiness into errors:
// deprecations throw, unhandled rejections are strict. Last, --pending-deprecation: the agent's
// dependencies must not hand the app a DeprecationWarning either.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startOtlpReceiver } from '../helpers/otlp-receiver.mjs';
import { startPyroscopeReceiver } from '../helpers/pyroscope-receiver.mjs';
import { spawnApp } from '../helpers/spawn-app.mjs';
import { waitUntil } from '../helpers/wait-for.mjs';
import { GUARDED_APP, assertAllServed, assertNoFaultsReachedApp, faultsOf, startLoad, waitForAgentStats } from '../helpers/reliability-harness.mjs';

test("the guarded fixture records the app's own uncaught exception, unhandled rejection and warning", async () => {
  const app = await spawnApp({ app: GUARDED_APP, loader: 'none' });
  await app.request('/throw');
  await app.request('/reject');
  await waitUntil(async () => {
    const faults = await faultsOf(app);
    return faults.uncaughtExceptions.length === 1 && faults.unhandledRejections.length === 1;
  }, { what: 'the recorded faults' });
  await assert.rejects(assertNoFaultsReachedApp(app), /no uncaught exception reached the app/);
});

test('a whole life under --throw-deprecation --unhandled-rejections=strict: nothing reaches the app', async (t) => {
  const pyroscope = await startPyroscopeReceiver();
  const otlp = await startOtlpReceiver();
  t.after(() => Promise.all([pyroscope.close(), otlp.close()]));
  const app = await spawnApp({
    app: GUARDED_APP,
    args: ['--throw-deprecation', '--unhandled-rejections=strict'],
    env: {
      PYROSCOPE_SERVER_ADDRESS: pyroscope.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      SPAN_PROFILES_STORE: 'always',
      SPAN_PROFILES_WALL: 'true',
      PYROSCOPE_UPLOAD_INTERVAL: '1s',
      SPAN_PROFILES_UPLOAD_TIMEOUT: '500ms',
      OTEL_BSP_SCHEDULE_DELAY: '200',
      OTEL_EXPORTER_OTLP_TIMEOUT: '500',
    },
  });
  const load = startLoad(app, { paths: ['/cpu?ms=3', '/slow?ms=5', '/', '/nope'] });
  try {
    await pyroscope.waitForUploads((uploads) => uploads.length >= 1);
    // Both backends fail for a while (one refuses, one hangs), then come back.
    await pyroscope.respondWith('refuse');
    await otlp.respondWith('hang');
    await waitForAgentStats(app, (s) => s.exporters.some((e) => e.counters?.retried >= 2), { what: 'retries against the refusing Pyroscope' });
    await pyroscope.respondWith('resume');
    await otlp.respondWith('resume');
    const uploadsAtResume = pyroscope.uploads.length;
    await pyroscope.waitForUploads((uploads) => uploads.length >= uploadsAtResume + 2);
  } finally {
    const result = await load.stop();
    // /nope answers 404 on purpose: the app's own answer, not a failure of the agent.
    result.failures = result.failures.filter((f) => !(f.path === '/nope' && f.status === 404));
    assertAllServed(result);
  }
  await assertNoFaultsReachedApp(app);
  app.kill('SIGTERM');
  const { signal } = await app.waitForExit(10000);
  assert.equal(signal, 'SIGTERM');
  assert.doesNotMatch(app.stderr(), /DeprecationWarning|ERR_UNHANDLED_REJECTION|Uncaught/);
});

test('under --pending-deprecation no DeprecationWarning of the agent (or its dependencies) reaches the app', async () => {
  const app = await spawnApp({ app: GUARDED_APP, args: ['--pending-deprecation'], env: { PYROSCOPE_UPLOAD_INTERVAL: '1s' } });
  for (let i = 0; i < 5; i++) assert.equal((await app.request('/cpu?ms=20')).status, 200);
  await waitForAgentStats(app, (s) => s.profiler?.intervals >= 1, { what: 'one profile cut' });
  const { warnings } = await faultsOf(app);
  assert.deepEqual(warnings.map((w) => `${w.name} ${w.code}: ${w.message} (${(w.stack ?? '').split('\n')[1]?.trim()})`), []);
});
