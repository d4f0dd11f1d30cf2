// The OTLP profiles exporter when the endpoint misbehaves, end to end under load (the guarded fixture,
// profiles cut every second): 503 and 429 retried and the same request delivered on recovery, 400
// rejected once and never retried, refused connections with a capped queue, a hanging server that
// cannot hold the process past the shutdown deadline, and credentials never printed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startOtlpProfilesReceiver, PROFILES_PATH } from '../helpers/otlp-profiles-receiver.mjs';
import { spawnApp } from '../helpers/spawn-app.mjs';
import { waitUntil } from '../helpers/wait-for.mjs';
import {
  GUARDED_APP,
  agentLines,
  agentStatsOf,
  assertAllServed,
  assertNoFaultsReachedApp,
  startLoad,
  waitForAgentStats,
} from '../helpers/reliability-harness.mjs';

const QUEUE = 3;

async function startApp(t, env = {}) {
  const receiver = await startOtlpProfilesReceiver();
  t.after(() => receiver.close());
  const app = await spawnApp({
    app: GUARDED_APP,
    env: {
      OTEL_PROFILES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '500',
      PYROSCOPE_UPLOAD_INTERVAL: '1s',
      SPAN_PROFILES_UPLOAD_QUEUE: String(QUEUE),
      ...env,
    },
  });
  return { receiver, app };
}

const profileRequests = (receiver) => receiver.requests.filter((r) => r.path === PROFILES_PATH);
const otlpWarnings = (app) => agentLines(app.stderr()).filter((line) => line.includes('otlp http/'));

for (const { status, headers, what } of [
  { status: 503, what: '503' },
  { status: 429, headers: { 'retry-after': '1' }, what: '429 with Retry-After' },
]) {
  test(`OTLP endpoint answering ${what}: retried with backoff, the same request delivered on recovery, one warning per cause`, async (t) => {
    const { receiver, app } = await startApp(t);
    const load = startLoad(app);
    await receiver.respondWith({ status, headers, body: `injected ${status}` });
    await waitUntil(() => profileRequests(receiver).filter((r) => r.status === status).length >= 3, {
      timeoutMs: 30_000,
      what: `three requests answered ${status}`,
    });
    const refused = profileRequests(receiver).filter((r) => r.status === status);
    await receiver.respondWith('ok');
    const retried = await receiver.waitForUploads((uploads) => uploads.find((u) => refused.some((r) => r.body.equals(u.body))));
    assert.ok(retried, 'a refused request is delivered unchanged once the endpoint recovers');
    // Same body sent again after a refusal: the retry, not a new cut.
    const attemptsOfDelivered = profileRequests(receiver).filter((r) => r.body.equals(retried.body)).length;
    assert.ok(attemptsOfDelivered >= 2 && attemptsOfDelivered <= 4, `attempts of the delivered request: ${attemptsOfDelivered}`);
    assertAllServed(await load.stop());
    await assertNoFaultsReachedApp(app);
    const warnings = otlpWarnings(app);
    assert.ok(warnings.length <= 3, `rate-limited warnings:\n${warnings.join('\n')}`);
    assert.ok(warnings.every((line) => line.includes(`HTTP ${status}`) || line.includes('queue full')), warnings.join('\n'));
  });
}

test('OTLP endpoint answering 400: each request rejected once, never retried, the reason quoted once', async (t) => {
  const { receiver, app } = await startApp(t);
  const load = startLoad(app);
  await receiver.waitForUploads();
  await receiver.respondWith({ status: 400, body: 'invalid profile: stack_index out of range' });
  const before = profileRequests(receiver).length;
  await waitUntil(() => profileRequests(receiver).length >= before + 3, { timeoutMs: 20_000, what: 'three rejected requests' });
  const rejected = profileRequests(receiver).slice(before);
  for (const request of rejected) {
    const sends = rejected.filter((r) => r.body.equals(request.body)).length;
    assert.equal(sends, 1, 'a rejected request is not sent again');
  }
  const stats = await agentStatsOf(app);
  assert.ok(stats.exporters[0].counters.failed >= 3, JSON.stringify(stats.exporters[0]));
  assert.equal(stats.exporters[0].counters.retried, 0);
  assertAllServed(await load.stop());
  const warnings = otlpWarnings(app);
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0], /profile rejected, not retried: HTTP 400: invalid profile: stack_index out of range/);
});

