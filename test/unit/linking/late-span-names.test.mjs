// Late span names in process: samples of a span still running at the cut get `span_name` once the span
// has ended, with its final name (the route, not the provisional `GET`), and only those samples; the wait
// for the span to end is bounded and cut short at shutdown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { PendingSpanNames } = require('../../../dist/linking/late-span-names.js');
const { SpanLabels } = require('../../../dist/linking/span-labels.js');
const { Profile, StringTable, Sample, Label, ValueType } = require('pprof-format');

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

/** A running span as the labels see it: its name can still change. */
function running(spanId, name) {
  const span = { name };
  return { span, labels: new SpanLabels(spanId, TRACE, span) };
}

/** A raw cut: one sample per entry, labelled with the given span id and, if given, a span name. */
function cut(entries) {
  const strings = new StringTable();
  const label = (key, value) => new Label({ key: strings.dedup(key), str: strings.dedup(value) });
  return new Profile({
    sampleType: [new ValueType({ type: strings.dedup('sample'), unit: strings.dedup('count') })],
    sample: entries.map(({ spanId, name }) => {
      const labels = spanId ? [label('span_id', spanId), label('trace_id', TRACE)] : [];
      if (name) labels.push(label('span_name', name));
      return new Sample({ locationId: [], value: [1], label: labels });
    }),
    stringTable: strings,
  });
}

/** Each sample's labels as { key: value }. */
function labelsOf(profile) {
  const s = profile.stringTable.strings;
  return profile.sample.map((sample) => Object.fromEntries(sample.label.map((l) => [s[Number(l.key)], s[Number(l.str)]])));
}

test('samples of a pending span get its final name; named and other samples stay as they are', () => {
  const pending = new PendingSpanNames();
  const request = running('00000000000000a1', 'GET');
  pending.add(request.labels);
  request.span.name = 'GET /orders/:orderId';
  request.labels.ended('GET /orders/:orderId');

  const profile = cut([
    { spanId: '00000000000000a1' },
    { spanId: '00000000000000b2' },
    { spanId: '00000000000000a1' },
    { spanId: '00000000000000c3', name: 'POST /cart' },
    {},
  ]);
  pending.applyTo(profile);
  assert.deepEqual(labelsOf(profile), [
    { span_id: '00000000000000a1', trace_id: TRACE, span_name: 'GET /orders/:orderId' },
    { span_id: '00000000000000b2', trace_id: TRACE },
    { span_id: '00000000000000a1', trace_id: TRACE, span_name: 'GET /orders/:orderId' },
    { span_id: '00000000000000c3', trace_id: TRACE, span_name: 'POST /cart' },
    {},
  ]);
});

test('a sample that already has a name keeps it, and gets no second one', () => {
  const pending = new PendingSpanNames();
  const request = running('00000000000000a1', 'GET');
  request.labels.ended('GET /health');
  pending.add(request.labels);
  const profile = cut([{ spanId: '00000000000000a1', name: 'GET /health' }]);
  pending.applyTo(profile);
  assert.deepEqual(labelsOf(profile), [{ span_id: '00000000000000a1', trace_id: TRACE, span_name: 'GET /health' }]);
  assert.equal(profile.sample[0].label.length, 3);
});

test('a span still running after the wait keeps its current name; an empty name adds no label', () => {
  const pending = new PendingSpanNames();
  const slow = running('00000000000000a1', 'GET');
  const unnamed = running('00000000000000b2', '');
  pending.add(slow.labels);
  pending.add(unnamed.labels);
  const profile = cut([{ spanId: '00000000000000a1' }, { spanId: '00000000000000b2' }]);
  pending.applyTo(profile);
  assert.deepEqual(labelsOf(profile), [
    { span_id: '00000000000000a1', trace_id: TRACE, span_name: 'GET' },
    { span_id: '00000000000000b2', trace_id: TRACE },
  ]);
});

test('a span is pending once however many samples it has; nothing pending leaves the cut untouched', () => {
  const pending = new PendingSpanNames();
  const request = running('00000000000000a1', 'GET');
  pending.add(request.labels);
  pending.add(request.labels);
  pending.add(running('00000000000000a1', 'other object, same span').labels);
  assert.equal(pending.size, 1);

  const empty = new PendingSpanNames();
  const profile = cut([{ spanId: '00000000000000a1' }]);
  const strings = profile.stringTable.strings.length;
  empty.applyTo(profile);
  assert.equal(profile.stringTable.strings.length, strings, 'not even a string added');
  assert.deepEqual(labelsOf(profile), [{ span_id: '00000000000000a1', trace_id: TRACE }]);
});

test('settle() returns once every pending span has ended', async () => {
  const pending = new PendingSpanNames();
  const a = running('00000000000000a1', 'GET');
  const b = running('00000000000000b2', 'GET');
  pending.add(a.labels);
  pending.add(b.labels);
  // The order of events, not elapsed times: a timer's delay counts from the loop's cached clock, which can
  // be earlier than a performance.now() taken after it was set (a CI run saw 50.6 ms for a 60 ms timer).
  const events = [];
  setTimeout(() => {
    a.labels.ended('GET /a');
    events.push('a ended');
  }, 20);
  setTimeout(() => {
    b.labels.ended('GET /b');
    events.push('b ended');
  }, 60);
  const started = performance.now();
  await pending.settle(10_000);
  events.push('settled');
  assert.deepEqual(events, ['a ended', 'b ended', 'settled']);
  const waited = performance.now() - started;
  assert.ok(waited < 5_000, `settled long before its 10 s limit (${waited} ms)`);
});

test('settle() gives up after maxWaitMs, and at once when hurried', async () => {
  const pending = new PendingSpanNames();
  pending.add(running('00000000000000a1', 'GET').labels);
  let started = performance.now();
  await pending.settle(120);
  let waited = performance.now() - started;
  assert.ok(waited >= 110 && waited < 5_000, `waited ${waited} ms for a span that never ends`);

  started = performance.now();
  await pending.settle(10_000, () => true);
  waited = performance.now() - started;
  assert.ok(waited < 1_000, `hurried: ${waited} ms`);

  const empty = new PendingSpanNames();
  started = performance.now();
  await empty.settle(10_000);
  assert.ok(performance.now() - started < 1_000, 'nothing pending: no wait');
});
