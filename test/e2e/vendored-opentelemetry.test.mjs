// The agent starts with its OpenTelemetry packages from its bundle (dist/vendor/), seeded into require.cache
// under the installed packages' paths. An app with its own @opentelemetry/api of another (compatible)
// version keeps its own copy, and still sees the agent's provider and context through api's global: its
// manual span is the child of the http instrumentation's server span. Neither the instrumentations nor the
// agent load a second copy of the packages the bundle holds.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startOtlpReceiver } from '../helpers/otlp-receiver.mjs';
import { killAllApps, repoRoot, spawnNode } from '../helpers/spawn-app.mjs';

after(killAllApps);

let workDir;
let appDir;

// A request to itself; the handler makes a span with the app's own api; then it prints what is loaded.
const APP = `
const http = require('node:http');
const api = require('@opentelemetry/api');
const server = http.createServer((req, res) => {
  api.trace.getTracer('app').startActiveSpan('app-work', (span) => {
    span.end();
    res.end('ok');
  });
});
server.listen(0, '127.0.0.1', () => {
  http.get({ host: '127.0.0.1', port: server.address().port, path: '/work' }, (res) => {
    res.resume();
    res.on('end', () => {
      server.close();
      const roots = {};
      for (const file of Object.keys(require.cache)) {
        const m = file.match(/^(.*\\/@opentelemetry\\/[^/]+)\\//);
        if (m) roots[m[1]] = (roots[m[1]] ?? 0) + 1;
      }
      console.log(JSON.stringify({ apiFile: require.resolve('@opentelemetry/api'), roots }));
    });
  });
});
`;

before(() => {
  workDir = mkdtempSync(path.join(os.tmpdir(), 'span-profiles-vendored-'));
  appDir = path.join(workDir, 'app');
  // The agent installed in the app; the app's own @opentelemetry/api, a patch release above the agent's.
  mkdirSync(path.join(appDir, 'node_modules', '@acme'), { recursive: true });
  symlinkSync(repoRoot, path.join(appDir, 'node_modules', '@acme', 'span-profiles'), 'dir');
  const ownApi = path.join(appDir, 'node_modules', '@opentelemetry', 'api');
  cpSync(path.join(repoRoot, 'node_modules', '@opentelemetry', 'api'), ownApi, { recursive: true });
  const pkgFile = path.join(ownApi, 'package.json');
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8'));
  const agentApiVersion = pkg.version;
  const [major, minor, patch] = agentApiVersion.split('.').map(Number);
  const appApiVersion = `${major}.${minor}.${patch + 1}`;
  writeFileSync(pkgFile, JSON.stringify({ ...pkg, version: appApiVersion }));
  const versionFile = path.join(ownApi, 'dist', 'version.cjs');
  const versionSource = readFileSync(versionFile, 'utf8');
  assert.ok(versionSource.includes(`"${agentApiVersion}"`), 'the api copy states its version in dist/version.cjs');
  writeFileSync(versionFile, versionSource.replace(`"${agentApiVersion}"`, `"${appApiVersion}"`));
  writeFileSync(path.join(appDir, 'package.json'), JSON.stringify({ name: 'fixture-own-api-app', private: true }));
  writeFileSync(path.join(appDir, 'app.js'), APP);
});

after(() => {
  if (workDir && !process.env.KEEP_TEST_ARTIFACTS) rmSync(workDir, { recursive: true, force: true });
});

function runApp(env) {
  return spawnNode({
    loader: 'none',
    cwd: appDir,
    args: ['--require', '@acme/span-profiles/register'],
    argv: [path.join(appDir, 'app.js')],
    env: { PYROSCOPE_SERVER_ADDRESS: '', OTEL_PYROSCOPE_START_PROFILING: 'false', OTEL_LOG_LEVEL: 'debug', ...env },
  });
}

test("an app with its own @opentelemetry/api: its span joins the agent's trace; one copy of each bundled package", async (t) => {
  const otlp = await startOtlpReceiver();
  t.after(() => otlp.close());
  const app = runApp({
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http',
  });
  const exit = await app.waitForExit();
  assert.deepEqual(exit, { code: 0, signal: null }, app.stderr());
  assert.match(app.stderr(), /OpenTelemetry packages from the agent's bundle: @opentelemetry\/api \d/);

  const { apiFile, roots } = JSON.parse(app.stdout().trim().split('\n').pop());
  assert.ok(apiFile.startsWith(path.join(appDir, 'node_modules', '@opentelemetry', 'api')), `the app resolves its own api: ${apiFile}`);
  const { packages } = JSON.parse(readFileSync(path.join(repoRoot, 'dist', 'vendor', 'opentelemetry.json'), 'utf8'));
  const shared = Object.keys(packages).filter((name) => packages[name].shared);
  const agentRoots = Object.entries(roots).filter(([dir]) => shared.some((name) => dir === path.join(repoRoot, 'node_modules', name)));
  // Each shared bundled package the process used is one require.cache entry: the seeded one (none loaded
  // from disk). Semantic conventions are not shared: the http instrumentation loads them from disk.
  assert.ok(agentRoots.length >= 3, `the agent's api, core and context-async-hooks are used: ${JSON.stringify(roots)}`);
  assert.deepEqual(agentRoots.filter(([, files]) => files !== 1), [], `one module per bundled package: ${JSON.stringify(roots)}`);
  const appRoots = Object.keys(roots).filter((dir) => dir.startsWith(appDir));
  assert.equal(appRoots.length, 1, `the app's own api is loaded from disk: ${JSON.stringify(roots)}`);

  const spans = await otlp.waitForSpans((all) => all.some((s) => s.name === 'app-work') && all.some((s) => s.kind === 'SERVER'));
  const server = spans.find((s) => s.kind === 'SERVER');
  const work = spans.find((s) => s.name === 'app-work');
  assert.equal(work.traceId, server.traceId, "the app's span is in the server span's trace");
  assert.equal(work.parentSpanId, server.spanId, "the app's span is the server span's child");
});

test('a disabled agent leaves require.cache alone: the packages it loads come from disk', async () => {
  const app = runApp({ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'none' });
  const exit = await app.waitForExit();
  assert.deepEqual(exit, { code: 0, signal: null }, app.stderr());
  assert.doesNotMatch(app.stderr(), /from the agent's bundle/);
  const { roots } = JSON.parse(app.stdout().trim().split('\n').pop());
  const agentApi = path.join(repoRoot, 'node_modules', '@opentelemetry', 'api');
  // The agent's modules still load (as before the bundle), each package as its own files.
  assert.ok(roots[agentApi] > 1, `the agent's api loaded from its files: ${JSON.stringify(roots)}`);
});
