// The per-root-span breakdown of a duration (own CPU, blocked behind other work, waiting) and the
// event-loop stalls, on synthetic sample streams: every sum must equal the duration exactly.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';

const require = createRequire(import.meta.url);
const { RootResolver, ProcessTimelines, breakdownOf, findStalls, OUTSIDE_SPANS } = require('../../../../dist/store/read/breakdown.js');

const T = 1_780_000_000_000; // Unix ms
const PID = 4242;
let nextId = 1;
const hex = (n, len) => n.toString(16).padStart(len, '0');

function span(name, startMs, endMs, { parent, traceId, pid = PID, service = 'shop', profileId = true } = {}) {
  const spanId = hex(nextId++, 16);
  return {
    traceId: traceId ?? parent?.traceId ?? hex(nextId++, 32),
    spanId,
    parentSpanId: parent?.spanId,
    name,
    kind: parent ? 1 : 2,
    startMs: T + startMs,
    endMs: T + endMs,
    durationMs: endMs - startMs,
    service,
    attributes: {},
    resource: {},
    statusCode: 0,
    profileId: profileId ? spanId : undefined,
    pid,
  };
}

const frame = (name) => ({ name, file: '/app/x.js', line: 1 });

/** A sample taken at T+atMs with cpuMs of CPU, labelled with `of` (a span) or none. */
function sample(atMs, of, fn = 'work', { cpuMs = 10, pid = PID, service = 'shop' } = {}) {
  return {
    spanId: of?.profileId ?? of?.spanId,
    traceId: of?.traceId,
    spanName: of?.name,
    cpuNanos: Math.round(cpuMs * 1e6),
    count: 1,
    stack: [frame(fn), frame('main')],
    service,
    fromMs: T,
    untilMs: T + 15_000,
    pid,
    timeMs: T + atMs,
  };
}

/** Samples of `of` every 10 ms with their stretches covering [fromMs, untilMs]. */
function busy(fromMs, untilMs, of, fn) {
  const out = [];
  for (let t = fromMs + 10; t <= untilMs; t += 10) out.push(sample(t, of, fn));
  return out;
}

function analyze(spans, samples) {
  const resolver = new RootResolver(spans);
  return new ProcessTimelines(samples, resolver);
}

function assertSums(b) {
  assert.equal(b.cpuNanos + b.blockedNanos + b.waitingNanos, b.durationNanos, JSON.stringify(b));
  assert.ok(b.cpuNanos >= 0 && b.blockedNanos >= 0 && b.waitingNanos >= 0, JSON.stringify(b));
  assert.equal(b.blockedBy.reduce((s, x) => s + x.cpuNanos, 0), b.blockedNanos);
}

const MS = 1e6;

test('overlapping spans: a waiting request is blocked by the other one\'s CPU, which is not blocked by itself', () => {
  const slow = span('GET /slow', 0, 100); // waits on a timer
  const loop = span('GET /loop', 20, 60); // runs a synchronous loop meanwhile
  const samples = [sample(10, slow, 'handleSlow'), ...busy(20, 60, loop, 'spin'), sample(70, slow, 'handleSlow')];
  const lines = analyze([slow, loop], samples);

  const b = breakdownOf(slow, lines);
  assertSums(b);
  assert.equal(b.durationNanos, 100 * MS);
  assert.equal(b.cpuNanos, 20 * MS);
  // The loop's first tick comes 20 ms after the previous one: it claims 1.5 periods, [15, 30].
  assert.equal(b.blockedNanos, 45 * MS);
  assert.equal(b.waitingNanos, 35 * MS);
  assert.deepEqual(b.blockedBy, [{ name: 'GET /loop', cpuNanos: 45 * MS, spans: 1, functions: ['spin'] }]);

  const own = breakdownOf(loop, lines);
  assertSums(own);
  assert.equal(own.cpuNanos, 40 * MS);
  assert.equal(own.blockedNanos, 0, 'the loop\'s own CPU is never "blocked"');
  assert.deepEqual(own.blockedBy, []);
});

