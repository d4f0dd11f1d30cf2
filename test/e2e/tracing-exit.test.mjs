// How processes end under the agent. `node -e 0` exits at once with code 0
// whatever the backends do; SIGTERM/SIGINT end the app by that signal (a shell sees 143/130) after
// the last spans and profile are flushed; an app with its own SIGTERM handler keeps control.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startOtlpReceiver } from '../helpers/otlp-receiver.mjs';
import { readPprofFile } from '../helpers/pprof-samples.mjs';
import { startPyroscopeReceiver } from '../helpers/pyroscope-receiver.mjs';
import { requestPathOf, spansOfProcess } from '../helpers/span-tree.mjs';
import { fixturePath, killAllApps, pinnedNode, spawnApp, spawnNode } from '../helpers/spawn-app.mjs';

after(killAllApps);

let otlp;
let pyroscope;
before(async () => {
  otlp = await startOtlpReceiver();
  pyroscope = await startPyroscopeReceiver();
});
after(async () => {
  await otlp?.close();
  await pyroscope?.close();
});

// A deadline far above how long these processes may take: an exit that waits for it fails the test.
const LONG_DEADLINE = { SPAN_PROFILES_SHUTDOWN_TIMEOUT: '30s' };
const PROMPT_EXIT_MS = 10_000;

describe('node -e under the agent', () => {
  const backends = () => ({ OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, PYROSCOPE_SERVER_ADDRESS: pyroscope.url, OTEL_SERVICE_NAME: 'node-e' });
  const CASES = [
    { how: 'no backend (local store)', mode: undefined },
    { how: 'reachable backends', mode: 'ok' },
    { how: 'backends refusing connections', mode: 'refuse' },
    { how: 'backends that never answer', mode: 'hang' },
  ];
  for (const { how, mode } of CASES) {
    test(`node -e 0 exits promptly with code 0: ${how}`, async (t) => {
      if (mode) {
        await otlp.respondWith(mode);
        await pyroscope.respondWith(mode);
      }
      try {
        const started = Date.now();
        const child = spawnNode({ argv: ['-e', '0'], env: { ...LONG_DEADLINE, ...(mode ? backends() : {}) } });
        assert.deepEqual(await child.waitForExit(PROMPT_EXIT_MS), { code: 0, signal: null }, child.stderr());
        assert.doesNotMatch(child.stderr(), /\[span-profiles\] error/);
        t.diagnostic(`node -e 0 (${how}) took ${Date.now() - started} ms`);
      } finally {
        await otlp.respondWith('ok');
        await pyroscope.respondWith('ok');
      }
    });
  }

  // A script that made one HTTP call has a span to flush when the event loop empties. The agent
  // may delay the exit by SPAN_PROFILES_SHUTDOWN_TIMEOUT at most, even when the backend is down.
  for (const mode of ['hang', 'refuse']) {
    test(`a script with a pending span exits within the shutdown deadline when the OTLP backend ${mode === 'hang' ? 'never answers' : 'refuses'}`, async (t) => {
      await otlp.respondWith(mode);
      try {
        const started = Date.now();
        const child = spawnNode({
          argv: ['-e', 'require("node:http").get("http://127.0.0.1:9/").on("error", () => {})'],
          env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_SERVICE_NAME: 'node-e', SPAN_PROFILES_SHUTDOWN_TIMEOUT: '1s' },
        });
        // Five times the deadline: generous, and still well short of the exporter's own 10 s timeout.
        const exit = await child.waitForExit(5_000).catch((err) => err);
        t.diagnostic(`exit after ${Date.now() - started} ms with a 1 s shutdown deadline`);
        assert.ok(!(exit instanceof Error), `the process outlived its 1 s shutdown deadline by far: ${exit.message}`);
        assert.deepEqual(exit, { code: 0, signal: null });
      } finally {
        await otlp.respondWith('ok');
      }
    });
  }
});

