// Shutdown on SIGTERM and SIGINT, end to end: the last profile and the last spans are flushed before
// the process ends, and it ends exactly as it would have without the agent (the same fixture run bare
// is the reference); an app with its own handler keeps control; a hanging backend cannot hold the
// process past SPAN_PROFILES_SHUTDOWN_TIMEOUT. Profiles and spans are never exported on their own
// schedule here (60 s), so whatever arrives was flushed by the shutdown.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { spansFromOtlpJson, startOtlpReceiver } from '../helpers/otlp-receiver.mjs';
import { zstdText } from '../helpers/zstd.mjs';
import { readPprofFile } from '../helpers/pprof-samples.mjs';
import { startPyroscopeReceiver } from '../helpers/pyroscope-receiver.mjs';
import { spawnApp } from '../helpers/spawn-app.mjs';
import { GUARDED_APP, agentLines, labelledSpanIds } from '../helpers/reliability-harness.mjs';

/** Nothing leaves on its own schedule during a test: only a flush sends. */
const NO_SCHEDULED_EXPORT = { PYROSCOPE_UPLOAD_INTERVAL: '60s', OTEL_BSP_SCHEDULE_DELAY: '60000' };
/** SPAN_PROFILES_SHUTDOWN_TIMEOUT's default, and the margin allowed beyond a deadline for Node to exit. */
const DEFAULT_SHUTDOWN_MS = 5000;
const EXIT_MARGIN_MS = 3000;

/** How the fixture ends on `signal` without the agent. */
async function bareOutcome(signal, env = {}) {
  const app = await spawnApp({ app: GUARDED_APP, loader: 'none', env });
  assert.equal((await app.request('/cpu?ms=20')).status, 200);
  app.kill(signal);
  return app.waitForExit(10000);
}

/** Root span ids (pyroscope.profile.id) of the server spans for /cpu. */
const cpuRootIds = (spans) =>
  new Set(spans.filter((s) => s.kind === 'SERVER' && /cpu/.test(s.attributes['url.path'] ?? s.attributes['http.target'] ?? '')).map((s) => s.attributes['pyroscope.profile.id']).filter(Boolean));

/**
 * Requests of 100 ms of CPU each. Three of them and the start-up stay under the 0.5 s of CPU after which the
 * process's first profile is cut early (FIRST_CUT_BUSY_MS; four stay under it too): at 150 ms each the third
 * crossed it, and that cut could be sent before the signal.
 */
async function burnRequests(app, count = 3) {
  for (let i = 0; i < count; i++) assert.equal((await app.request('/cpu?ms=100')).status, 200);
}

for (const signal of ['SIGTERM', 'SIGINT']) {
  test(`${signal} with backends: the last profile and spans are sent, and the process ends as it would bare`, async (t) => {
    const bare = await bareOutcome(signal);
    const pyroscope = await startPyroscopeReceiver();
    const otlp = await startOtlpReceiver();
    t.after(() => Promise.all([pyroscope.close(), otlp.close()]));
    const app = await spawnApp({
      app: GUARDED_APP,
      env: { ...NO_SCHEDULED_EXPORT, PYROSCOPE_SERVER_ADDRESS: pyroscope.url, OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url },
    });
    await burnRequests(app);
    assert.equal(pyroscope.uploads.length + otlp.spans.length, 0, 'nothing was sent before the signal');
    app.kill(signal);
    const outcome = await app.waitForExit(DEFAULT_SHUTDOWN_MS + EXIT_MARGIN_MS);
    assert.deepEqual({ code: outcome.code, signal: outcome.signal }, { code: bare.code, signal: bare.signal }, `ends as bare (${JSON.stringify(bare)})`);

    const roots = cpuRootIds(otlp.spans);
    assert.equal(roots.size, 3, `the three /cpu server spans were flushed: ${otlp.spans.map((s) => s.name).join(', ')}`);
    assert.ok(pyroscope.uploads.length >= 1, 'the last profile was flushed');
    const linked = new Set(pyroscope.uploads.flatMap((u) => [...labelledSpanIds(u)]).filter((id) => roots.has(id)));
    assert.ok(linked.size >= 2, `the last profile carries the flushed spans' ids (${linked.size} of 3)`);
    assert.deepEqual(agentLines(app.stderr()), [], 'a clean shutdown prints nothing');
  });

  test(`${signal} with the local store: the last profile and spans are written, and the process ends as it would bare`, async () => {
    const bare = await bareOutcome(signal);
    const app = await spawnApp({ app: GUARDED_APP, env: NO_SCHEDULED_EXPORT });
    await burnRequests(app);
    app.kill(signal);
    const outcome = await app.waitForExit(DEFAULT_SHUTDOWN_MS + EXIT_MARGIN_MS);
    assert.deepEqual({ code: outcome.code, signal: outcome.signal }, { code: bare.code, signal: bare.signal });

    const serviceDir = path.join(app.storeDir, 'fixture-guarded-app');
    const files = readdirSync(serviceDir);
    assert.deepEqual(files.filter((f) => f.endsWith('.tmp')), [], 'no temp file is left behind');
    const spans = files
      .filter((f) => f.endsWith('.spans.jsonl.zst'))
      .flatMap((f) => zstdText(path.join(serviceDir, f)).split('\n').filter(Boolean))
      .flatMap((line) => spansFromOtlpJson(JSON.parse(line)));
    const roots = cpuRootIds(spans);
    assert.equal(roots.size, 3, 'the three /cpu server spans were written');
    const profiles = files.filter((f) => f.endsWith('.cpu.pb.gz')).map((f) => readPprofFile(path.join(serviceDir, f)));
    assert.equal(profiles.length, 1, 'one profile: the last one, cut at the signal');
    const linked = new Set(profiles[0].samples.map((s) => s.labels.span_id).filter((id) => roots.has(id)));
    assert.ok(linked.size >= 2, `the profile carries the spans' ids (${linked.size} of 3)`);
  });
}

