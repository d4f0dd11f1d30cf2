// The agent injected through NODE_OPTIONS (the image's /autoinstrumentation tree, as the OpenTelemetry
// Operator injects it: a copy of its own) into an app that also has @acme/span-profiles installed and
// requires its register, or uses its API with its own OpenTelemetry SDK. Either way one agent runs: one
// server span per request, one profile per interval, and the app keeps serving.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { startOtlpReceiver } from '../helpers/otlp-receiver.mjs';
import { startPyroscopeReceiver } from '../helpers/pyroscope-receiver.mjs';
import { fixturePath, pinnedNode, registerPath, repoRoot, spawnApp } from '../helpers/spawn-app.mjs';
import { agentLines, profileWindowMs } from '../helpers/reliability-harness.mjs';

const run = promisify(execFile);
let workDir;
let treeEntry;
let appDir;

before(async () => {
  workDir = mkdtempSync(path.join(os.tmpdir(), 'span-profiles-injected-'));
  const tree = path.join(workDir, 'autoinstrumentation');
  await run(pinnedNode(), [path.join(repoRoot, 'autoinstrumentation', 'build.mjs'), tree, '--skip-build'], {
    cwd: repoRoot,
    maxBuffer: 16 * 1024 * 1024,
    timeout: 5 * 60 * 1000,
  });
  treeEntry = path.join(tree, 'autoinstrumentation.js');

  // The app, with @acme/span-profiles installed (this repository) and OpenTelemetry beside it.
  appDir = path.join(workDir, 'app');
  mkdirSync(path.join(appDir, 'node_modules', '@acme'), { recursive: true });
  symlinkSync(repoRoot, path.join(appDir, 'node_modules', '@acme', 'span-profiles'), 'dir');
  symlinkSync(path.join(repoRoot, 'node_modules', '@opentelemetry'), path.join(appDir, 'node_modules', '@opentelemetry'), 'dir');
  writeFileSync(path.join(appDir, 'package.json'), JSON.stringify({ name: 'fixture-installed-app', private: true }));
  const guarded = JSON.stringify(fixturePath('guarded-app/index.js'));
  writeFileSync(
    path.join(appDir, 'requires-register.js'),
    `require('@acme/span-profiles/register');\nrequire(${guarded});\n`,
  );
  writeFileSync(
    path.join(appDir, 'uses-api.js'),
    `const { NodeSDK } = require('@opentelemetry/sdk-node');
const { createSpanProfiling } = require('@acme/span-profiles');
const spanProfiling = createSpanProfiling();
const sdk = new NodeSDK({ spanProcessors: [spanProfiling.spanProcessor], instrumentations: [] });
sdk.start();
console.log(JSON.stringify({ apiProfiler: spanProfiling.start() }));
require(${guarded});
`,
  );
});

after(() => {
  if (workDir && !process.env.KEEP_TEST_ARTIFACTS) rmSync(workDir, { recursive: true, force: true });
});

async function runInjected(t, entry, { args = [], inject = treeEntry } = {}) {
  const pyroscope = await startPyroscopeReceiver();
  const otlp = await startOtlpReceiver();
  t.after(() => Promise.all([pyroscope.close(), otlp.close()]));
  const app = await spawnApp({
    app: path.join(appDir, entry),
    loader: 'none',
    args,
    env: {
      NODE_OPTIONS: `--require ${inject}`,
      PYROSCOPE_SERVER_ADDRESS: pyroscope.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      PYROSCOPE_UPLOAD_INTERVAL: '1s',
      OTEL_BSP_SCHEDULE_DELAY: '200',
    },
  });
  const requests = 10;
  for (let i = 0; i < requests; i++) assert.equal((await app.request(`/cpu?ms=40&i=${i}`)).status, 200);
  const servers = await otlp.waitForSpans((spans) => {
    const found = spans.filter((s) => s.kind === 'SERVER' && /\/cpu/.test(s.attributes['url.path'] ?? s.attributes['http.target'] ?? ''));
    return found.length >= requests && found;
  });
  const uploads = await pyroscope.waitForUploads((all) => all.length >= 3);
  return { app, servers, uploads, otlp };
}

/** One agent: exactly one server span per request, and profile windows that never overlap. */
function assertOneAgent({ servers, uploads }) {
  const perRequest = new Map();
  for (const span of servers) {
    const key = span.attributes['url.query'] ?? span.attributes['http.target'];
    perRequest.set(key, (perRequest.get(key) ?? 0) + 1);
  }
  assert.deepEqual([...perRequest.values()].filter((n) => n !== 1), [], `one server span per request: ${JSON.stringify([...perRequest])}`);
  const windows = uploads.map(profileWindowMs).sort((a, b) => a.start - b.start);
  for (let i = 1; i < windows.length; i++) {
    assert.ok(windows[i].start >= windows[i - 1].end, `profile windows overlap: two profilers? ${JSON.stringify(windows)}`);
  }
}

test('injected by NODE_OPTIONS and required by the app: one agent, nothing printed', async (t) => {
  const result = await runInjected(t, 'requires-register.js');
  assertOneAgent(result);
  assert.deepEqual(agentLines(result.app.stderr()), []);
});

test('injected by NODE_OPTIONS and given again with --require of the installed copy: one agent, nothing printed', async (t) => {
  const result = await runInjected(t, 'requires-register.js', { args: ['--require', registerPath()] });
  assertOneAgent(result);
  assert.deepEqual(agentLines(result.app.stderr()), []);
});

for (const [label, inject] of [
  ['the image tree', () => treeEntry],
  ['the same installed copy', () => registerPath()],
]) {
  test(`injected by NODE_OPTIONS (${label}) while the app uses the API with its own SDK: one profiler, the app serves, a clear reason`, async (t) => {
    // The app must come up: a broken second binding once left the context manager unusable (app crashed in listen).
    const result = await runInjected(t, 'uses-api.js', { inject: inject() });
    const { apiProfiler } = JSON.parse(result.app.stdout().split('\n').find((line) => line.includes('apiProfiler')));
    const windows = result.uploads.map(profileWindowMs).sort((a, b) => a.start - b.start);
    for (let i = 1; i < windows.length; i++) assert.ok(windows[i].start >= windows[i - 1].end, 'one profiler');
    assert.equal(apiProfiler.running, false, "the app's profiler stays off: the injected agent profiles already");
    assert.doesNotMatch(apiProfiler.reason, /is not a function|undefined|TypeError/, `a reason a user can act on: ${apiProfiler.reason}`);
  });
}
