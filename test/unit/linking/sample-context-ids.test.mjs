// The numbers the frame binding writes into pprof's sample context: given once per label object, resolved
// to the running span's labels, then to a record made when the span ended, kept until samples have been
// labelled well past the end (and dropped a few at a time as later spans end); ids that do not fit the typed
// records survive exactly; nothing grows without bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { SampleContextIds, ENDED_EARLIER } = require('../../../dist/linking/sample-context-ids.js');
const { SpanLabels } = require('../../../dist/linking/span-labels.js');

const T0 = 1_765_000_000_000_000_000;
let serial = 0;
function span(name = 'GET', startNanos = T0) {
  serial++;
  return new SpanLabels(serial.toString(16).padStart(16, '0'), 'f'.repeat(16) + serial.toString(16).padStart(16, '0'), { name }, startNanos);
}
function end(ids, labels, name, endNanos) {
  labels.ended(name, endNanos);
  ids.spanEnded(labels);
}

test('a label object gets one small integer, at its first write', () => {
  const ids = new SampleContextIds();
  const a = span();
  const b = span();
  assert.equal(a.sampleId, 0, 'no number before the first write');
  const id = ids.idOf(a);
  assert.ok(Number.isInteger(id) && id > 0 && id <= 0x3fffffff, 'a Smi on every V8 build');
  assert.equal(ids.idOf(a), id);
  assert.notEqual(ids.idOf(b), id);
  assert.deepEqual(ids.size, { running: 2, ended: 0 });
});

test('a running span resolves to its labels object; an ended one to a record with its ids, times and final name', () => {
  const ids = new SampleContextIds();
  const labels = span('GET', T0 + 123);
  const id = ids.idOf(labels);
  assert.equal(ids.labelsOf(id), labels);
  end(ids, labels, 'GET /orders/:id', T0 + 7_000_123);
  const restored = ids.labelsOf(id);
  assert.notEqual(restored, labels);
  assert.deepEqual(
    [restored.spanId, restored.traceId, restored.name, restored.startNanos, restored.endNanos, restored.hasEnded, restored.toLabelSet(true)],
    [labels.spanId, labels.traceId, 'GET /orders/:id', T0 + 123, T0 + 7_000_123, true, labels.toLabelSet(true)],
  );
  assert.equal(ids.labelsOf(id), restored, 'made back once');
  assert.deepEqual(ids.size, { running: 0, ended: 1 });
});

test('ids that are not lowercase hex of the usual length, and names past the cap, are kept exactly', () => {
  const ids = new SampleContextIds();
  const odd = [
    new SpanLabels('ABCDEF0123456789', '0123456789ABCDEF0123456789ABCDEF', { name: 'upper' }, T0),
    new SpanLabels('abc', 'not-a-trace-id', { name: 'short' }, T0),
    new SpanLabels('0123456\u013089abcdef', 'g'.repeat(32), { name: 'not hex' }, T0),
  ];
  const numbers = odd.map((labels) => ids.idOf(labels));
  odd.forEach((labels) => end(ids, labels, labels.name, T0 + 1));
  numbers.forEach((id, i) => {
    assert.equal(ids.labelsOf(id).spanId, odd[i].spanId);
    assert.equal(ids.labelsOf(id).traceId, odd[i].traceId);
  });
  // 4,096 distinct names are kept as strings; later ones in a map of their own, still exact.
  const many = Array.from({ length: 4200 }, (_, i) => span(`name-${i}`));
  const manyIds = many.map((labels) => ids.idOf(labels));
  many.forEach((labels, i) => end(ids, labels, `route-${i}`, T0 + 2));
  assert.equal(ids.labelsOf(manyIds[0]).name, 'route-0');
  assert.equal(ids.labelsOf(manyIds[4199]).name, 'route-4199');
});

