// Context binding in process: a fake profiler (the few calls of @datadog/pprof's `time` the binding makes)
// and OpenTelemetry's real AsyncLocalStorage context manager. Both modes keep the context a sample would
// record equal to the labels of the span running, through scope changes, attach() and async continuations
// of interleaved requests; a sample keeps the span it was taken in; the binding never breaks the app's
// context switch when the profiler throws, and uninstall() gives back the manager as it was.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';

const require = createRequire(import.meta.url);
const { createContextBinding, detectBindingMode, runDelegatesToEnterWith } = require('../../../dist/linking/context-binding.js');
const { SpanLabels } = require('../../../dist/linking/span-labels.js');
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
const { ROOT_CONTEXT, createContextKey } = require('@opentelemetry/api');
const { isAsyncContextFrameActive } = require('@datadog/pprof/out/src/async-context-frame');

const LABELS = createContextKey('test span labels');
const resolve = (context) => context.getValue(LABELS);
const labels = (name, n) => new SpanLabels(n.toString(16).padStart(16, '0'), '0'.repeat(31) + n.toString(16), { name });
const A = labels('A', 1);
const B = labels('B', 2);
const inSpan = (spanLabels) => ROOT_CONTEXT.setValue(LABELS, spanLabels);

/**
 * The profiler as the async-context-frame binding sees it: with `useCPED` the sample context lives in the
 * current AsyncContextFrame, which a storage of its own reproduces (copied on every frame change, restored
 * by continuations). `restart()` is a sampler restart: every frame's slot is empty afterwards.
 */
function fakeFrameProfiler() {
  let slot = new AsyncLocalStorage();
  const fake = {
    setCalls: 0,
    throwOnSet: false,
    setContext(value) {
      if (fake.throwOnSet) throw new Error('profiler stopped');
      fake.setCalls++;
      slot.enterWith(value);
    },
    getContext: () => slot.getStore(),
    restart() {
      slot = new AsyncLocalStorage();
    },
  };
  return fake;
}

/**
 * The profiler as the async-hooks binding sees it: one global context, and the shared state array whose
 * kSampleCount slot counts the samples taken since the last collection. `sample()` is a tick: it records
 * the context object set at that moment; `collect()` restarts the counter as `time.stop(true)` does.
 */
function fakeHooksProfiler() {
  const state = new Uint32Array(4);
  const kSampleCount = 2;
  const fake = {
    constants: { kSampleCount },
    setCalls: 0,
    throwOnSet: false,
    context: undefined,
    getState: () => state,
    setContext(value) {
      if (fake.throwOnSet) throw new Error('profiler stopped');
      fake.setCalls++;
      fake.context = value;
    },
    getContext: () => fake.context,
    sample() {
      state[kSampleCount]++;
      return fake.context;
    },
    collect() {
      state[kSampleCount] = 0;
    },
  };
  return fake;
}

/** The labels the current frame's sample context stands for (the frame binding writes numbers). */
const written = (binding, fake) => binding.labelsOfSample(fake.getContext());

function bind(mode, fake, manager = new AsyncLocalStorageContextManager()) {
  const { binding, fallbackReason } = createContextBinding({ mode, reason: 'test' }, fake, manager, resolve);
  assert.equal(fallbackReason, undefined);
  assert.equal(binding.mode, mode);
  binding.install();
  return { binding, manager };
}

/** Two requests whose continuations interleave; each records what `current()` says at every step. */
async function interleavedRequests(manager, current) {
  const seen = { A: [], B: [] };
  const request = (name, spanLabels, delays) =>
    manager.with(inSpan(spanLabels), async () => {
      seen[name].push(current());
      for (const ms of delays) {
        await sleep(ms);
        seen[name].push(current());
        await Promise.resolve();
        seen[name].push(current());
      }
    });
  await Promise.all([request('A', A, [1, 5, 1]), request('B', B, [3, 1, 6])]);
  return seen;
}

