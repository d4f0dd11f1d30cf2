// The three fixture apps (plain node:http, Express 5, an ES module app) under
// each way of loading the agent (--require, --import, NODE_OPTIONS), exporting to a local OTLP
// receiver. Asserts span names, http.route, parent/child structure and the resource.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startOtlpReceiver } from '../helpers/otlp-receiver.mjs';
import { describeSpans, isDescendantOf, requestPathOf, spansOfProcess } from '../helpers/span-tree.mjs';
import { fixturePath, killAllApps, repoRoot, spawnApp } from '../helpers/spawn-app.mjs';

after(killAllApps);

let otlp;
before(async () => {
  otlp = await startOtlpReceiver();
});
after(() => otlp?.close());

const LOADERS = ['require', 'import', 'node-options'];

async function startUnderAgent(entry, loader, env = {}) {
  return spawnApp({
    app: fixturePath(entry),
    loader,
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_LOG_LEVEL: 'info',
      ...env,
    },
  });
}

/** Waits until `pick(spans of this app)` returns something, and returns it. */
function waitForAppSpans(app, pick) {
  return otlp.waitForSpans(() => pick(spansOfProcess(otlp.spans, app.pid)));
}

const serverSpanFor = (path, query) => (spans) =>
  spans.find(
    (s) => s.kind === 'SERVER' && requestPathOf(s) === path && (query === undefined || s.attributes['url.query'] === query),
  );

/** The outgoing call of `outer` and the server span it produced: server -> ... -> client -> server. */
function assertNestedCall(spans, outer, innerPath) {
  const client = spans.find((s) => s.kind === 'CLIENT' && s.traceId === outer.traceId && isDescendantOf(s, outer, spans));
  assert.ok(client, `a CLIENT span under ${outer.name} (${requestPathOf(outer)}):\n${describeSpans(spans)}`);
  const inner = spans.find((s) => s.kind === 'SERVER' && s.parentSpanId === client.spanId);
  assert.ok(inner, `a SERVER span whose parent is the CLIENT span ${client.spanId}:\n${describeSpans(spans)}`);
  assert.equal(inner.traceId, outer.traceId, 'one trace across the hop');
  assert.equal(inner.parentIsRemote, true, 'the inner server span continues a remote (propagated) parent');
  assert.equal(requestPathOf(inner), innerPath);
  assert.equal(outer.parentSpanId, '', 'the outer request is a trace root');
  return { client, inner };
}

function assertAgentStartedCleanly(app) {
  const stderr = app.stderr();
  assert.match(stderr, new RegExp(`info: @acme/span-profiles .*, pid ${app.pid}\n`));
  assert.match(stderr, /ESM hook: in-thread/);
  assert.equal(stderr.match(/info: @acme\/span-profiles /g).length, 1, 'one startup summary');
  assert.doesNotMatch(stderr, /\[span-profiles\] (warn|error)/, 'no warnings or errors at start');
}

function assertResource(span, app, serviceName) {
  assert.equal(span.resource['service.name'], serviceName, 'service.name from the fixture package.json');
  assert.equal(span.resource['telemetry.sdk.language'], 'nodejs');
  assert.equal(span.resource['process.pid'], app.pid);
}

