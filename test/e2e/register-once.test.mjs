// The agent starts once per process and on the main thread only, however many
// times it is preloaded (a second --require, NODE_OPTIONS plus --require, a second copy of the
// package) and although worker threads run the preloads again. Duplicates would show as two
// startup summaries and two spans per request (every instrumentation patched twice).
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { startOtlpReceiver } from '../helpers/otlp-receiver.mjs';
import { describeSpans, isLocalRoot, requestPathOf, spansOfProcess } from '../helpers/span-tree.mjs';
import { fixturePath, killAllApps, registerPath, repoRoot, spawnApp } from '../helpers/spawn-app.mjs';

after(killAllApps);

let otlp;
let secondCopy;
before(async () => {
  otlp = await startOtlpReceiver();
  // A second copy of the package, as when the app installs the agent and the platform injects its own.
  secondCopy = mkdtempSync(path.join(os.tmpdir(), 'span-profiles-copy-'));
  cpSync(path.join(repoRoot, 'dist'), path.join(secondCopy, 'dist'), { recursive: true });
  cpSync(path.join(repoRoot, 'package.json'), path.join(secondCopy, 'package.json'));
  symlinkSync(path.join(repoRoot, 'node_modules'), path.join(secondCopy, 'node_modules'), 'dir');
});
after(async () => {
  await otlp?.close();
  if (secondCopy) rmSync(secondCopy, { recursive: true, force: true });
});

const baseEnv = () => ({ OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_LOG_LEVEL: 'info' });

/** SIGTERM, then wait for the exit: every span any SDK in the process buffered is flushed by then. */
async function stopAndCollect(app) {
  app.kill('SIGTERM');
  const exit = await app.waitForExit();
  assert.deepEqual(exit, { code: null, signal: 'SIGTERM' }, `exit of ${app.pid}:\n${app.stderr()}`);
  return spansOfProcess(otlp.spans, app.pid);
}

function assertOneAgent(app) {
  const summaries = app.stderr().match(/info: @acme\/span-profiles \d/g) ?? [];
  assert.equal(summaries.length, 1, `one startup summary:\n${app.stderr()}`);
  assert.doesNotMatch(app.stderr(), /\[span-profiles\] (warn|error)/);
}

describe('double registration starts the agent once', () => {
  const secondCopyRegister = () => path.join(secondCopy, 'dist', 'register.js');
  const CASES = [
    { how: '--require twice', loader: 'require', args: () => ['--require', registerPath()] },
    { how: 'NODE_OPTIONS=--require and --require', loader: 'node-options', args: () => ['--require', registerPath()] },
    { how: '--require and --import', loader: 'require', args: () => ['--import', pathToFileURL(registerPath()).href] },
    { how: 'NODE_OPTIONS=--require and a second copy of the package', loader: 'node-options', args: () => ['--require', secondCopyRegister()] },
    { how: 'a second copy first, then the package', loader: 'require', args: () => ['--require', secondCopyRegister()] },
  ];
  for (const { how, loader, args } of CASES) {
    test(`${how}: one startup summary, one span per request`, async () => {
      const app = await spawnApp({ app: fixturePath('express-app/index.js'), loader, args: args(), env: baseEnv() });
      assertOneAgent(app);
      assert.equal((await app.request('/users/5?ms=1')).status, 200);
      const spans = await stopAndCollect(app);
      const servers = spans.filter((s) => s.kind === 'SERVER');
      assert.equal(servers.length, 1, `one SERVER span:\n${describeSpans(spans)}`);
      assert.equal(servers[0].name, 'GET /users/:id');
      const handlers = spans.filter((s) => s.name === 'request handler - /users/:id');
      assert.equal(handlers.length, 1, `Express instrumented once:\n${describeSpans(spans)}`);
      const traces = new Set(spans.map((s) => s.traceId));
      assert.equal(traces.size, 1, 'every span in the one trace');
      assert.equal(new Set(spans.map((s) => s.spanId)).size, spans.length, 'no span exported twice');
    });
  }
});

describe('worker threads', () => {
  for (const loader of ['require', 'node-options']) {
    test(`under ${loader}: the preload runs in the worker but starts nothing there; the worker works`, async () => {
      const app = await spawnApp({ app: fixturePath('worker-app/index.js'), loader, env: baseEnv() });
      const response = await app.request('/work');
      assert.equal(response.status, 200, response.body);
      const report = response.json();
      assert.equal(report.isMainThread, false);
      assert.equal(report.preloadRan, true, 'the agent preload ran in the worker (else this test proves nothing)');
      assert.equal(report.exitCode, 0, 'the worker finished normally');
      assert.equal(report.ping.status, 200, "the worker's HTTP call worked");
      assert.ok(report.result > 0);
      assert.equal(report.ping.body.traceparent, null, 'the worker is not instrumented: no trace context sent');

      assertOneAgent(app);
      const spans = await stopAndCollect(app);
      assert.equal(spans.filter((s) => s.kind === 'CLIENT').length, 0, `no CLIENT span from the worker:\n${describeSpans(spans)}`);
      const servers = spans.filter((s) => s.kind === 'SERVER');
      assert.deepEqual(servers.map(requestPathOf).sort(), ['/ping', '/work'], describeSpans(spans));
      assert.ok(servers.every(isLocalRoot));
      assert.equal(new Set(spans.map((s) => s.spanId)).size, spans.length, 'no span exported twice');
    });
  }
});