describe('async-context-frame binding', { skip: !isAsyncContextFrameActive() && 'AsyncContextFrame is off in this process' }, () => {
  test('uses the frame (useCPED) and sets the span labels on with(), the outer ones after it', () => {
    const fake = fakeFrameProfiler();
    const { binding, manager } = bind('async-context-frame', fake);
    try {
      assert.equal(binding.useCPED, true);
      assert.equal(written(binding, fake), undefined);
      const result = manager.with(inSpan(A), () => {
        assert.equal(written(binding, fake), A);
        manager.with(inSpan(B), () => assert.equal(written(binding, fake), B));
        assert.equal(written(binding, fake), A, 'back to the outer span after the inner scope');
        return 42;
      });
      assert.equal(result, 42);
      assert.equal(written(binding, fake), undefined, 'outside any span after the outer scope');
    } finally {
      binding.uninstall();
    }
  });

  test('every continuation of interleaved requests sees its own span', async () => {
    const fake = fakeFrameProfiler();
    const { binding, manager } = bind('async-context-frame', fake);
    try {
      const seen = await interleavedRequests(manager, () => written(binding, fake));
      assert.deepEqual(seen.A.map((l) => l?.name), Array(7).fill('A'));
      assert.deepEqual(seen.B.map((l) => l?.name), Array(7).fill('B'));
      assert.equal(written(binding, fake), undefined);
    } finally {
      binding.uninstall();
    }
  });

  test('only a change of labels reaches the profiler', () => {
    const fake = fakeFrameProfiler();
    const { binding, manager } = bind('async-context-frame', fake);
    try {
      const other = createContextKey('unrelated');
      manager.with(inSpan(A), () => {
        // A child span sharing its root's labels, or any other context value: same labels, no native call.
        manager.with(inSpan(A).setValue(other, 1), () => manager.with(inSpan(A).setValue(other, 2), () => undefined));
      });
      assert.equal(fake.setCalls, 2, 'one call entering A, one leaving it');
      manager.with(ROOT_CONTEXT.setValue(other, 3), () => undefined);
      assert.equal(fake.setCalls, 2, 'contexts without a span change nothing');
    } finally {
      binding.uninstall();
    }
  });

  test('a context whose span has ended is entered as no span: an empty write, or none', () => {
    const fake = fakeFrameProfiler();
    const { binding, manager } = bind('async-context-frame', fake);
    const values = [];
    const setContext = fake.setContext;
    fake.setContext = (value) => {
      values.push(value);
      setContext(value);
    };
    try {
      // A pooled connection's socket, opened by a request that has since ended, hands a reply to a later query.
      const opener = labels('opener', 3);
      opener.ended('GET /open', 1);
      const socketContext = inSpan(opener);
      manager.with(socketContext, () => {
        assert.equal(written(binding, fake), undefined, 'the ended span is not written');
        manager.with(inSpan(B), () => assert.equal(written(binding, fake), B));
        assert.equal(written(binding, fake), undefined, 'back in the socket context: no span');
      });
      // B entering the query; empty writes leaving it and leaving the socket's context (whose frames may hold
      // the opener's labels, written while it ran).
      assert.deepEqual(values.map((value) => binding.labelsOfSample(value)), [B, undefined, undefined]);

      // A frame written while its span ran still holds its labels after the span ends: leaving it for a
      // context without a span (a connection's frame loop run in the root context) must clear them.
      const running = labels('running', 4);
      manager.with(inSpan(running), () => {
        assert.equal(written(binding, fake), running);
        running.ended('GET /start', 1);
        manager.with(ROOT_CONTEXT, () => assert.equal(written(binding, fake), undefined, 'the root context carries no span'));
      });
    } finally {
      binding.uninstall();
    }
  });

  test('attach() and its dispose follow the storage', () => {
    const fake = fakeFrameProfiler();
    const { binding, manager } = bind('async-context-frame', fake);
    try {
      manager.with(ROOT_CONTEXT, () => {
        const token = manager.attach(inSpan(B));
        assert.equal(written(binding, fake), B);
        if (typeof token[Symbol.dispose] === 'function') token[Symbol.dispose]();
        else token.dispose();
        assert.equal(written(binding, fake), undefined);
      });
    } finally {
      binding.uninstall();
    }
  });

  test('install() inside a span sets its labels at once', () => {
    const fake = fakeFrameProfiler();
    const manager = new AsyncLocalStorageContextManager();
    manager.with(inSpan(A), () => {
      const { binding } = bind('async-context-frame', fake, manager);
      assert.equal(written(binding, fake), A);
      binding.uninstall();
    });
  });

  test('after a sampler restart, resync() makes the next switch fill the empty frame', () => {
    const fake = fakeFrameProfiler();
    const { binding, manager } = bind('async-context-frame', fake);
    try {
      manager.with(inSpan(A), () => {
        fake.restart();
        assert.equal(written(binding, fake), undefined, 'the restart emptied the frame');
        binding.resync();
        // Same labels as the context left: only asking the profiler shows the slot must be set.
        manager.with(inSpan(A), () => assert.equal(written(binding, fake), A));
      });
      manager.with(inSpan(B), () => assert.equal(written(binding, fake), B));
    } finally {
      binding.uninstall();
    }
  });

  test('a profiler that throws turns the binding off; the app keeps its contexts', () => {
    const fake = fakeFrameProfiler();
    const { binding, manager } = bind('async-context-frame', fake);
    try {
      fake.throwOnSet = true;
      const active = manager.with(inSpan(A), () => manager.active());
      assert.equal(active.getValue(LABELS), A);
      fake.throwOnSet = false;
      manager.with(inSpan(B), () => undefined);
      assert.equal(fake.setCalls, 0, 'no call after the profiler failed once');
    } finally {
      binding.uninstall();
    }
  });

  test('uninstall() restores the storage and stops following it; twice is harmless', () => {
    const fake = fakeFrameProfiler();
    const { binding, manager } = bind('async-context-frame', fake);
    const storage = manager._asyncLocalStorage;
    assert.ok(Object.hasOwn(storage, 'enterWith'), 'install wraps the storage instance');
    binding.uninstall();
    binding.uninstall();
    assert.equal(Object.hasOwn(storage, 'enterWith'), false);
    assert.equal(storage.enterWith, AsyncLocalStorage.prototype.enterWith);
    manager.with(inSpan(A), () => assert.equal(written(binding, fake), undefined));
    assert.equal(fake.setCalls, 0);
  });

  test('what is written is a number; a sample resolves it to the running span, then to its record', () => {
    const fake = fakeFrameProfiler();
    const { binding, manager } = bind('async-context-frame', fake);
    try {
      const request = labels('GET', 0xabc);
      const startNanos = 1_700_000_000_000_000_000;
      const withTimes = new SpanLabels(request.spanId, request.traceId, { name: 'GET' }, startNanos);
      let recorded;
      manager.with(inSpan(withTimes), () => {
        recorded = fake.getContext();
      });
      assert.equal(typeof recorded, 'number', 'a small integer: no object for pprof to keep in a global handle');
      assert.equal(binding.labelsOfSample(recorded), withTimes, 'while the span runs: the labels object itself');
      withTimes.ended('GET /users/:id', startNanos + 5e6);
      binding.spanEnded(withTimes);
      const restored = binding.labelsOfSample(recorded);
      assert.notEqual(restored, withTimes, 'after its end, made back from the record');
      assert.deepEqual(
        [restored.spanId, restored.traceId, restored.name, restored.startNanos, restored.endNanos, restored.hasEnded],
        [withTimes.spanId, withTimes.traceId, 'GET /users/:id', startNanos, startNanos + 5e6, true],
      );
      assert.equal(binding.labelsOfSample(recorded), restored, 'one object per span within a cut');
      // Samples labelled up to shortly after the end: the record is still needed (a sample stands for the interval before it).
      binding.samplesLabelledUntil(startNanos + 5e6 + 1e8);
      assert.equal(binding.labelsOfSample(recorded), restored);
      binding.samplesLabelledUntil(startNanos + 5e6 + 2e9);
      // Records are dropped as later spans end.
      const later = new SpanLabels('0'.repeat(15) + 'f', '0'.repeat(31) + 'f', { name: 'later' }, startNanos + 3e9);
      manager.with(inSpan(later), () => undefined);
      later.ended('later', startNanos + 3e9 + 1);
      binding.spanEnded(later);
      assert.equal(binding.labelsOfSample(recorded).endNanos, -Infinity, 'labelled long after the end: known only as ended');
      assert.equal(binding.labelsOfSample(undefined), undefined);
      assert.equal(binding.labelsOfSample(A), undefined, 'only numbers are written in this mode');
    } finally {
      binding.uninstall();
    }
  });
});

