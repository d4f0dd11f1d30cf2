// amqplib consumers against a real RabbitMQ the test starts. A delivery answers no request: it is new
// work, whose consumer span (`<queue> process`) amqplib's instrumentation starts when it calls the
// consumer. So: the consumer's handling is charged to its consumer span, and the frames read before it
// (on a connection a finished HTTP request opened) are charged to no request, not to that opener.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startRabbitmq } from '../helpers/databases.mjs';
import { AFTER_FRAME, cpuOfFrames, describeSplit, runAmqpScenario } from '../helpers/amqp-consumer.mjs';
import { killAllApps } from '../helpers/spawn-app.mjs';

after(killAllApps);

let db;
let result;
before(async () => {
  db = await startRabbitmq();
  if (db.skip) return;
  result = await runAmqpScenario(db, { messages: 40 });
});
after(() => db?.stop?.());

const skip = () => (db?.skip ? db.skip : false);

/** amqplib's own work (frame reading and reassembly), without the consumer's handler it calls. */
function frameWork() {
  const withoutHandler = { ...result, store: { ...result.store, cpu: { samples: result.store.cpu.samples.filter((s) => !s.stack.some((f) => f.name === 'handleMessage')) } } };
  return cpuOfFrames(withoutHandler, 'amqplib/lib');
}

test('every message is consumed under a consumer span, and amqplib ran on the profiler', (t) => {
  if (skip()) return t.skip(skip());
  assert.ok(result.opener, `no /start span: ${result.stderr.slice(-2000)}`);
  assert.equal(result.consumers.length, 40);
  assert.ok(frameWork().total > 0, 'no sample ran amqplib');
});

test("frames read on the opener's connection are not charged to the opener after it ended", (t) => {
  if (skip()) return t.skip(skip());
  const frames = frameWork();
  assert.ok(frames.afterEnd < frames.total / 4, describeSplit('amqplib frames', frames));
  const late = result.store.cpu.samples.filter((s) => s.spanId === result.opener.spanId && s.fromMs > result.opener.endMs + 50);
  assert.deepEqual(late.map((s) => `${s.stack[0]?.name} in a profile from ${s.fromMs}`), []);
});

test("the consumer's handling is charged to its consumer span", (t) => {
  if (skip()) return t.skip(skip());
  const handler = cpuOfFrames(result, 'amqp-consumer-app', 'handleMessage');
  assert.ok(handler.total > 0, 'no sample in handleMessage');
  assert.ok(handler.consumers >= 0.9 * handler.total, describeSplit('handleMessage', handler));
  assert.ok(handler.byConsumer.size >= result.consumers.length / 4, `${handler.byConsumer.size} of ${result.consumers.length} consumer spans have handler samples`);
});

test('nothing is charged to a span after it ended', (t) => {
  if (skip()) return t.skip(skip());
  const ends = new Map([result.opener, ...result.consumers].map((s) => [s.spanId, s.endMs]));
  const late = result.store.cpu.samples.filter((s) => s.spanId !== undefined && ends.has(s.spanId) && s.fromMs > ends.get(s.spanId) + 50);
  assert.deepEqual(late.map((s) => `${s.spanId}: ${s.stack[0]?.name}`), []);
  assert.ok(!result.store.cpu.samples.some((s) => s.spanId !== undefined && s.stack.some((f) => f.name === AFTER_FRAME)));
});
