// Another profiler in the process. @pyroscope/nodejs (a real second profiler, with its own copy of
// @datadog/pprof) started before the agent, or dd-trace profiling announced by DD_PROFILING_ENABLED:
// our profiler stays off with exactly one warning saying why, tracing still runs, the app serves, and
// the other profiler keeps working. @pyroscope/nodejs started by the app after the agent: see the
// last test.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startOtlpReceiver } from '../helpers/otlp-receiver.mjs';
import { startPyroscopeReceiver } from '../helpers/pyroscope-receiver.mjs';
import { fixturePath, spawnApp } from '../helpers/spawn-app.mjs';
import { agentLines, agentStatsOf, assertAllServed, assertNoFaultsReachedApp, startLoad } from '../helpers/reliability-harness.mjs';

const APP = 'fixtures/other-profiler-app/index.js';
const START_PYROSCOPE = fixturePath('other-profiler-app/start-pyroscope.js');

/**
 * Runs the fixture under load with our Pyroscope receiver (`ours`), the other profiler's (`other`)
 * and an OTLP receiver, until `ready(state)` holds. Returns everything for the assertions.
 */
async function runWithOtherProfiler(t, { args = [], env = {}, ready }) {
  const ours = await startPyroscopeReceiver();
  const other = await startPyroscopeReceiver();
  const otlp = await startOtlpReceiver();
  t.after(() => Promise.all([ours.close(), other.close(), otlp.close()]));
  const app = await spawnApp({
    app: APP,
    args,
    env: {
      OTHER_PYROSCOPE_URL: other.url,
      PYROSCOPE_SERVER_ADDRESS: ours.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      PYROSCOPE_UPLOAD_INTERVAL: '1s',
      OTEL_BSP_SCHEDULE_DELAY: '200',
      ...env,
    },
  });
  const load = startLoad(app);
  try {
    await ready({ ours, other, otlp, app });
    const result = await load.stop();
    assertAllServed(result);
    await assertNoFaultsReachedApp(app);
    return { ours, other, otlp, app, stats: await agentStatsOf(app), lines: agentLines(app.stderr()) };
  } finally {
    await load.stop();
  }
}

const otherProfilerWorks = (other) => other.uploads.filter((u) => u.appName === 'other-profiler' && u.sampleTypes.includes('wall/nanoseconds'));

test('@pyroscope/nodejs started before the agent: ours stays off with one warning, tracing runs, the other profiler works', async (t) => {
  const { ours, otlp, lines, stats } = await runWithOtherProfiler(t, {
    args: ['--require', START_PYROSCOPE],
    ready: async ({ other, otlp }) => {
      await other.waitForUploads((uploads) => otherProfilerWorks({ uploads }).length >= 2);
      await otlp.waitForSpans((spans) => spans.filter((s) => s.kind === 'SERVER').length >= 20);
    },
  });
  assert.equal(lines.length, 1, `exactly one line from the agent:\n${lines.join('\n')}`);
  assert.match(lines[0], /warn: CPU profiling is off: @pyroscope\/nodejs is loaded.*; tracing continues/);
  assert.equal(stats.profilerState.running, false);
  assert.equal(ours.requests.length, 0, 'nothing is uploaded by our profiler');
  assert.ok(otlp.spans.every((s) => s.attributes['pyroscope.profile.id'] === undefined), 'no span promises a profile that does not exist');
});

test('DD_PROFILING_ENABLED=true: ours stays off with one warning, tracing runs', async (t) => {
  const { ours, otlp, lines, stats } = await runWithOtherProfiler(t, {
    env: { DD_PROFILING_ENABLED: 'true' },
    ready: async ({ otlp }) => {
      await otlp.waitForSpans((spans) => spans.filter((s) => s.kind === 'SERVER').length >= 20);
    },
  });
  assert.equal(lines.length, 1, `exactly one line from the agent:\n${lines.join('\n')}`);
  assert.match(lines[0], /warn: CPU profiling is off: dd-trace profiling is enabled \(DD_PROFILING_ENABLED=true\).*; tracing continues/);
  assert.equal(stats.profilerState.running, false);
  assert.equal(ours.requests.length, 0);
  assert.ok(otlp.spans.length > 0);
  assert.ok(otlp.spans.every((s) => s.attributes['pyroscope.profile.id'] === undefined), 'no span promises a profile that does not exist');
});

// The agent checks at every profile cut, so the two overlap for at most one upload interval.
test(
  '@pyroscope/nodejs started by the app after the agent: ours notices, stops, and says so once',
  async (t) => {
    const { lines, stats } = await runWithOtherProfiler(t, {
      env: { START_PYROSCOPE_IN_APP: '1' },
      ready: async ({ other }) => {
        await other.waitForUploads((uploads) => otherProfilerWorks({ uploads }).length >= 2);
      },
    });
    assert.equal(lines.filter((line) => /@pyroscope\/nodejs/.test(line)).length, 1, `one warning naming it:\n${lines.join('\n')}`);
    assert.equal(stats.profiler?.running, false, 'our profiler stopped');
  },
);