describe('async-hooks binding', () => {
  test('sets one holder at install and keeps it current through scopes', () => {
    const fake = fakeHooksProfiler();
    const { binding, manager } = bind('async-hooks', fake);
    try {
      assert.equal(binding.useCPED, false);
      assert.equal(fake.setCalls, 1);
      const current = () => binding.labelsOfSample(fake.context);
      assert.equal(current(), undefined);
      manager.with(inSpan(A), () => {
        assert.equal(current(), A);
        manager.with(inSpan(B), () => assert.equal(current(), B));
        assert.equal(current(), A);
      });
      assert.equal(current(), undefined);
      assert.equal(fake.setCalls, 1, 'without samples in between, the holder is changed in place');
    } finally {
      binding.uninstall();
    }
  });

  test('every continuation of interleaved requests sees its own span', async () => {
    const fake = fakeHooksProfiler();
    const { binding, manager } = bind('async-hooks', fake);
    try {
      const seen = await interleavedRequests(manager, () => binding.labelsOfSample(fake.sample()));
      assert.deepEqual(seen.A.map((l) => l?.name), Array(7).fill('A'));
      assert.deepEqual(seen.B.map((l) => l?.name), Array(7).fill('B'));
    } finally {
      binding.uninstall();
    }
  });

  test('a sample keeps the span it was taken in after the context moves on', () => {
    const fake = fakeHooksProfiler();
    const { binding, manager } = bind('async-hooks', fake);
    try {
      let inA;
      let inB;
      manager.with(inSpan(A), () => {
        inA = fake.sample();
        manager.with(inSpan(B), () => {
          inB = fake.sample();
        });
      });
      assert.equal(binding.labelsOfSample(inA), A);
      assert.equal(binding.labelsOfSample(inB), B);
      assert.equal(binding.labelsOfSample(fake.context), undefined);
    } finally {
      binding.uninstall();
    }
  });

  test('afterCollect(): after the counter restarts, sampled holders are still never reused', () => {
    const fake = fakeHooksProfiler();
    const { binding, manager } = bind('async-hooks', fake);
    try {
      manager.with(inSpan(A), () => {
        fake.sample();
        fake.sample();
        fake.sample();
      });
      // Leaving A after three samples: the binding remembers the count 3 with the new holder.
      fake.collect();
      binding.afterCollect();
      // As many samples outside spans after the collection: the count alone cannot tell the holder was taken.
      fake.sample();
      fake.sample();
      const outside = fake.sample();
      manager.with(inSpan(B), () => {
        assert.equal(binding.labelsOfSample(fake.context), B);
        assert.equal(binding.labelsOfSample(outside), undefined, 'a sample outside spans is not charged to the next request');
      });
    } finally {
      binding.uninstall();
    }
  });

  test('attach() (enterWith) moves the holder too', () => {
    const fake = fakeHooksProfiler();
    const { binding, manager } = bind('async-hooks', fake);
    try {
      manager.with(ROOT_CONTEXT, () => {
        const token = manager.attach(inSpan(B));
        assert.equal(binding.labelsOfSample(fake.context), B);
        if (typeof token[Symbol.dispose] === 'function') token[Symbol.dispose]();
        else token.dispose();
        assert.equal(binding.labelsOfSample(fake.context), undefined);
      });
    } finally {
      binding.uninstall();
    }
  });

  test('resync() hands the restarted sampler a fresh holder with the current labels', () => {
    const fake = fakeHooksProfiler();
    const { binding, manager } = bind('async-hooks', fake);
    try {
      manager.with(inSpan(A), () => {
        const before = fake.context;
        binding.resync();
        assert.notEqual(fake.context, before);
        assert.equal(binding.labelsOfSample(fake.context), A);
        manager.with(inSpan(B), () => undefined);
        assert.equal(binding.labelsOfSample(before), A, 'the holder the old sampler had is left alone');
      });
    } finally {
      binding.uninstall();
    }
  });

  test('a profiler that throws turns the binding off; the app keeps its contexts and results', () => {
    const fake = fakeHooksProfiler();
    const { binding, manager } = bind('async-hooks', fake);
    try {
      fake.sample(); // the next change needs a new holder, so a call to the profiler
      fake.throwOnSet = true;
      const [active, value] = manager.with(inSpan(A), (x) => [manager.active(), x], undefined, 7);
      assert.equal(active.getValue(LABELS), A);
      assert.equal(value, 7);
      fake.throwOnSet = false;
      fake.sample();
      manager.with(inSpan(B), () => undefined);
      assert.equal(fake.setCalls, 1, 'only the install call');
    } finally {
      binding.uninstall();
    }
  });

  test('uninstall() gives back with() and enterWith, and nothing follows the contexts any more', async () => {
    const fake = fakeHooksProfiler();
    const manager = new AsyncLocalStorageContextManager();
    const originalWith = manager.with;
    const { binding } = bind('async-hooks', fake, manager);
    assert.notEqual(manager.with, originalWith);
    const holder = fake.context;
    binding.uninstall();
    binding.uninstall();
    assert.equal(manager.with, originalWith);
    assert.equal(Object.hasOwn(manager._asyncLocalStorage, 'enterWith'), false);
    await manager.with(inSpan(A), async () => {
      await sleep(1);
      manager.attach(inSpan(B));
    });
    assert.equal(holder.ref, undefined);
    assert.equal(fake.setCalls, 1);
  });
});