describe('signals', () => {
  test('SIGTERM: a shell sees exit status 143; the last spans and the last profile were flushed', async () => {
    const app = spawnNode({
      nodeBinary: '/bin/sh',
      loader: 'node-options',
      args: ['-c', '"$NODE_BIN" "$APP"; echo "exit status $?"'],
      cwd: path.dirname(fixturePath('express-app/index.js')),
      env: {
        NODE_BIN: pinnedNode(),
        APP: fixturePath('express-app/index.js'),
        PORT: '0',
        OTEL_LOG_LEVEL: 'info',
        OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
        // Neither spans nor profiles leave before shutdown unless the shutdown flushes them.
        OTEL_BSP_SCHEDULE_DELAY: '60000',
        PYROSCOPE_UPLOAD_INTERVAL: '60s',
      },
    });
    const [, port] = await app.waitForOutput(/^\{"listening":(\d+)\}$/m, { stream: 'stdout' });
    const [, pid] = await app.waitForOutput(/info: @acme\/span-profiles .*, pid (\d+)\n/);
    app.port = Number(port);
    assert.equal((await app.request('/users/3?ms=60')).status, 200);
    assert.equal(spansOfProcess(otlp.spans, Number(pid)).length, 0, 'no span sent before the signal');

    process.kill(Number(pid), 'SIGTERM');
    await app.waitForOutput(/^exit status (\d+)$/m, { stream: 'stdout' });
    assert.match(app.stdout(), /^exit status 143$/m);
    assert.deepEqual(await app.waitForExit(), { code: 0, signal: null }, 'the shell itself ends normally');

    const server = spansOfProcess(otlp.spans, Number(pid)).find((s) => s.kind === 'SERVER');
    assert.ok(server, 'the request span was flushed on SIGTERM');
    assert.equal(server.name, 'GET /users/:id');

    const serviceDir = path.join(app.storeDir, 'fixture-express-app');
    const cpuFiles = readdirSync(serviceDir).filter((f) => f.endsWith('.cpu.pb.gz'));
    assert.ok(cpuFiles.length > 0, `the last profile was written on SIGTERM: ${readdirSync(serviceDir)}`);
    const linked = cpuFiles
      .flatMap((f) => readPprofFile(path.join(serviceDir, f)).samples)
      .filter((s) => s.labels.span_id === server.spanId);
    assert.ok(linked.length > 0, "the last profile holds the request's CPU samples, labelled with its span");
  });

  test('SIGINT without an app handler: the process ends by SIGINT after flushing', async () => {
    const app = await spawnApp({
      app: fixturePath('http-server/index.js'),
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_BSP_SCHEDULE_DELAY: '60000' },
    });
    assert.equal((await app.request('/cpu?ms=5')).status, 200);
    app.kill('SIGINT');
    assert.deepEqual(await app.waitForExit(), { code: null, signal: 'SIGINT' });
    assert.ok(
      spansOfProcess(otlp.spans, app.pid).some((s) => s.kind === 'SERVER' && requestPathOf(s) === '/cpu'),
      'the span was flushed on SIGINT',
    );
  });

  test("an app with its own SIGTERM handler keeps control: the app's exit code, not the signal", async (t) => {
    const app = await spawnApp({
      app: fixturePath('express-app/index.js'),
      env: { HANDLE_SIGTERM: '1', OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_BSP_SCHEDULE_DELAY: '60000' },
    });
    assert.equal((await app.request('/users/4?ms=5')).status, 200);
    app.kill('SIGTERM');
    assert.deepEqual(await app.waitForExit(), { code: 0, signal: null }, app.stderr());
    assert.doesNotMatch(app.stderr(), /\[span-profiles\] error/);
    // The app exits 100 ms after the signal: whether the agent's flush beat it is reported, not asserted.
    const flushed = spansOfProcess(otlp.spans, app.pid).some((s) => s.kind === 'SERVER');
    t.diagnostic(`spans flushed before the app's own exit: ${flushed}`);
  });
});