test('unlabelled work (GC, code outside any request) counts as blocked under its own name', () => {
  const req = span('GET /a', 0, 50);
  const samples = [sample(10, undefined, '(garbage collector)'), sample(20, undefined, '(garbage collector)'), sample(30, req, 'handle')];
  const b = breakdownOf(req, analyze([req], samples));
  assertSums(b);
  assert.equal(b.blockedNanos, 20 * MS);
  assert.deepEqual(b.blockedBy, [{ name: OUTSIDE_SPANS, cpuNanos: 20 * MS, spans: 0, functions: ['(garbage collector)'] }]);
  assert.equal(b.cpuNanos, 10 * MS);
  assert.equal(b.waitingNanos, 20 * MS);
});

test('samples at the span\'s edges count only for the part inside it', () => {
  const req = span('GET /edge', 5, 47.5);
  const other = span('GET /other', 0, 100);
  // [-5,10] 5 ms inside, [35,50] (after a gap: 1.5 periods) 12.5 ms inside, [50,60] outside.
  const samples = [sample(10, req, 'a'), sample(50, other, 'b'), sample(60, req, 'c')];
  const b = breakdownOf(req, analyze([req, other], samples));
  assertSums(b);
  assert.equal(b.durationNanos, 42.5 * MS);
  assert.equal(b.cpuNanos, 5 * MS);
  assert.equal(b.blockedNanos, 12.5 * MS);
  assert.equal(b.waitingNanos, 25 * MS);
});

test('stretches never overlap: a tick with more CPU than the time since the previous one is shortened', () => {
  const a = span('A', 0, 30);
  const b = span('B', 0, 30);
  // Two samples 4 ms apart, each claiming 10 ms: B's stretch is [6,10], not [0,10].
  const lines = analyze([a, b], [sample(6, a), sample(10, b)]);
  const ba = breakdownOf(a, lines);
  assertSums(ba);
  assert.equal(ba.cpuNanos, 6 * MS);
  assert.equal(ba.blockedNanos, 4 * MS);
});

test('profile cuts: samples of consecutive profiles form one time line; the gap between them is waiting', () => {
  const req = span('GET /long', 0, 40_000);
  const loop = span('POST /import', 14_990, 15_030);
  const cut1 = [sample(14_000, req, 'first'), { ...sample(15_000, loop, 'parse'), untilMs: T + 15_000 }];
  const cut2 = [15_010, 15_020, 15_030].map((t) => ({ ...sample(t, loop, 'parse'), fromMs: T + 15_000, untilMs: T + 30_000 }));
  const b = breakdownOf(req, analyze([req, loop], [...cut2, ...cut1])); // files in any order
  assertSums(b);
  assert.equal(b.cpuNanos, 15 * MS); // a tick after a gap claims 1.5 periods
  assert.equal(b.blockedNanos, 45 * MS); // [14985, 15000] then three whole periods
  assert.deepEqual(b.blockedBy.map((x) => [x.name, x.cpuNanos]), [['POST /import', 45 * MS]]);
});

test('children: samples labelled with a span under the root (OTEL_PYROSCOPE_ROOT_SPAN_ONLY=false) are the root\'s CPU', () => {
  const root = span('GET /nested', 0, 50);
  const child = span('render', 10, 40, { parent: root });
  const b = breakdownOf(root, analyze([root, child], [sample(20, child, 'render'), sample(30, root, 'handle')]));
  assertSums(b);
  assert.equal(b.cpuNanos, 25 * MS); // [5, 20] and [20, 30]
  assert.equal(b.blockedNanos, 0);
});

test('other processes never block: only samples of the span\'s own process count', () => {
  const req = span('GET /a', 0, 50);
  const elsewhere = span('GET /b', 0, 50, { pid: 999 });
  const samples = [...busy(0, 50, elsewhere, 'other').map((s) => ({ ...s, pid: 999 })), sample(10, undefined, 'gc', { service: 'billing' })];
  const b = breakdownOf(req, analyze([req, elsewhere], samples));
  assertSums(b);
  assert.equal(b.blockedNanos, 0);
  assert.equal(b.waitingNanos, 50 * MS);
});

test('a span with no samples at all is all waiting; fractional times still add up exactly', () => {
  const req = span('GET /idle', 0.0004, 33.3337);
  const other = span('GET /x', 0, 100);
  const b = breakdownOf(req, analyze([req, other], [sample(7.77, other, 'x', { cpuMs: 3.3333 }), sample(33.5, other, 'x', { cpuMs: 0.9 })]));
  assertSums(b);
  const none = breakdownOf(req, analyze([req], []));
  assertSums(none);
  assert.equal(none.waitingNanos, none.durationNanos);
});