test('records outlast any number of ends until samples are labelled past them, then only "ended earlier" is known', () => {
  const ids = new SampleContextIds();
  const spans = Array.from({ length: 5000 }, (_, i) => span('GET', T0 + i));
  const numbers = spans.map((labels) => ids.idOf(labels));
  spans.forEach((labels, i) => end(ids, labels, `GET /${i % 7}`, T0 + i * 1e6));
  assert.equal(ids.size.ended, 5000, 'the ring grew instead of dropping what no cut has labelled');
  assert.equal(ids.labelsOf(numbers[0]).spanId, spans[0].spanId);

  // Samples labelled up to 2.5 s after T0: spans that ended more than a second before that are dropped, two
  // for each span ending from then on (no long loop in the profiler's turn).
  ids.samplesLabelledUntil(T0 + 2.5e9);
  assert.equal(ids.size.ended, 5000, 'nothing dropped in the call itself');
  for (let i = 0; i < 750; i++) {
    const later = span('GET', T0 + 6e9);
    ids.idOf(later);
    end(ids, later, 'GET /later', T0 + 6e9 + i);
  }
  assert.equal(ids.size.ended, 5000 - 1500 + 750);
  assert.equal(ids.labelsOf(numbers[1499]), ENDED_EARLIER);
  assert.equal(ids.labelsOf(numbers[1499]).endNanos, -Infinity, 'every sample of it is after its end');
  assert.equal(ids.labelsOf(numbers[1500]).name, `GET /${1500 % 7}`);
});

test('a span whose labels were never written leaves no record', () => {
  const ids = new SampleContextIds();
  const labels = span();
  end(ids, labels, 'GET /', T0 + 1);
  assert.deepEqual(ids.size, { running: 0, ended: 0 });
});

test('spans that are never ended do not pile up: past 4,096 + 65,536 running the longest-kept is let go', () => {
  const ids = new SampleContextIds();
  for (let i = 0; i < 4096; i++) ids.idOf(span());
  const first = span();
  const firstId = ids.idOf(first);
  assert.equal(ids.labelsOf(firstId), first, 'its place taken by a span still running, it is kept aside');
  for (let i = 0; i < 65_535; i++) ids.idOf(span());
  assert.equal(ids.labelsOf(firstId), first);
  ids.idOf(span());
  assert.equal(ids.size.running, 4096 + 65_536);
  assert.equal(ids.labelsOf(firstId), ENDED_EARLIER, 'frames written before read as ended');
  const again = ids.idOf(first);
  assert.notEqual(again, firstId, 'written again, it gets a new number');
  assert.equal(ids.labelsOf(again), first);
  // Ending spans frees their places: a span kept aside ends like any other.
  first.ended('GET /late', T0 + 1);
  ids.spanEnded(first);
  assert.equal(ids.labelsOf(again).name, 'GET /late');
});

test('every written span gets a record, sampled or not: a sample in its frame just after its end still resolves', () => {
  // span.end() runs the span processors after the linker's: a sample taken there (the exporter's onEnd, say)
  // is in the span's frame, within a sampling interval of its end, and is the span's.
  const ids = new SampleContextIds();
  const labels = span('GET', T0);
  const id = ids.idOf(labels);
  end(ids, labels, 'GET /quiet', T0 + 1e6);
  const later = ids.labelsOf(id);
  assert.notEqual(later, ENDED_EARLIER);
  assert.deepEqual([later.name, later.endNanos], ['GET /quiet', T0 + 1e6]);
});

test('records whose numbers spread wide (spans that ran long, ended out of order) are all found, and the index widens', () => {
  const ids = new SampleContextIds();
  const kept = [];
  for (let i = 0; i < 3000; i++) {
    const labels = span('GET', T0 + i);
    const id = ids.idOf(labels);
    // One span in seven is recorded (the others are never ended here): numbers 7 apart, far wider than the ring.
    if (i % 7 === 0) {
      end(ids, labels, `GET /${i}`, T0 + i);
      kept.push([id, `GET /${i}`]);
    }
  }
  for (const [id, name] of kept) assert.equal(ids.labelsOf(id).name, name);
  assert.ok(ids.slotOfOtherId.size * 8 <= ids.size.ended, `${ids.slotOfOtherId.size} of ${ids.size.ended} records share a place`);
});
