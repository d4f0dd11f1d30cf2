// The event-loop delay recorder: a blocked loop's delay is in the point whose step covers the block, even when
// the block holds back the step's own timer (which then fires in the same turn as the delay monitor's).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';

const require = createRequire(import.meta.url);
const { EventLoopDelayRecorder } = require('../../../dist/store/event-loop-delay.js');

function spin(ms) {
  const end = Date.now() + ms;
  while (Date.now() < end);
}

test('a block that holds back the step timer is in the step it ended, not the next one', async () => {
  const recorder = new EventLoopDelayRecorder();
  assert.equal(recorder.start(), true);
  try {
    // The first step ends (1 s after start) inside the block. A timer of the app's due 1 ms after the block
    // started is, most of the time, due before the delay monitor's next tick (every 10 ms): after the block,
    // libuv runs Node's timers first, and Node every JavaScript timer expired by then, the step's too,
    // before the monitor's tick records the block.
    const [blockStart, blockEnd] = await new Promise((resolve) =>
      setTimeout(() => {
        setTimeout(() => undefined, 1);
        const start = Date.now();
        spin(400);
        resolve([start, Date.now()]);
      }, 850),
    );
    await sleep(50);
    const points = await recorder.drain();
    // What the store's readers ask: the largest delay of the steps overlapping the block (store-index.ts).
    const overlapping = points.filter((p) => p.timeMs >= blockStart && p.startMs <= blockEnd - 20);
    const max = Math.max(0, ...overlapping.map((p) => p.maxNanos));
    assert.ok(max > 300e6, `largest delay of the steps overlapping the block: ${max / 1e6} ms (${JSON.stringify(points)})`);
  } finally {
    recorder.stop();
  }
});

test('drain() right after a block, in the same turn, returns the block', async () => {
  const recorder = new EventLoopDelayRecorder();
  recorder.start();
  try {
    await sleep(100);
    spin(300);
    const points = await recorder.drain();
    const max = Math.max(0, ...points.map((p) => p.maxNanos));
    assert.ok(max > 250e6, `largest delay drained: ${max / 1e6} ms (${JSON.stringify(points)})`);
  } finally {
    recorder.stop();
  }
});

test('drain() resolves in a loop that is busy in every turn', async () => {
  const recorder = new EventLoopDelayRecorder();
  recorder.start();
  let busy = true;
  const spinner = () => {
    spin(15);
    if (busy) setImmediate(spinner);
  };
  try {
    setImmediate(spinner);
    const started = Date.now();
    const points = await recorder.drain();
    assert.ok(points.length >= 1);
    assert.ok(Date.now() - started < 500, `drained after ${Date.now() - started} ms`);
  } finally {
    busy = false;
    recorder.stop();
  }
});

test('stop() closes the step under way; the next drain() returns it', async () => {
  const recorder = new EventLoopDelayRecorder();
  recorder.start();
  await sleep(100);
  recorder.stop();
  const points = await recorder.drain();
  assert.equal(points.length, 1);
  assert.deepEqual(await recorder.drain(), []);
});

test('points follow each other without gaps; drain() closes the step under way', async () => {
  const recorder = new EventLoopDelayRecorder();
  recorder.start();
  try {
    await sleep(2300);
    const points = await recorder.drain();
    assert.ok(points.length >= 2, JSON.stringify(points));
    for (let i = 1; i < points.length; i++) assert.equal(points[i].startMs, points[i - 1].timeMs);
    assert.ok(points.every((p) => p.timeMs >= p.startMs && p.maxNanos >= p.p99Nanos && p.meanNanos >= 0));
    assert.ok((await recorder.drain()).length <= 1);
  } finally {
    recorder.stop();
  }
});
