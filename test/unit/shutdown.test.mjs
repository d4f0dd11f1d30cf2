// Shutdown handlers in process (signals are emitted, process.kill and process.exit are mocked): the exit
// runs the shutdown once; SIGTERM/SIGINT without an app handler flush within the deadline and re-raise
// the signal so the process ends as it would have; with an app handler the app keeps control and only a
// flush runs; a hanging backend cannot hold the process past the deadline; uninstalling leaves nothing.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';

const require = createRequire(import.meta.url);
const { installShutdownHandlers } = require('../../dist/shutdown.js');
const { getLogger } = require('../../dist/logger.js');

const EVENTS = ['SIGTERM', 'SIGINT', 'beforeExit'];

/** Hooks that record their calls; `work` decides how each call settles. */
function recordingHooks(work = () => Promise.resolve()) {
  const calls = [];
  return {
    calls,
    shutdown(deadline) {
      calls.push({ name: 'shutdown', deadline, at: Date.now() });
      return work();
    },
    flush(deadline) {
      calls.push({ name: 'flush', deadline, at: Date.now() });
      return work();
    },
  };
}

const never = () => new Promise(() => {});

let saved;
let kills;
let exits;
let lines;
let uninstall;

beforeEach((t) => {
  // The process's own listeners (if any) are put aside so listenerCount sees only the test's.
  saved = new Map(EVENTS.map((event) => [event, process.listeners(event)]));
  for (const event of EVENTS) process.removeAllListeners(event);
  kills = [];
  exits = [];
  t.mock.method(process, 'kill', (pid, signal) => {
    kills.push({ pid, signal });
    return true;
  });
  t.mock.method(process, 'exit', (code) => {
    exits.push(code);
  });
  lines = [];
  getLogger().setSink((line) => lines.push(line));
  uninstall = undefined;
});

afterEach(() => {
  uninstall?.();
  getLogger().setSink((line) => process.stderr.write(`${line}\n`));
  for (const event of EVENTS) {
    process.removeAllListeners(event);
    for (const listener of saved.get(event)) process.on(event, listener);
  }
});