const FIXTURES = [
  {
    name: 'plain node:http',
    entry: 'http-server/index.js',
    service: 'fixture-http-server',
    async exercise(app) {
      assert.equal((await app.request('/cpu?ms=5')).status, 200);
      assert.equal((await app.request('/missing')).status, 404);
      const spans = await waitForAppSpans(app, (s) => serverSpanFor('/cpu')(s) && serverSpanFor('/missing')(s) && s);
      const cpu = serverSpanFor('/cpu')(spans);
      const missing = serverSpanFor('/missing')(spans);
      assert.equal(cpu.name, 'GET', 'no framework: the span keeps the bare method name');
      assert.equal(cpu.attributes['http.route'], undefined);
      assert.equal(cpu.parentSpanId, '');
      assert.equal(cpu.scope.name, '@opentelemetry/instrumentation-http');
      assert.equal(cpu.attributes['http.response.status_code'], 200);
      assert.equal(missing.attributes['http.response.status_code'], 404);
      assert.notEqual(cpu.traceId, missing.traceId, 'two requests, two traces');
      return cpu;
    },
  },
  {
    name: 'Express 5',
    entry: 'express-app/index.js',
    service: 'fixture-express-app',
    async exercise(app) {
      assert.equal((await app.request('/users/42?ms=5')).status, 200);
      assert.equal((await app.request('/proxy?via=http')).status, 200);
      assert.equal((await app.request('/proxy?via=fetch')).status, 200);
      const userSpan = serverSpanFor('/users/42');
      const proxyHttp = serverSpanFor('/proxy', 'via=http');
      const proxyFetch = serverSpanFor('/proxy', 'via=fetch');
      const spans = await waitForAppSpans(app, (s) => {
        if (!userSpan(s) || !proxyHttp(s) || !proxyFetch(s)) return undefined;
        // Both proxied calls' inner server spans are in too.
        return s.filter((x) => x.kind === 'SERVER' && requestPathOf(x) === '/users/7').length >= 2 ? s : undefined;
      });

      const user = userSpan(spans);
      assert.equal(user.name, 'GET /users/:id', 'the server span is renamed after the route');
      assert.equal(user.attributes['http.route'], '/users/:id');
      assert.equal(user.parentSpanId, '');
      const handler = spans.find(
        (s) => s.kind === 'INTERNAL' && /express|router/.test(s.scope.name) && s.traceId === user.traceId,
      );
      assert.ok(handler, `an Express/router span in the /users/42 trace:\n${describeSpans(spans)}`);
      assert.ok(isDescendantOf(handler, user, spans), 'the Express spans are children of the server span');

      for (const [outer, via] of [
        [proxyHttp(spans), 'http'],
        [proxyFetch(spans), 'fetch'],
      ]) {
        assert.equal(outer.name, 'GET /proxy');
        assert.equal(outer.attributes['http.route'], '/proxy');
        const { client, inner } = assertNestedCall(spans, outer, '/users/7');
        assert.equal(
          client.scope.name,
          via === 'fetch' ? '@opentelemetry/instrumentation-undici' : '@opentelemetry/instrumentation-http',
        );
        assert.equal(inner.name, 'GET /users/:id');
        assert.equal(inner.attributes['http.route'], '/users/:id');
      }
      return user;
    },
  },
  {
    name: 'ES module',
    entry: 'esm-app/index.mjs',
    service: 'fixture-esm-app',
    async exercise(app) {
      assert.equal((await app.request('/cpu?ms=5')).status, 200);
      assert.equal((await app.request('/outgoing')).status, 200);
      const spans = await waitForAppSpans(
        app,
        (s) => serverSpanFor('/cpu')(s) && serverSpanFor('/outgoing')(s) && serverSpanFor('/')(s) && s,
      );
      const cpu = serverSpanFor('/cpu')(spans);
      assert.equal(cpu.name, 'GET');
      assert.equal(cpu.parentSpanId, '');
      // The outgoing call goes through a named import of node:http: only the ESM hook instruments it.
      const { client } = assertNestedCall(spans, serverSpanFor('/outgoing')(spans), '/');
      assert.equal(client.scope.name, '@opentelemetry/instrumentation-http');
      return cpu;
    },
  },
];

for (const fixture of FIXTURES) {
  describe(`${fixture.name} app (${fixture.entry})`, () => {
    for (const loader of LOADERS) {
      test(`under ${loader}: spans, structure and resource`, async () => {
        const app = await startUnderAgent(fixture.entry, loader);
        assertAgentStartedCleanly(app);
        const span = await fixture.exercise(app);
        assertResource(span, app, fixture.service);
        for (const s of spansOfProcess(otlp.spans, app.pid)) {
          assert.equal(s.resource['service.name'], fixture.service, 'every span shares one resource');
        }
      });
    }
  });
}