test('OTLP endpoint refusing connections: the app keeps serving, the queue stays capped, queued profiles delivered on resume', async (t) => {
  const { receiver, app } = await startApp(t);
  const load = startLoad(app);
  await receiver.waitForUploads();
  await receiver.respondWith('refuse');
  const refusedAt = Date.now();
  let mostPending = 0;
  await waitForAgentStats(
    app,
    (stats) => {
      mostPending = Math.max(mostPending, stats.exporters[0].pending);
      return stats.exporters[0].counters.dropped >= 2;
    },
    { timeoutMs: 30_000, what: 'the queue overflowing while the endpoint is down' },
  );
  assert.ok(mostPending <= QUEUE + 1, `at most ${QUEUE} queued plus one in flight (saw ${mostPending})`);
  const uploadsBefore = receiver.uploads.length;
  await receiver.respondWith('resume');
  const resumedAt = Date.now();
  await receiver.waitForUploads(
    (uploads) => uploads.slice(uploadsBefore).some((u) => {
      const profile = u.profiles[0];
      const endMs = Number((profile.timeNanos + profile.durationNanos) / 1_000_000n);
      return endMs > refusedAt && endMs < resumedAt;
    }),
  );
  assertAllServed(await load.stop());
  await assertNoFaultsReachedApp(app);
  assert.ok(otlpWarnings(app).length <= 4, otlpWarnings(app).join('\n'));
});

test('a hanging OTLP endpoint cannot hold the process past SPAN_PROFILES_SHUTDOWN_TIMEOUT', async (t) => {
  const { receiver, app } = await startApp(t, { SPAN_PROFILES_SHUTDOWN_TIMEOUT: '2s', OTEL_EXPORTER_OTLP_PROFILES_TIMEOUT: '60000' });
  await receiver.waitForUploads();
  await receiver.respondWith('hang');
  const hungBefore = profileRequests(receiver).length;
  await waitUntil(() => profileRequests(receiver).length > hungBefore, { timeoutMs: 10_000, what: 'a request to hang' });
  const signalledAt = Date.now();
  app.kill('SIGTERM');
  const exit = await app.waitForExit(15_000);
  const tookMs = Date.now() - signalledAt;
  assert.ok(exit.code === 143 || exit.signal === 'SIGTERM', JSON.stringify(exit));
  assert.ok(tookMs < 2000 + 2500, `exit took ${tookMs} ms with a 2 s shutdown deadline`);
  // The process leaves at the deadline, possibly before the abandoned upload is reported: no line is required.
  assert.doesNotMatch(app.stderr(), /Error|at .*\(.*:\d+:\d+\)/, 'nothing thrown on the way out');
});

test('OTLP header values and URL credentials are never printed, even when the server echoes them', async (t) => {
  const TOKEN = 'otlp-s3cr3t-token-value';
  const PASSWORD = 'url-p@ss-w0rd';
  const receiver = await startOtlpProfilesReceiver();
  t.after(() => receiver.close());
  const endpoint = new URL(`${receiver.url}${PROFILES_PATH}`);
  endpoint.username = 'url-user';
  endpoint.password = PASSWORD;
  // A server that quotes what it got in its error.
  await receiver.respondWith({ status: 401, body: `bad credentials: Bearer ${TOKEN}, user url-user:${PASSWORD}, ${endpoint.href}` });
  const app = await spawnApp({
    app: GUARDED_APP,
    env: {
      OTEL_PROFILES_EXPORTER: 'otlp',
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_EXPORTER_OTLP_PROFILES_ENDPOINT: endpoint.href,
      OTEL_EXPORTER_OTLP_PROFILES_HEADERS: `x-api-key=${TOKEN},authorization=Bearer%20${TOKEN}`,
      PYROSCOPE_UPLOAD_INTERVAL: '1s',
      OTEL_LOG_LEVEL: 'debug',
    },
  });
  const load = startLoad(app);
  await app.waitForOutput(/profile rejected, not retried: HTTP 401/, { timeoutMs: 20_000 });
  assertAllServed(await load.stop(), { atLeast: 5 });
  const request = profileRequests(receiver)[0];
  assert.equal(request.headers['x-api-key'], TOKEN, 'the header is sent');
  assert.equal(request.headers.authorization, `Bearer ${TOKEN}`, 'an explicit authorization header wins over URL credentials');
  const output = app.stderr() + app.stdout();
  for (const secret of [TOKEN, PASSWORD, encodeURIComponent(PASSWORD)]) assert.ok(!output.includes(secret), `${secret} is printed`);
  assert.match(output, /profiles: otlp http\/protobuf http:\/\/127\.0\.0\.1:\d+\/v1development\/profiles;/, 'the summary shows the URL without credentials');
});
