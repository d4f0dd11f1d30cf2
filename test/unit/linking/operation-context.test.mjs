// Running a reply handler in the context its operation was issued in (src/linking/operation-context.ts), in
// process: OpenTelemetry's real context manager as the global one, the real bindings, a fake profiler. Under
// the frame binding the handler runs in the issuing frame itself: the issuing span's labels in the profiler's
// slot with no native set, the socket's context back exactly afterwards (also after a throw), and the plain
// `context.with` again once the binding cannot vouch for old frames (sampler restart) or is gone; under the
// hooks binding, `context.with` keeps the global sample context right.
import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { createRequire } from 'node:module';
import { fakeFrameProfiler, fakeHooksProfiler } from '../../helpers/fake-profilers.mjs';

const require = createRequire(import.meta.url);
const { createContextBinding } = require('../../../dist/linking/context-binding.js');
const { captureIssuedContext, contextOfIssued, runInIssued } = require('../../../dist/linking/operation-context.js');
const { SpanLabels } = require('../../../dist/linking/span-labels.js');
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
const api = require('@opentelemetry/api');
const { isAsyncContextFrameActive } = require('@datadog/pprof/out/src/async-context-frame');

const LABELS = api.createContextKey('test span labels');
const resolve = (ctx) => ctx.getValue(LABELS);
const labels = (name, n) => new SpanLabels(n.toString(16).padStart(16, '0'), '0'.repeat(31) + n.toString(16), { name });
const QUERY = labels('query', 1);
const OPENER = labels('opener', 2);
const inSpan = (spanLabels) => api.ROOT_CONTEXT.setValue(LABELS, spanLabels);

/** An app's own AsyncLocalStorage (a request id for its logs, say). */
const appStore = new AsyncLocalStorage();

let manager;
beforeEach(() => {
  manager = new AsyncLocalStorageContextManager().enable();
  api.context.setGlobalContextManager(manager);
});
afterEach(() => {
  api.context.disable();
});

function bind(mode, fake) {
  const { binding } = createContextBinding({ mode, reason: 'test' }, fake, manager, resolve);
  binding.install();
  return binding;
}

/** The operation is issued in the query's span (request "query"), the reply arrives in the opener's. */
function issueInQuery() {
  return appStore.run('request-query', () => manager.with(inSpan(QUERY), () => captureIssuedContext()));
}
function inOpener(fn) {
  return appStore.run('request-opener', () => manager.with(inSpan(OPENER), fn));
}

describe('under the async-context-frame binding', { skip: !isAsyncContextFrameActive() && 'AsyncContextFrame is off in this process' }, () => {
  test("the handler runs in the issuing frame: the query's span and labels, no native set, then the socket's again", () => {
    const fake = fakeFrameProfiler();
    const binding = bind('async-context-frame', fake);
    try {
      const issued = issueInQuery();
      assert.equal(resolve(contextOfIssued(issued)), QUERY);
      inOpener(() => {
        assert.equal(fake.getContext(), OPENER);
        const setsBefore = fake.setCalls;
        const seen = runInIssued(
          issued,
          function (a, b) {
            return { self: this, args: [a, b], span: resolve(api.context.active()), sample: fake.getContext(), app: appStore.getStore() };
          },
          'this',
          [1, 2],
        );
        assert.deepEqual(seen, { self: 'this', args: [1, 2], span: QUERY, sample: QUERY, app: 'request-query' });
        assert.equal(fake.setCalls, setsBefore, 'no native sample-context set in or out');
        // The next reply, answering no operation, runs in the socket's context as before.
        assert.equal(resolve(api.context.active()), OPENER);
        assert.equal(fake.getContext(), OPENER);
        assert.equal(appStore.getStore(), 'request-opener');
      });
    } finally {
      binding.uninstall();
    }
  });

  test("a handler that throws leaves the socket's context as it was", () => {
    const fake = fakeFrameProfiler();
    const binding = bind('async-context-frame', fake);
    try {
      const issued = issueInQuery();
      inOpener(() => {
        assert.throws(() => runInIssued(issued, () => { throw new Error('parse error'); }, undefined, []), /parse error/);
        assert.equal(resolve(api.context.active()), OPENER);
        assert.equal(fake.getContext(), OPENER);
      });
    } finally {
      binding.uninstall();
    }
  });

  test('a context switch inside the handler starts from the issuing frame and is undone with it', () => {
    const fake = fakeFrameProfiler();
    const binding = bind('async-context-frame', fake);
    try {
      const issued = issueInQuery();
      const OTHER = labels('other', 3);
      inOpener(() => {
        runInIssued(issued, () => {
          manager.with(inSpan(OTHER), () => assert.equal(fake.getContext(), OTHER));
          assert.equal(fake.getContext(), QUERY, 'back to the query after the inner scope');
        }, undefined, []);
        assert.equal(fake.getContext(), OPENER);
      });
    } finally {
      binding.uninstall();
    }
  });

  test('after a sampler restart an earlier frame is not reused: the handler enters the context and the slot is set', () => {
    const fake = fakeFrameProfiler();
    const binding = bind('async-context-frame', fake);
    try {
      const issued = issueInQuery();
      fake.restart();
      binding.resync();
      inOpener(() => {
        const sample = runInIssued(issued, () => fake.getContext(), undefined, []);
        assert.equal(sample, QUERY, 'the frame kept from before the restart holds no slot; entering the context sets it');
        assert.equal(resolve(api.context.active()), OPENER);
      });
      // Operations issued from now on keep just their context.
      assert.equal(resolve(issueInQuery()), QUERY);
    } finally {
      binding.uninstall();
    }
  });

  test('once the binding is uninstalled, operations keep just their context', () => {
    const fake = fakeFrameProfiler();
    bind('async-context-frame', fake).uninstall();
    const issued = issueInQuery();
    assert.equal(resolve(issued), QUERY, 'a plain OpenTelemetry context');
    inOpener(() => assert.equal(runInIssued(issued, () => resolve(api.context.active()), undefined, []), QUERY));
  });
});

describe('under the async-hooks binding', () => {
  test("the handler enters the query's context, so the global sample context follows, and leaves it after", () => {
    const fake = fakeHooksProfiler();
    const binding = bind('async-hooks', fake);
    try {
      const issued = issueInQuery();
      assert.equal(resolve(issued), QUERY, 'a plain OpenTelemetry context: the hooks binding follows with(), not frames');
      inOpener(() => {
        const seen = runInIssued(issued, () => [resolve(api.context.active()), fake.context.ref], undefined, []);
        assert.deepEqual(seen, [QUERY, QUERY]);
        assert.equal(fake.context.ref, OPENER);
      });
    } finally {
      binding.uninstall();
    }
  });
});

test('an operation issued in the context that is active runs its handler as it is', () => {
  const issued = manager.with(inSpan(QUERY), () => {
    const issued = captureIssuedContext();
    assert.equal(runInIssued(issued, () => resolve(api.context.active()), undefined, []), QUERY);
    return issued;
  });
  assert.equal(contextOfIssued(issued), issued);
});