test('the event loop emptying runs the shutdown once, with the deadline, and nothing else', async () => {
  const hooks = recordingHooks();
  uninstall = installShutdownHandlers(hooks, 5_000);
  const before = Date.now();
  process.emit('beforeExit', 0);
  process.emit('beforeExit', 0);
  await sleep(10);
  assert.deepEqual(hooks.calls.map((c) => c.name), ['shutdown']);
  assert.ok(hooks.calls[0].deadline >= before + 5_000 && hooks.calls[0].deadline <= Date.now() + 5_000);
  assert.deepEqual(exits, [], 'a shutdown that completes lets the process end by itself');
  assert.deepEqual(kills, []);
  assert.deepEqual(lines, []);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  test(`${signal} without an app handler: shut down, then re-raise it on this process`, async () => {
    let finish;
    const hooks = recordingHooks(() => new Promise((resolve) => (finish = resolve)));
    uninstall = installShutdownHandlers(hooks, 5_000);
    process.emit(signal, signal);
    await sleep(10);
    assert.deepEqual(hooks.calls.map((c) => c.name), ['shutdown']);
    assert.deepEqual(kills, [], 'not before the data is out');
    finish();
    await sleep(10);
    assert.deepEqual(kills, [{ pid: process.pid, signal }]);
    assert.equal(process.listenerCount(signal), 0, 'our handler is gone, so the re-raised signal ends the process');
  });
}

test('SIGTERM with an app handler: only a flush; the app decides, and our handler stays', async () => {
  const hooks = recordingHooks();
  uninstall = installShutdownHandlers(hooks, 5_000);
  let appSaw = 0;
  const appHandler = () => appSaw++;
  process.on('SIGTERM', appHandler);
  const before = Date.now();
  process.emit('SIGTERM', 'SIGTERM');
  process.emit('SIGTERM', 'SIGTERM');
  await sleep(10);
  assert.equal(appSaw, 2);
  assert.deepEqual(hooks.calls.map((c) => c.name), ['flush', 'flush']);
  assert.ok(hooks.calls[0].deadline >= before + 5_000 && hooks.calls[0].deadline <= Date.now() + 5_000, 'the flush gets the deadline');
  assert.deepEqual(kills, []);
  assert.equal(process.listenerCount('SIGTERM'), 2);
  process.removeListener('SIGTERM', appHandler);
});

test('a second SIGTERM while the shutdown still runs re-raises at once', async () => {
  const hooks = recordingHooks(never);
  uninstall = installShutdownHandlers(hooks, 150);
  process.emit('SIGTERM', 'SIGTERM');
  await sleep(10);
  assert.deepEqual(kills, []);
  process.emit('SIGTERM', 'SIGTERM');
  assert.deepEqual(kills, [{ pid: process.pid, signal: 'SIGTERM' }]);
  assert.deepEqual(hooks.calls.map((c) => c.name), ['shutdown'], 'no second shutdown');
  // The first signal's wait ends at the deadline and re-raises too (the process is ending anyway); let it
  // happen while process.kill is still the mock.
  await sleep(250);
  assert.ok(kills.every((k) => k.pid === process.pid && k.signal === 'SIGTERM'));
});

test('a shutdown that hangs past the deadline does not hold the signal back', async () => {
  const hooks = recordingHooks(never);
  uninstall = installShutdownHandlers(hooks, 80);
  const started = Date.now();
  process.emit('SIGINT', 'SIGINT');
  while (kills.length === 0 && Date.now() - started < 10_000) await sleep(10);
  assert.deepEqual(kills, [{ pid: process.pid, signal: 'SIGINT' }]);
  assert.ok(Date.now() - started >= 75, 'after the deadline, not before');
});

test('a shutdown that fails still re-raises the signal', async () => {
  const hooks = recordingHooks(() => Promise.reject(new Error('backend down')));
  uninstall = installShutdownHandlers(hooks, 5_000);
  process.emit('SIGTERM', 'SIGTERM');
  await sleep(20);
  assert.deepEqual(kills, [{ pid: process.pid, signal: 'SIGTERM' }]);
});

test('an app that adds its own handler during the flush keeps the signal: no re-raise', async () => {
  let finish;
  const hooks = recordingHooks(() => new Promise((resolve) => (finish = resolve)));
  uninstall = installShutdownHandlers(hooks, 5_000);
  process.emit('SIGTERM', 'SIGTERM');
  await sleep(10);
  const late = () => {};
  process.on('SIGTERM', late);
  finish();
  await sleep(10);
  assert.deepEqual(kills, []);
  process.removeListener('SIGTERM', late);
});

test('on a normal exit, a shutdown that hangs past the deadline is reported once and the process exits as the app set it', async () => {
  const hooks = recordingHooks(never);
  uninstall = installShutdownHandlers(hooks, 60);
  process.emit('beforeExit', 0);
  const started = Date.now();
  while (exits.length === 0 && Date.now() - started < 10_000) await sleep(10);
  assert.deepEqual(exits, [undefined], 'process.exit() without a code: process.exitCode stands');
  assert.equal(lines.length, 1);
  assert.match(lines[0], /warn: telemetry not delivered within SPAN_PROFILES_SHUTDOWN_TIMEOUT \(60 ms\); exiting without it/);
});

test('the shutdown started by the exit is the one a signal waits for', async () => {
  let finish;
  const hooks = recordingHooks(() => new Promise((resolve) => (finish = resolve)));
  uninstall = installShutdownHandlers(hooks, 5_000);
  process.emit('beforeExit', 0);
  process.emit('SIGTERM', 'SIGTERM');
  await sleep(10);
  assert.deepEqual(hooks.calls.map((c) => c.name), ['shutdown']);
  finish();
  await sleep(10);
  assert.deepEqual(kills, [{ pid: process.pid, signal: 'SIGTERM' }]);
});

test('the returned function removes every handler it installed', () => {
  const hooks = recordingHooks();
  const remove = installShutdownHandlers(hooks, 5_000);
  assert.deepEqual(EVENTS.map((e) => process.listenerCount(e)), [1, 1, 1]);
  remove();
  assert.deepEqual(EVENTS.map((e) => process.listenerCount(e)), [0, 0, 0]);
  process.emit('beforeExit', 0);
  assert.deepEqual(hooks.calls, []);
});
