// The agent's long walks (a cut's CPU and heap profile builders, encoders, span batches) yield through one
// queue: of everything waiting for a turn, one resumes per loop turn, in the order it asked, so walks that
// run at once never stack their slices in one turn of the app's event loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { nextTurn, SliceClock } = require('../../dist/slice-clock.js');

/** Counts the event loop's turns: its check-phase callback runs once in each. */
function turnCounter() {
  let turn = 0;
  let running = true;
  const tick = () => {
    turn++;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    get turn() {
      return turn;
    },
    stop() {
      running = false;
    },
  };
}

test('walks waiting at once resume one per turn, in the order they asked', async () => {
  const turns = turnCounter();
  const seen = [];
  const walk = async (name, steps) => {
    for (let i = 0; i < steps; i++) {
      await nextTurn();
      seen.push([name, turns.turn]);
    }
  };
  await Promise.all([walk('cpu', 4), walk('heap', 4), walk('spans', 2)]);
  turns.stop();
  assert.equal(seen.length, 10);
  assert.equal(new Set(seen.map(([, turn]) => turn)).size, seen.length, `two resumed in one turn: ${JSON.stringify(seen)}`);
  assert.deepEqual(
    seen.map(([name]) => name),
    ['cpu', 'heap', 'spans', 'cpu', 'heap', 'spans', 'cpu', 'heap', 'cpu', 'heap'],
  );
});

test('a walk alone resumes in the next turn, and the queue empties', async () => {
  const turns = turnCounter();
  const before = turns.turn;
  await nextTurn();
  const first = turns.turn;
  await nextTurn();
  turns.stop();
  assert.ok(first > before, 'not resumed in the turn that asked');
  assert.equal(turns.turn, first + 1, 'one turn per wait when nothing else waits');
});

test('a slice yields once it has run its time, not before, and only at a look at the clock', async () => {
  const spin = (ms) => {
    const end = performance.now() + ms;
    while (performance.now() < end);
  };
  const long = new SliceClock(10_000, 1);
  long.begin();
  spin(1);
  assert.equal(long.tick(1), undefined, 'time left: no yield');

  const short = new SliceClock(0.5, 4);
  short.begin();
  spin(1);
  assert.equal(short.tick(3), undefined, 'fewer than 4 units of work since the last look: the clock is not read');
  const yielded = short.tick(1);
  assert.ok(yielded instanceof Promise, 'out of time at the look: yields');
  assert.ok(short.longestMs >= 1, `longest slice ${short.longestMs} ms`);
  await yielded;
  assert.equal(short.tick(4), undefined, 'a new slice starts when the walk resumes');
});
