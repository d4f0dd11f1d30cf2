// Express 5 gets one span per middleware and one per route handler, no duplicates (the router
// instrumentation would wrap every layer the express one already wraps), and http.route only where it
// is the route. The exact span tree of one request of fixtures/express5-app.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { startOtlpReceiver } from '../helpers/otlp-receiver.mjs';
import { spansOfProcess } from '../helpers/span-tree.mjs';
import { fixturePath, killAllApps, spawnApp } from '../helpers/spawn-app.mjs';

after(killAllApps);

/** The spans of one trace as [depth, name, kind, http.route], children in start order. */
function tree(spans) {
  const children = new Map();
  for (const span of spans) {
    const parent = spans.some((s) => s.spanId === span.parentSpanId) ? span.parentSpanId : '';
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(span);
  }
  const out = [];
  const walk = (id, depth) => {
    for (const span of (children.get(id) ?? []).sort((a, b) => (a.startTimeUnixNano < b.startTimeUnixNano ? -1 : 1))) {
      out.push([depth, span.name, span.kind, span.attributes['http.route'] ?? null]);
      walk(span.spanId, depth + 1);
    }
  };
  walk('', 0);
  return out;
}

async function spanTreeOfOneRequest(env = {}) {
  const otlp = await startOtlpReceiver();
  after(() => otlp.close());
  const app = await spawnApp({
    app: fixturePath('express5-app/index.js'),
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_BSP_SCHEDULE_DELAY: '100', ...env },
  });
  const response = await app.request('/api/users/7');
  assert.equal(response.status, 200, response.body);
  const server = await otlp.waitForSpans((all) => spansOfProcess(all, app.pid).find((s) => s.kind === 'SERVER'));
  // Every span of the trace ends before the server span: once it is in, all are (one export batch).
  const spans = spansOfProcess(otlp.spans, app.pid).filter((s) => s.traceId === server.traceId);
  await app.dispose();
  return tree(spans);
}

test('Express 5: one span per middleware and per route, http.route only on the route', async () => {
  assert.deepEqual(await spanTreeOfOneRequest(), [
    [0, 'GET /api/users/:id', 'SERVER', '/api/users/:id'],
    [1, 'middleware - jsonParser', 'INTERNAL', null],
    [1, 'middleware - requestId', 'INTERNAL', null],
    [1, 'router - /api', 'INTERNAL', null],
    [1, 'middleware - auth', 'INTERNAL', null],
    [1, 'request handler - /api/users/:id', 'INTERNAL', '/api/users/:id'],
  ]);
});

test('the router instrumentation still loads when named explicitly', async () => {
  const spans = await spanTreeOfOneRequest({ OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,express,router' });
  assert.ok(spans.some(([, name]) => name === 'middleware - patched'), JSON.stringify(spans));
});
