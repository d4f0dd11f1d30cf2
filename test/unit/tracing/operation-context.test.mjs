// The context a driver operation was issued in (tracing/operation-context.ts): first call wins, sealed
// operations still work, nothing shows in the operation's keys or JSON, and a finished operation's context
// dies with it in a young-generation collection instead of being promoted (what a WeakMap did).
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';

const require = createRequire(import.meta.url);
const { rememberIssuedContext, issuedContextOf } = require('../../../dist/tracing/operation-context.js');
const { ROOT_CONTEXT, createContextKey } = require('@opentelemetry/api');

const key = createContextKey('operation-context-test');
const contextNamed = (name) => ROOT_CONTEXT.setValue(key, name);

test('the first context remembered for an operation is the one it keeps', () => {
  const query = { text: 'SELECT 1' };
  const issued = contextNamed('request A');
  rememberIssuedContext(query, issued);
  rememberIssuedContext(query, contextNamed('connect handler'));
  assert.equal(issuedContextOf(query), issued);
  assert.equal(issuedContextOf({ text: 'never remembered' }), undefined);
});

test('values that are not objects are neither remembered nor looked up', () => {
  for (const value of [undefined, null, 'SELECT 1', 42]) {
    rememberIssuedContext(value, contextNamed('x'));
    assert.equal(issuedContextOf(value), undefined);
  }
});

test('a frozen or non-extensible operation still gets its context', () => {
  const frozen = Object.freeze({ text: 'frozen' });
  const sealed = Object.preventExtensions({ text: 'sealed' });
  const a = contextNamed('a');
  const b = contextNamed('b');
  rememberIssuedContext(frozen, a);
  rememberIssuedContext(sealed, b);
  assert.equal(issuedContextOf(frozen), a);
  assert.equal(issuedContextOf(sealed), b);
});

test("the operation's keys and JSON are unchanged", () => {
  const query = { text: 'SELECT 1', values: [1] };
  rememberIssuedContext(query, contextNamed('request'));
  assert.deepEqual(Object.keys(query), ['text', 'values']);
  assert.equal(JSON.stringify(query), '{"text":"SELECT 1","values":[1]}');
});

test('a finished operation takes its context with it in a young-generation collection', () => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc');
  const used = (name) => v8.getHeapSpaceStatistics().find((space) => space.space_name === name).space_used_size;
  const COUNT = 50;
  // Stand-ins for contexts, each holding a 1,000-element array (~400 KB in all, within a young generation): the
  // test measures how long they are kept, whatever they hold.
  const CONTEXT_BYTES = COUNT * 1000 * 8;

  gc();
  gc({ type: 'minor' });
  const youngBefore = used('new_space');
  let inFlight = [];
  for (let i = 0; i < COUNT; i++) {
    const query = { text: `SELECT ${i}` };
    rememberIssuedContext(query, { rows: new Array(1000).fill(i) });
    inFlight.push(query);
  }
  // A young collection while the queries run: they and their contexts survive it, in the young generation.
  gc({ type: 'minor' });
  const survived = used('new_space') - youngBefore;
  assert.ok(survived > CONTEXT_BYTES / 2, `only ${survived} bytes survived in the young generation: the contexts were promoted early`);
  // The queries finish; at the next young collection their contexts must die, not move to the old generation.
  const oldBefore = used('old_space');
  inFlight = undefined;
  gc({ type: 'minor' });
  const promoted = used('old_space') - oldBefore;
  assert.ok(promoted < CONTEXT_BYTES / 4, `${(promoted / 1024).toFixed(0)} KB moved to the old generation (the contexts are ${(CONTEXT_BYTES / 1024).toFixed(0)} KB)`);
});
