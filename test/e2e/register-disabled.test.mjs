// OTEL_SDK_DISABLED=true turns the whole agent off (no spans, no profiles, no
// signal handlers, nothing patched) and the app serves as it would without the agent.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { startOtlpReceiver } from '../helpers/otlp-receiver.mjs';
import { startPyroscopeReceiver } from '../helpers/pyroscope-receiver.mjs';
import { fixturePath, killAllApps, spawnApp, spawnNode } from '../helpers/spawn-app.mjs';

after(killAllApps);

// `http.get` is replaced by the http instrumentation when the agent runs: a cheap outside probe.
const PRINT_HTTP_GET_NAME = 'console.log(require("node:http").get.name)';

describe('OTEL_SDK_DISABLED', () => {
  test('=true: the app serves; no spans, no profiles, no local files; SIGTERM ends it as usual', async () => {
    const otlp = await startOtlpReceiver();
    const pyroscope = await startPyroscopeReceiver();
    try {
      const app = await spawnApp({
        app: fixturePath('express-app/index.js'),
        env: {
          OTEL_SDK_DISABLED: 'true',
          OTEL_LOG_LEVEL: 'info',
          OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
          PYROSCOPE_SERVER_ADDRESS: pyroscope.url,
          PYROSCOPE_UPLOAD_INTERVAL: '1s',
          SPAN_PROFILES_STORE: 'always',
        },
      });
      assert.equal((await app.request('/users/1?ms=30')).json().id, '1');
      assert.equal((await app.request('/orders/2?ms=30')).json().orderId, '2');
      assert.equal((await app.request('/proxy')).json().user.id, '7');

      app.kill('SIGTERM');
      assert.deepEqual(await app.waitForExit(), { code: null, signal: 'SIGTERM' });
      assert.match(app.stderr(), /OTEL_SDK_DISABLED=true: tracing and profiling are off/);
      assert.doesNotMatch(app.stderr(), /@acme\/span-profiles \d/, 'no startup summary');
      assert.equal(otlp.requests.length, 0, 'nothing sent to the OTLP endpoint');
      assert.equal(pyroscope.requests.length, 0, 'nothing sent to Pyroscope');
      assert.deepEqual(readdirSync(app.storeDir), [], 'nothing written to the local store');
    } finally {
      await otlp.close();
      await pyroscope.close();
    }
  });

  for (const [value, patched] of [
    ['true', false],
    ['TRUE', false],
    ['false', true],
  ]) {
    test(`=${value}: node:http is ${patched ? '' : 'not '}instrumented; node -e exits 0`, async () => {
      const child = spawnNode({ argv: ['-e', PRINT_HTTP_GET_NAME], env: { OTEL_SDK_DISABLED: value } });
      assert.deepEqual(await child.waitForExit(), { code: 0, signal: null }, child.stderr());
      const name = child.stdout().trim();
      if (patched) assert.notEqual(name, 'get', 'the control: the agent patches http.get when enabled');
      else assert.equal(name, 'get');
      assert.doesNotMatch(child.stderr(), /\[span-profiles\] (warn|error)/);
    });
  }
});
