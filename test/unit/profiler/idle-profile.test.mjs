// An interval with no work of the app is recognised, so the store writes no file for it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const { Profile, ValueType, Function: Fn, Location, Line, Sample, StringTable, Label } = require('pprof-format');
const { isIdleProfile } = require('../../../dist/profiler/idle-profile.js');
const AGENT_FILE = path.resolve('dist/profiler/cpu-profiler.js');

/** samples: [count, [[name, file], ...leaf first], spanId?] */
function rawProfile(samples) {
  const strings = new StringTable();
  const s = (x) => strings.dedup(x);
  const functions = [];
  const locations = [];
  const locationOf = (name, file) => {
    const id = functions.length + 1;
    functions.push(new Fn({ id, name: s(name), systemName: s(name), filename: s(file) }));
    locations.push(new Location({ id, line: [new Line({ functionId: id, line: 1 })] }));
    return id;
  };
  return new Profile({
    sampleType: [new ValueType({ type: s('sample'), unit: s('count') }), new ValueType({ type: s('cpu'), unit: s('nanoseconds') })],
    sample: samples.map(
      ([count, stack, spanId]) =>
        new Sample({
          locationId: stack.map(([name, file]) => locationOf(name, file ?? '')),
          value: [count, 1e6],
          label: spanId === undefined ? [] : [new Label({ key: s('span_id'), str: s(spanId) })],
        }),
    ),
    function: functions,
    location: locations,
    stringTable: strings,
  });
}

test('idle ticks, background threads, GC and the agent\'s own work are idle', () => {
  assert.equal(isIdleProfile(rawProfile([[96, [['(idle)']]], [0, [['Non JS threads activity'], ['Node.js']]]])), true);
  assert.equal(isIdleProfile(rawProfile([[1, [['Garbage Collection'], ['Node.js']]], [1, [['encodeProfile', AGENT_FILE], ['listOnTimeout', 'node:internal/timers']]]])), true);
  assert.equal(isIdleProfile(rawProfile([])), true);
  // The continuation of the agent's own file write: Node's internals only, no span.
  assert.equal(isIdleProfile(rawProfile([[1, [['close'], ['close', 'node:internal/fs/promises']]]])), true);
});

test('one tick of the app\'s code is work', () => {
  assert.equal(isIdleProfile(rawProfile([[96, [['(idle)']]], [1, [['handleRequest', '/srv/app/server.js']]]])), false);
  // Node's internals inside a request are the request's work.
  assert.equal(isIdleProfile(rawProfile([[1, [['parse', 'node:internal/url']], '00f067aa0ba902b7']])), false);
});

test("the OpenTelemetry code vendored into dist/vendor/ is not the agent's: a request through it is work", () => {
  // context-async-hooks runs in every request; bundled beside the agent it must not make the request's
  // samples look like the agent's own (the cut would be judged idle and dropped).
  const vendored = path.resolve('dist/vendor/opentelemetry.js');
  const request = [1, [['handleRequest', '/srv/app/server.js'], ['with', vendored], ['emit', 'node:events']], '00f067aa0ba902b7'];
  assert.equal(isIdleProfile(rawProfile([[96, [['(idle)']]], request])), false);
  // Only OpenTelemetry's frames and Node's, with a span: the request's work too.
  assert.equal(isIdleProfile(rawProfile([[1, [['with', vendored], ['emit', 'node:events']], '00f067aa0ba902b7']])), false);
  // The agent's own bundle is the agent's.
  assert.equal(isIdleProfile(rawProfile([[1, [['encodeProfile', path.resolve('dist/agent-bundle.js')], ['listOnTimeout', 'node:internal/timers']]]])), true);
});

test('a file beside dist/ whose name starts the same is not the agent\'s', () => {
  assert.equal(isIdleProfile(rawProfile([[1, [['handler', `${path.resolve('dist')}-app/server.js`]]]])), false);
});
