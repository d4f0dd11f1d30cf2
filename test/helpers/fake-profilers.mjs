// Fakes of the few calls of @datadog/pprof's `time` the context binding makes (src/linking/context-binding.ts),
// for in-process tests of the binding and of what relies on it.
import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The profiler as the async-context-frame binding sees it: with `useCPED` the sample context lives in the
 * current AsyncContextFrame, which a storage of its own reproduces (copied on every frame change, restored
 * by continuations). `restart()` is a sampler restart: every frame's slot is empty afterwards.
 */
export function fakeFrameProfiler() {
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
export function fakeHooksProfiler() {
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