describe('choosing the binding', () => {
  test('detectBindingMode follows the profiler addon, with a reason', () => {
    const decision = detectBindingMode();
    assert.equal(decision.mode, isAsyncContextFrameActive() ? 'async-context-frame' : 'async-hooks');
    assert.ok(decision.reason.length > 20, decision.reason);
  });

  test('runDelegatesToEnterWith probes without leaving a wrapper behind', () => {
    const fresh = new AsyncLocalStorage();
    assert.equal(runDelegatesToEnterWith(fresh), isAsyncContextFrameActive());
    assert.equal(Object.hasOwn(fresh, 'enterWith'), false);
    const wrapped = new AsyncLocalStorage();
    const own = function (store) {
      return AsyncLocalStorage.prototype.enterWith.call(this, store);
    };
    wrapped.enterWith = own;
    runDelegatesToEnterWith(wrapped);
    assert.equal(wrapped.enterWith, own, "an instance's own enterWith is put back");
  });

  test('a frame decision without a storage to follow falls back to hooks, whose install says why', () => {
    const manager = { active: () => ROOT_CONTEXT, with: (context, fn) => fn() };
    const { binding, fallbackReason } = createContextBinding({ mode: 'async-context-frame', reason: '' }, fakeHooksProfiler(), manager, resolve);
    assert.equal(binding.mode, 'async-hooks');
    assert.match(fallbackReason, /enterWith/);
    assert.throws(() => binding.install(), /context manager has no AsyncLocalStorage/);
  });

  test('a hooks decision gives the hooks binding whatever the process supports', () => {
    const { binding, fallbackReason } = createContextBinding({ mode: 'async-hooks', reason: '' }, fakeHooksProfiler(), new AsyncLocalStorageContextManager(), resolve);
    assert.equal(binding.mode, 'async-hooks');
    assert.equal(fallbackReason, undefined);
  });
});