test('an app with its own SIGTERM handler keeps control: the agent flushes, the app keeps serving and exits when it decides', async (t) => {
  const env = { APP_SIGNAL_HANDLER: 'SIGTERM' };
  const bareApp = await spawnApp({ app: GUARDED_APP, loader: 'none', env });
  bareApp.kill('SIGTERM');
  await bareApp.waitForOutput('{"signal":"SIGTERM"}', { stream: 'stdout' });
  assert.equal((await bareApp.request('/')).status, 200);
  await bareApp.request('/exit?code=21');
  const bare = await bareApp.waitForExit();

  const pyroscope = await startPyroscopeReceiver();
  const otlp = await startOtlpReceiver();
  t.after(() => Promise.all([pyroscope.close(), otlp.close()]));
  const app = await spawnApp({
    app: GUARDED_APP,
    env: { ...env, ...NO_SCHEDULED_EXPORT, PYROSCOPE_SERVER_ADDRESS: pyroscope.url, OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url },
  });
  await burnRequests(app);
  app.kill('SIGTERM');
  await app.waitForOutput('{"signal":"SIGTERM"}', { stream: 'stdout' });
  // The agent flushed on the signal...
  await otlp.waitForSpans((spans) => cpuRootIds(spans).size === 3);
  await pyroscope.waitForUploads((uploads) => uploads.length >= 1);
  // ...and left the process alone: it still serves, with tracing and profiling still on.
  for (let i = 0; i < 3; i++) assert.equal((await app.request('/cpu?ms=20')).status, 200);
  const stats = await (await app.request('/agent-stats')).json();
  assert.equal(stats.profiler?.running, true, 'the profiler keeps running after a flush');
  await app.request('/exit?code=21');
  const outcome = await app.waitForExit();
  assert.deepEqual({ code: outcome.code, signal: outcome.signal }, { code: bare.code, signal: bare.signal });
  assert.equal(outcome.code, 21);
});

test('a hanging Pyroscope and OTLP endpoint cannot hold the process past SPAN_PROFILES_SHUTDOWN_TIMEOUT', async (t) => {
  const bare = await bareOutcome('SIGTERM');
  const pyroscope = await startPyroscopeReceiver();
  const otlp = await startOtlpReceiver();
  t.after(() => Promise.all([pyroscope.close(), otlp.close()]));
  await pyroscope.respondWith('hang');
  await otlp.respondWith('hang');
  const shutdownTimeoutMs = 2000;
  const app = await spawnApp({
    app: GUARDED_APP,
    env: {
      ...NO_SCHEDULED_EXPORT,
      PYROSCOPE_SERVER_ADDRESS: pyroscope.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      SPAN_PROFILES_SHUTDOWN_TIMEOUT: `${shutdownTimeoutMs}ms`,
    },
  });
  await burnRequests(app);
  app.kill('SIGTERM');
  // Both backends got the request and never answered; the process ends anyway, by the deadline.
  const outcome = await app.waitForExit(shutdownTimeoutMs + EXIT_MARGIN_MS);
  assert.deepEqual({ code: outcome.code, signal: outcome.signal }, { code: bare.code, signal: bare.signal });
  assert.ok(pyroscope.requests.length >= 1, 'the last profile was attempted');
  assert.ok(otlp.requests.length >= 1, 'the last spans were attempted');
  const lines = agentLines(app.stderr());
  assert.ok(lines.length <= 3, `at most a few lines about what was not delivered:\n${lines.join('\n')}`);
});
