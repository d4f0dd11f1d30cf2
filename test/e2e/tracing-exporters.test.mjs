// The standard trace variables still work although the agent adds its own span
// processor (NodeSDK ignores them once span processors are passed, so the agent builds them itself):
// OTEL_TRACES_EXPORTER with two exporters, OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_TRACES_SAMPLER.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startOtlpReceiver } from '../helpers/otlp-receiver.mjs';
import { startPyroscopeReceiver } from '../helpers/pyroscope-receiver.mjs';
import { requestPathOf, spansOfProcess } from '../helpers/span-tree.mjs';
import { fixturePath, killAllApps, spawnApp } from '../helpers/spawn-app.mjs';

after(killAllApps);

let otlp;
before(async () => {
  otlp = await startOtlpReceiver();
});
after(() => otlp?.close());

const serverSpanOf = (app, path) => () =>
  spansOfProcess(otlp.spans, app.pid).find((s) => s.kind === 'SERVER' && requestPathOf(s) === path);

describe('trace exporters and sampler from the environment', () => {
  test('OTEL_TRACES_EXPORTER=console,otlp: the same span on stdout and at the OTLP endpoint', async () => {
    const app = await spawnApp({
      app: fixturePath('express-app/index.js'),
      env: { OTEL_TRACES_EXPORTER: 'console,otlp', OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_BSP_SCHEDULE_DELAY: '100' },
    });
    assert.equal((await app.request('/users/9?ms=1')).status, 200);
    const span = await otlp.waitForSpans(serverSpanOf(app, '/users/9'));
    assert.equal(span.name, 'GET /users/:id');
    // The console exporter prints each span as an object literal (util.inspect).
    await app.waitForOutput(new RegExp(`traceId: '${span.traceId}'`), { stream: 'stdout' });
    await app.waitForOutput(new RegExp(`id: '${span.spanId}'`), { stream: 'stdout' });
    assert.match(app.stdout(), /name: 'GET \/users\/:id'/);
  });

  test('OTEL_EXPORTER_OTLP_PROTOCOL=http/json: spans arrive as OTLP/JSON', async () => {
    const app = await spawnApp({
      app: fixturePath('http-server/index.js'),
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '100' },
    });
    assert.equal((await app.request('/cpu?ms=1')).status, 200);
    const span = await otlp.waitForSpans(serverSpanOf(app, '/cpu'));
    assert.equal(span.name, 'GET');
    const jsonRequests = otlp.requests.filter((r) => r.path === '/v1/traces' && /json/.test(r.contentType));
    assert.ok(jsonRequests.length > 0, `requests: ${otlp.requests.map((r) => r.contentType)}`);
  });

  test('OTEL_TRACES_SAMPLER=always_off: no spans at all; the profiler runs but links nothing', async () => {
    const pyroscope = await startPyroscopeReceiver();
    try {
      const app = await spawnApp({
        app: fixturePath('express-app/index.js'),
        env: {
          OTEL_TRACES_SAMPLER: 'always_off',
          OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
          OTEL_BSP_SCHEDULE_DELAY: '100',
          PYROSCOPE_SERVER_ADDRESS: pyroscope.url,
          PYROSCOPE_UPLOAD_INTERVAL: '60s',
        },
      });
      for (const route of ['/users/1?ms=40', '/orders/2?ms=40', '/proxy']) {
        assert.equal((await app.request(route)).status, 200, route);
      }
      // SIGTERM flushes whatever the SDK holds and cuts the last profile: after the exit, nothing is pending.
      app.kill('SIGTERM');
      assert.deepEqual(await app.waitForExit(), { code: null, signal: 'SIGTERM' });
      assert.deepEqual(spansOfProcess(otlp.spans, app.pid), [], 'no span exported');
      assert.ok(pyroscope.uploads.length > 0, 'the profiler still ran and uploaded on shutdown');
      const linked = pyroscope.uploads.flatMap((u) => u.samples).filter((s) => s.labels.span_id !== undefined);
      assert.deepEqual(linked, [], 'no sample carries a span id: there was no sampled span');
    } finally {
      await pyroscope.close();
    }
  });
});
