// Exit codes are the app's: process.exit(3), an uncaught exception, an unhandled rejection and a job
// that ends on its own (process.exitCode) end the same with the agent as bare. The job also checks the
// 'beforeExit' flush: its spans and its last profile reach the backends although nothing keeps the
// event loop alive for them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startOtlpReceiver } from '../helpers/otlp-receiver.mjs';
import { startPyroscopeReceiver } from '../helpers/pyroscope-receiver.mjs';
import { spawnApp } from '../helpers/spawn-app.mjs';
import { GUARDED_APP, agentLines, labelledSpanIds } from '../helpers/reliability-harness.mjs';

const BATCH_JOB = 'fixtures/guarded-app/batch-job.js';
// No guard: Node's own handling of uncaught errors decides the exit code.
const UNGUARDED = { GUARD: 'off' };

async function endingOf(loader, route, env = {}) {
  const app = await spawnApp({ app: GUARDED_APP, loader, env: { ...UNGUARDED, ...env } });
  assert.equal((await app.request(route)).status, 200);
  const { code, signal } = await app.waitForExit(10000);
  return { code, signal, stderr: app.stderr() };
}

const cases = [
  { name: 'process.exit(3)', route: '/exit?code=3', expect: { code: 3, signal: null } },
  { name: 'process.exit(0)', route: '/exit?code=0', expect: { code: 0, signal: null } },
  { name: 'an uncaught exception', route: '/throw', expect: { code: 1, signal: null }, stderr: /the app crashed on purpose/ },
  { name: 'an unhandled rejection', route: '/reject', expect: { code: 1, signal: null }, stderr: /the app rejected on purpose/ },
];

for (const { name, route, expect, stderr } of cases) {
  test(`${name} keeps its exit code under the agent (compared with the same app bare)`, async () => {
    const bare = await endingOf('none', route);
    assert.deepEqual({ code: bare.code, signal: bare.signal }, expect, 'the reference run ends as expected');
    const agent = await endingOf('require', route, { PYROSCOPE_UPLOAD_INTERVAL: '1s' });
    assert.deepEqual({ code: agent.code, signal: agent.signal }, { code: bare.code, signal: bare.signal });
    if (stderr) assert.match(agent.stderr, stderr, "the app's own error is printed as Node prints it");
    assert.deepEqual(agentLines(agent.stderr), [], 'the agent adds nothing to the way the app dies');
  });
}

test('a job that ends on its own keeps its exit code and flushes its spans and last profile on beforeExit', async (t) => {
  const env = { JOB_EXIT_CODE: '4' };
  const bare = await spawnApp({ app: BATCH_JOB, loader: 'none', env, waitForReady: false });
  const bareEnd = await bare.waitForExit(10000);
  assert.deepEqual({ code: bareEnd.code, signal: bareEnd.signal }, { code: 4, signal: null });

  const pyroscope = await startPyroscopeReceiver();
  const otlp = await startOtlpReceiver();
  t.after(() => Promise.all([pyroscope.close(), otlp.close()]));
  const job = await spawnApp({
    app: BATCH_JOB,
    env: {
      ...env,
      PYROSCOPE_SERVER_ADDRESS: pyroscope.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      PYROSCOPE_UPLOAD_INTERVAL: '60s',
      OTEL_BSP_SCHEDULE_DELAY: '60000',
    },
    waitForReady: false,
  });
  const end = await job.waitForExit(10000);
  assert.match(job.stdout(), /\{"done":3\}/);
  assert.deepEqual({ code: end.code, signal: end.signal }, { code: 4, signal: null }, job.stderr());
  const roots = new Set(otlp.spans.map((s) => s.attributes['pyroscope.profile.id']).filter(Boolean));
  assert.ok(roots.size >= 3, `the job's spans were flushed at beforeExit (${otlp.spans.length} spans)`);
  assert.equal(pyroscope.uploads.length, 1, `the last profile was flushed at beforeExit (${pyroscope.requests.length} requests)`);
  const linked = [...labelledSpanIds(pyroscope.uploads[0])].filter((id) => roots.has(id));
  assert.ok(linked.length >= 2, `the last profile carries the job's span ids (${linked.length})`);
});