describe('resource attributes from the environment', () => {
  test('OTEL_SERVICE_NAME wins over OTEL_RESOURCE_ATTRIBUTES, whose other attributes are kept and decoded', async () => {
    const app = await startUnderAgent('express-app/index.js', 'require', {
      OTEL_SERVICE_NAME: 'checkout-api',
      OTEL_RESOURCE_ATTRIBUTES:
        'service.name=from-attributes,service.namespace=shop,deployment.environment.name=staging,team=payments%20core',
    });
    assert.match(app.stderr(), /service: checkout-api \(from OTEL_SERVICE_NAME\)/);
    await app.request('/health');
    const span = await waitForAppSpans(app, serverSpanFor('/health'));
    assert.equal(span.resource['service.name'], 'checkout-api');
    assert.equal(span.resource['service.namespace'], 'shop');
    assert.equal(span.resource['deployment.environment.name'], 'staging');
    assert.equal(span.resource['team'], 'payments core', 'values are percent-decoded (OTel spec)');
  });

  test('service.name from OTEL_RESOURCE_ATTRIBUTES wins over package.json', async () => {
    const app = await startUnderAgent('http-server/index.js', 'require', {
      OTEL_RESOURCE_ATTRIBUTES: 'service.name=billing,service.version=1.2.3',
    });
    await app.request('/');
    const span = await waitForAppSpans(app, serverSpanFor('/'));
    assert.equal(span.resource['service.name'], 'billing');
    assert.equal(span.resource['service.version'], '1.2.3');
  });
});

describe('the startup summary says how the agent was loaded', () => {
  // As an app installs it: the package specifier, resolved from the working directory's node_modules.
  let installDir;
  before(() => {
    installDir = mkdtempSync(path.join(os.tmpdir(), 'span-profiles-install-'));
    mkdirSync(path.join(installDir, 'node_modules', '@acme'), { recursive: true });
    symlinkSync(repoRoot, path.join(installDir, 'node_modules', '@acme', 'span-profiles'), 'dir');
  });
  after(() => rmSync(installDir, { recursive: true, force: true }));

  const SPECIFIER = '@acme/span-profiles/register';
  const CASES = [
    { how: `--require ${SPECIFIER}`, args: ['--require', SPECIFIER], expected: '--require' },
    { how: `--import ${SPECIFIER}`, args: ['--import', SPECIFIER], expected: '--import' },
    { how: `NODE_OPTIONS=--require ${SPECIFIER}`, nodeOptions: `--require ${SPECIFIER}`, expected: 'NODE_OPTIONS --require' },
    { how: `NODE_OPTIONS=--import ${SPECIFIER}`, nodeOptions: `--import ${SPECIFIER}`, expected: 'NODE_OPTIONS --import' },
    // By file path, as the image's /autoinstrumentation tree or a checkout is loaded.
    { how: '--import <path of dist/register.js>', loader: 'import', expected: '--import' },
    { how: 'NODE_OPTIONS=--require <path of dist/register.js>', loader: 'node-options', expected: 'NODE_OPTIONS --require' },
  ];
  for (const { how, args = [], nodeOptions, loader = 'none', expected } of CASES) {
    test(how, async () => {
      const app = await spawnApp({
        app: fixturePath('http-server/index.js'),
        loader,
        args,
        cwd: loader === 'none' ? installDir : undefined,
        env: { OTEL_LOG_LEVEL: 'info', OTEL_TRACES_EXPORTER: 'none', NODE_OPTIONS: nodeOptions },
      });
      assert.match(app.stderr(), new RegExp(`info: @acme/span-profiles .*, loaded with ${expected}, pid ${app.pid}\\n`));
    });
  }
});
