// The span linker in process, as the first processor of a real OpenTelemetry tracer provider: local roots
// (no parent, or a remote one) get `pyroscope.profile.id` = their span id, descendants share their root's
// label object (or get their own with OTEL_PYROSCOPE_ROOT_SPAN_ONLY=false), only the owner's end makes the
// name final, and nothing is promised to Grafana while the profiler is off.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { SpanLinker, PROFILE_ID_ATTRIBUTE } = require('../../../dist/linking/span-linker.js');
const { SpanLabels } = require('../../../dist/linking/span-labels.js');
const { TracerProvider } = require('@opentelemetry/sdk-trace');
const { ROOT_CONTEXT, trace, TraceFlags } = require('@opentelemetry/api');

function setup({ rootSpanOnly = true, active = true } = {}) {
  const linker = new SpanLinker({ rootSpanOnly });
  linker.active = active;
  const provider = new TracerProvider({ spanProcessors: [linker] });
  const tracer = provider.getTracer('span-linker-test');
  /** Starts a span under `parent` (a span or a context); returns it with the context it is active in. */
  const start = (name, parent) => {
    const parentContext = parent === undefined ? ROOT_CONTEXT : 'spanContext' in parent ? trace.setSpan(ROOT_CONTEXT, parent) : parent;
    const span = tracer.startSpan(name, {}, parentContext);
    return { span, context: trace.setSpan(ROOT_CONTEXT, span) };
  };
  return { linker, start };
}

test('a local root gets pyroscope.profile.id and its own labels; its children share them', () => {
  const { linker, start } = setup();
  const root = start('GET');
  const child = start('pg.query', root.span);
  const grandchild = start('pg.connect', child.span);

  const labels = linker.labelsFor(root.context);
  assert.ok(labels instanceof SpanLabels);
  assert.equal(labels.spanId, root.span.spanContext().spanId);
  assert.equal(labels.traceId, root.span.spanContext().traceId);
  assert.equal(linker.labelsFor(child.context), labels, 'the same object: nothing allocated per child');
  assert.equal(linker.labelsFor(grandchild.context), labels);

  for (const { span } of [grandchild, child, root]) span.end();
  assert.equal(root.span.attributes[PROFILE_ID_ATTRIBUTE], root.span.spanContext().spanId);
  assert.match(root.span.attributes[PROFILE_ID_ATTRIBUTE], /^[0-9a-f]{16}$/);
  assert.equal(child.span.attributes[PROFILE_ID_ATTRIBUTE], undefined, 'only local roots carry the link');
});

test('a span whose parent is remote is a local root', () => {
  const { linker, start } = setup();
  const remote = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    spanId: '00f067aa0ba902b7',
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
  });
  const server = start('GET /orders/:id', remote);
  assert.equal(linker.labelsFor(server.context).spanId, server.span.spanContext().spanId);
  assert.equal(linker.labelsFor(server.context).traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
  server.span.end();
  assert.equal(server.span.attributes[PROFILE_ID_ATTRIBUTE], server.span.spanContext().spanId);
});

test('rootSpanOnly=false: every span gets its own labels and the attribute', () => {
  const { linker, start } = setup({ rootSpanOnly: false });
  const root = start('GET');
  const child = start('work', root.span);
  const rootLabels = linker.labelsFor(root.context);
  const childLabels = linker.labelsFor(child.context);
  assert.notEqual(childLabels, rootLabels);
  assert.equal(childLabels.spanId, child.span.spanContext().spanId);
  assert.equal(childLabels.traceId, root.span.spanContext().traceId);
  child.span.end();
  root.span.end();
  assert.equal(child.span.attributes[PROFILE_ID_ATTRIBUTE], child.span.spanContext().spanId);
});

test("the root's end makes its late name final; a child's end does not", () => {
  const { linker, start } = setup();
  const root = start('GET');
  const child = start('middleware - query', root.span);
  const labels = linker.labelsFor(root.context);
  assert.equal(labels.name, 'GET');
  assert.equal(labels.hasEnded, false);
  assert.deepEqual(labels.toLabelSet(true), { span_id: labels.spanId, trace_id: labels.traceId }, 'no name before it is final');

  child.span.end();
  root.span.updateName('GET /orders/:orderId'); // the framework reports its route at the end
  assert.equal(labels.hasEnded, false, "a child's end leaves the root running");
  assert.equal(labels.name, 'GET /orders/:orderId', 'the current name is read through the span');

  root.span.end();
  assert.equal(labels.hasEnded, true);
  root.span.updateName('renamed after the end'); // ignored by the SDK, and by the labels
  assert.equal(labels.name, 'GET /orders/:orderId');
  assert.deepEqual(labels.toLabelSet(true), { span_id: labels.spanId, trace_id: labels.traceId, span_name: 'GET /orders/:orderId' });
  assert.deepEqual(labels.toLabelSet(false), { span_id: labels.spanId, trace_id: labels.traceId });
});

test('onLabelsEnded hears of each label object once, when its owner ends, with the final name', () => {
  const { linker, start } = setup();
  const heard = [];
  linker.onLabelsEnded = (labels) => heard.push([labels.spanId, labels.name, labels.hasEnded]);
  const root = start('GET');
  const child = start('query', root.span);
  child.span.end();
  assert.deepEqual(heard, [], "a child's end is not its root's");
  root.span.updateName('GET /orders/:orderId');
  root.span.end();
  assert.deepEqual(heard, [[root.span.spanContext().spanId, 'GET /orders/:orderId', true]]);
});

test("the labels carry the span's start and end in Unix nanoseconds", () => {
  const { linker, start } = setup();
  const before = Date.now();
  const root = start('GET');
  const labels = linker.labelsFor(root.context);
  assert.equal(labels.endNanos, Infinity, 'running');
  root.span.end();
  const after = Date.now();
  assert.ok(labels.startNanos >= before * 1e6 - 1e6 && labels.startNanos <= after * 1e6 + 1e6, `start ${labels.startNanos}`);
  assert.ok(labels.endNanos >= labels.startNanos && labels.endNanos <= after * 1e6 + 1e6, `end ${labels.endNanos}`);
});

test('while the profiler is off, spans get neither the attribute nor labels', () => {
  const { linker, start } = setup({ active: false });
  const early = start('GET');
  assert.equal(linker.labelsFor(early.context), undefined);
  linker.active = true;
  const child = start('after the profiler started', early.span);
  assert.equal(linker.labelsFor(child.context), undefined, 'a child of an unlinked root has no labels to share');
  early.span.end();
  child.span.end();
  assert.equal(early.span.attributes[PROFILE_ID_ATTRIBUTE], undefined);
  const late = start('POST');
  assert.ok(linker.labelsFor(late.context));
});

test('outside any span, and for spans it never saw, there are no labels', () => {
  const { linker } = setup();
  assert.equal(linker.labelsFor(ROOT_CONTEXT), undefined);
  const foreign = new TracerProvider().getTracer('other').startSpan('not ours');
  assert.equal(linker.labelsFor(trace.setSpan(ROOT_CONTEXT, foreign)), undefined);
});

test('flush and shutdown resolve at once', async () => {
  const linker = new SpanLinker({ rootSpanOnly: true });
  await linker.forceFlush();
  await linker.shutdown();
});
