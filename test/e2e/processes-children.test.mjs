// child_process children reached by NODE_OPTIONS: a Node child runs its own agent (its own service,
// its spans continuing the parent's trace); npm and npx, on the default deny list, run without it;
// SPAN_PROFILES_PROCESS_ALLOW / _DENY choose the programs. The app (fixtures/child-process-app) gets
// the agent through NODE_OPTIONS only, as a container's environment would inject it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { test } from 'node:test';
import { startOtlpReceiver } from '../helpers/otlp-receiver.mjs';
import { spawnApp } from '../helpers/spawn-app.mjs';

const APP = 'fixtures/child-process-app/index.js';
const PARENT_SERVICE = 'fixture-child-process-app';
const CHILD_SERVICE = 'fixture-child-worker';

/** npm's own entry script (npm-cli.js), run by the app with its Node: from `npm test`, or the npm on PATH. */
function npmCli() {
  const fromNpm = process.env.npm_execpath;
  if (fromNpm && /npm-cli\.js$/.test(fromNpm)) return fromNpm;
  const which = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' });
  const resolved = which.status === 0 ? realpathSync(which.stdout.trim()) : '';
  if (!resolved.endsWith('npm-cli.js')) throw new Error(`cannot find npm-cli.js (npm on PATH: ${which.stdout.trim() || 'none'})`);
  return resolved;
}

async function startApp(t, env = {}) {
  const otlp = await startOtlpReceiver();
  t.after(() => otlp.close());
  const app = await spawnApp({
    app: APP,
    loader: 'node-options',
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_BSP_SCHEDULE_DELAY: '200', OTEL_LOG_LEVEL: 'debug', NPM_CLI: npmCli(), ...env },
  });
  return { app, otlp };
}

async function spawnChild(app, kind) {
  const response = await app.request(`/spawn/${kind}`, { timeoutMs: 40000 });
  assert.equal(response.status, 200);
  return response.json();
}

const childReport = (result) => JSON.parse(result.stdout.trim().split('\n').at(-1));
const serviceOf = (span) => span.resource['service.name'];

test('a Node child reached by NODE_OPTIONS runs its own agent: its own service and pid, its span continuing the parent trace', async (t) => {
  const { app, otlp } = await startApp(t);
  const result = await spawnChild(app, 'node');
  assert.equal(result.code, 0, result.stderr);
  const report = childReport(result);
  assert.deepEqual({ started: report.started, agent: report.agent, status: report.status }, { started: true, agent: true, status: 200 });
  assert.notEqual(report.pid, app.pid);

  // The child's client span (its own agent, flushed as it ended) and the parent's server span of the same request.
  const clientSpan = await otlp.waitForSpans((spans) => spans.find((s) => serviceOf(s) === CHILD_SERVICE && s.kind === 'CLIENT'));
  assert.equal(clientSpan.resource['process.pid'], report.pid, "the child's spans carry the child's pid");
  const serverSpan = await otlp.waitForSpans((spans) =>
    spans.find((s) => serviceOf(s) === PARENT_SERVICE && s.kind === 'SERVER' && s.parentSpanId === clientSpan.spanId),
  );
  assert.equal(serverSpan.traceId, clientSpan.traceId, 'one trace across the two processes');
  assert.equal(serverSpan.resource['process.pid'], app.pid);
  assert.notEqual(
    serverSpan.resource['service.instance.id'],
    clientSpan.resource['service.instance.id'],
    'two processes, two service instances',
  );
});

test('npm and npx under NODE_OPTIONS run without the agent (default SPAN_PROFILES_PROCESS_DENY), and say why at debug level', async (t) => {
  const { app } = await startApp(t);
  for (const kind of ['npm', 'npx']) {
    const result = await spawnChild(app, kind);
    assert.equal(result.code, 0, `${kind} --version works under NODE_OPTIONS: ${result.stderr}`);
    assert.match(result.stdout.trim(), /^\d+\.\d+\.\d+$/, `${kind} prints only its version: the agent writes nothing to stdout`);
    assert.match(result.stderr, /\[span-profiles\] debug: not starting in this process: "npm" is in SPAN_PROFILES_PROCESS_DENY/);
    assert.doesNotMatch(result.stderr, /\[span-profiles\] info: @acme\/span-profiles/, `no agent started in ${kind}`);
  }
});

test('SPAN_PROFILES_PROCESS_ALLOW names the only programs the agent starts in; _DENY keeps a named program out', async (t) => {
  for (const [variable, value] of [
    ['SPAN_PROFILES_PROCESS_ALLOW', PARENT_SERVICE],
    ['SPAN_PROFILES_PROCESS_DENY', CHILD_SERVICE],
    ['SPAN_PROFILES_PROCESS_ALLOW', 'fixture-child-*'],
  ]) {
    await t.test(`${variable}=${value}`, async (t) => {
      const { app, otlp } = await startApp(t, { [variable]: value });
      const result = await spawnChild(app, 'node');
      assert.equal(result.code, 0, result.stderr);
      const report = childReport(result);
      const childRuns = value === 'fixture-child-*';
      assert.equal(report.agent, childRuns, `agent in the child: ${result.stderr}`);
      if (!childRuns) assert.match(result.stderr, new RegExp(`debug: not starting in this process: .*${variable}`));
      // The parent's server span for the child's request arrives either way; the child's own spans only if it ran the agent.
      await otlp.waitForSpans((spans) => spans.some((s) => serviceOf(s) === PARENT_SERVICE && s.kind === 'SERVER'));
      assert.equal(otlp.spans.some((s) => serviceOf(s) === CHILD_SERVICE), childRuns, `spans from ${CHILD_SERVICE}`);
      if (!childRuns) {
        const parentSpan = otlp.spans.find((s) => serviceOf(s) === PARENT_SERVICE && s.kind === 'SERVER');
        assert.equal(parentSpan.parentSpanId, '', 'no trace context came from the uninstrumented child');
      }
    });
  }
});