test('samples without a time (older stores) are left out and counted', () => {
  const req = span('GET /a', 0, 50);
  const lines = analyze([req], [{ ...sample(10, req), timeMs: undefined }]);
  assert.equal(lines.untimedSamples, 1);
  assertSums(breakdownOf(req, lines));
});

test('stalls: the longest runs of one span\'s CPU, with how many other requests were open meanwhile', () => {
  const waiting1 = span('GET /slow', 0, 200);
  const waiting2 = span('GET /slow', 50, 150);
  const loop = span('GET /loop', 20, 130);
  const later = span('GET /later', 300, 310);
  const samples = [
    sample(10, waiting1, 'handleSlow'),
    ...busy(20, 120, loop, 'spin'),
    sample(200, waiting1, 'handleSlow'),
    sample(310, later, 'quick'),
  ];
  const stalls = findStalls(analyze([waiting1, waiting2, loop, later], samples), [waiting1, waiting2, loop, later], { maxGapNanos: 5 * MS, limit: 2 });
  assert.equal(stalls.length, 2);
  assert.equal(stalls[0].name, 'GET /loop');
  assert.equal(stalls[0].spanId, loop.spanId);
  assert.equal(stalls[0].durationNanos, 105 * MS); // [15, 120]: its first tick follows a 20 ms gap
  assert.deepEqual(stalls[0].functions, ['spin']);
  assert.equal(stalls[0].othersOpen, 2);
  assert.equal(stalls[1].durationNanos, 15 * MS);
});

test('stalls: ticks the sampler missed inside a loop are bridged; an idle tick in the gap ends the stall', () => {
  const loop = span('GET /loop', 0, 400);
  const pausing = span('GET /pausing', 0, 400, { pid: PID + 1 });
  const samples = [
    // One synchronous loop: ticks every 10 ms with 120 ms unobserved in the middle (a loaded machine).
    ...busy(0, 100, loop, 'spin'),
    ...busy(220, 300, loop, 'spin'),
    // Another process: the same shape, but a tick found its thread idle in the gap: two stretches.
    ...busy(0, 100, pausing, 'spin').map((s) => ({ ...s, pid: PID + 1 })),
    sample(160, undefined, '(idle)', { pid: PID + 1 }),
    ...busy(220, 300, pausing, 'spin').map((s) => ({ ...s, pid: PID + 1 })),
  ];
  const stalls = findStalls(analyze([loop, pausing], samples), [loop, pausing], { maxGapNanos: 5 * MS, limit: 5 });
  assert.equal(stalls[0].name, 'GET /loop');
  assert.equal(stalls[0].durationNanos, 305 * MS); // [10 - 1.5 periods, 300]
  assert.deepEqual(
    stalls.filter((s) => s.name === 'GET /pausing').map((s) => s.durationNanos / MS),
    [105, 85],
  );
});

test('ticks that found the thread idle are not work: they neither block nor count as CPU', () => {
  const req = span('GET /a', 0, 50);
  const b = breakdownOf(req, analyze([req], [sample(10, undefined, '(idle)'), sample(20, req, '(idle)')]));
  assertSums(b);
  assert.equal(b.waitingNanos, 50 * MS);
});

test('a busy thread the OS ran only part of the time (ticks late, little CPU each) still holds the event loop', () => {
  const waiting = span('GET /wait', 0, 100);
  const loop = span('GET /spin', 0, 100);
  // Ticks every 14 ms (descheduled between), each with 4 ms of CPU: the loop never returned to the event loop.
  const samples = [];
  for (let t = 14; t <= 98; t += 14) samples.push(sample(t, loop, 'spin', { cpuMs: 4 }));
  const b = breakdownOf(waiting, analyze([waiting, loop], samples));
  assertSums(b);
  assert.equal(b.blockedNanos, 98 * MS); // [0, 98]: the first tick claims 14 of the 15 ms it may, then each gap whole
  const own = breakdownOf(loop, analyze([waiting, loop], samples));
  assert.equal(own.cpuNanos, 98 * MS);
});
