/**
 * Context binding: keeping the profiler's "current sample context" equal to the labels of the span that
 * is running, through every async continuation. This is where attribution is won or lost.
 *
 * Two modes, chosen by feature detection (never by Node version):
 * - async-context-frame: AsyncLocalStorage is backed by AsyncContextFrame (Node 24+ by default, Node 22
 *   with --experimental-async-context-frame). The profiler stores the context in the frame itself
 *   (`useCPED`), so it follows every continuation for free; we only set it when the OpenTelemetry
 *   context manager enters a context (including the restoring `enterWith` at the end of `run`).
 * - async-hooks: without AsyncContextFrame, the profiler has one global context. An async_hooks `before`
 *   hook and a wrapper of `with()` update it on every continuation and scope change. A mutable holder
 *   keeps that update a property write: a new holder is only allocated once a sample may have captured
 *   the current one.
 */
import { AsyncLocalStorage, createHook, type AsyncHook } from 'node:async_hooks';
import { ROOT_CONTEXT, type Context } from '@opentelemetry/api';
import type { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import type { PprofModule } from '../profiler/native-profiler';
import { SpanLabels } from './span-labels';
import { SampleContextIds } from './sample-context-ids';

export type BindingMode = 'async-context-frame' | 'async-hooks';

export interface BindingDecision {
  mode: BindingMode;
  reason: string;
}

/**
 * Decides the mode for this process; never throws. The agent binds with this decision and `doctor`
 * reports it, so both say the same.
 */
export function detectBindingMode(): BindingDecision {
  let active = false;
  try {
    // Not exported from the package index; the module is part of the published layout.
    const acf = require('@datadog/pprof/out/src/async-context-frame') as typeof import('@datadog/pprof/out/src/async-context-frame');
    active = acf.isAsyncContextFrameActive();
  } catch {
    active = false;
  }
  if (active && !runDelegatesToEnterWithSafely()) {
    return { mode: 'async-hooks', reason: RUN_WITHOUT_ENTER_WITH };
  }
  if (active) {
    return {
      mode: 'async-context-frame',
      reason: 'AsyncLocalStorage is backed by AsyncContextFrame, so the sample context follows every async continuation',
    };
  }
  const major = Number(process.versions.node.split('.')[0]);
  let why: string;
  if (major >= 24) why = 'AsyncContextFrame is turned off (--no-async-context-frame)';
  else if (major >= 22) {
    why = `AsyncContextFrame is off by default on Node ${major} (--experimental-async-context-frame turns it on and is cheaper)`;
  } else why = `Node ${major} has no AsyncContextFrame`;
  return { mode: 'async-hooks', reason: `${why}; an async_hooks before-hook follows continuations instead` };
}

/** Why a process with AsyncContextFrame still gets the hooks binding. */
const RUN_WITHOUT_ENTER_WITH = 'AsyncLocalStorage.run does not go through enterWith on this Node; using async hooks';

function runDelegatesToEnterWithSafely(): boolean {
  try {
    return runDelegatesToEnterWith();
  } catch {
    return false;
  }
}

/** Resolves the labels of the span active in a context. */
export type LabelsResolver = (context: Context) => SpanLabels | undefined;

/** The contract both modes implement for the profiler lifecycle. */
export interface ContextBinding {
  readonly mode: BindingMode;
  /** Whether the profiler must be started with `useCPED`. */
  readonly useCPED: boolean;
  /** Hooks into the context manager; call right after the profiler started. */
  install(): void;
  /** The labels a sample recorded, from what pprof hands to generateLabels. */
  labelsOfSample(recorded: unknown): SpanLabels | undefined;
  /** Call right after each `time.stop(true)`: the sample counter restarted. */
  afterCollect(): void;
  /** Call after the sampler was stopped and started again: what it held about contexts is gone. */
  resync(): void;
  /** Call when the span of `labels` ends (after `labels.ended`). */
  spanEnded(labels: SpanLabels): void;
  /** Call once every sample taken up to `unixNanos` has been through {@link labelsOfSample}. */
  samplesLabelledUntil(unixNanos: number): void;
  /** Unhooks; safe to call twice. */
  uninstall(): void;
}

interface ContextManagerInternals {
  _asyncLocalStorage: AsyncLocalStorage<Context>;
}

function storageOf(manager: AsyncLocalStorageContextManager): AsyncLocalStorage<Context> | undefined {
  const storage = (manager as unknown as ContextManagerInternals)._asyncLocalStorage;
  return storage && typeof storage.enterWith === 'function' ? storage : undefined;
}

/** The manager's storage, or a clear error: both bindings need it. */
function requireStorage(manager: AsyncLocalStorageContextManager): AsyncLocalStorage<Context> {
  const storage = storageOf(manager);
  if (!storage) throw new Error('the OpenTelemetry context manager has no AsyncLocalStorage to bind to');
  return storage;
}

/** Calls `after(store)` after every `enterWith` on this storage instance; returns the undo. */
function followEnterWith(
  storage: AsyncLocalStorage<Context>,
  after: (store: Context | undefined, previous: Context | undefined) => void,
): () => void {
  const original = storage.enterWith;
  storage.enterWith = function (this: AsyncLocalStorage<Context>, store: Context) {
    const previous = this.getStore();
    original.call(this, store);
    try {
      after(store, previous);
    } catch {
      // Whatever the store holds, the app's context switch has happened; the profiler may miss it.
    }
  };
  return () => {
    delete (storage as { enterWith?: unknown }).enterWith;
    if (storage.enterWith !== original) storage.enterWith = original;
  };
}

/**
 * Whether `AsyncLocalStorage.run` goes through the instance's `enterWith` on this Node (it does under
 * AsyncContextFrame today). The frame binding relies on seeing the restoring `enterWith`; if a future
 * Node stops doing that, the agent falls back to the hooks binding instead of leaking contexts.
 * Probes a storage of its own: never the app's or OpenTelemetry's, whose followers expect real contexts.
 */
export function runDelegatesToEnterWith(storage: AsyncLocalStorage<unknown> = new AsyncLocalStorage()): boolean {
  const own = Object.prototype.hasOwnProperty.call(storage, 'enterWith');
  const original = storage.enterWith;
  let calls = 0;
  storage.enterWith = function (this: AsyncLocalStorage<unknown>, store: unknown) {
    calls++;
    return original.call(this, store);
  };
  try {
    storage.run({}, () => undefined);
  } finally {
    if (own) storage.enterWith = original;
    else delete (storage as { enterWith?: unknown }).enterWith;
  }
  return calls >= 2;
}

/**
 * AsyncContextFrame mode: the context lives in the frame; set it whenever OpenTelemetry enters one.
 * What is written is a number standing for the label object, not the object (sample-context-ids.ts says why).
 *
 * Every frame's profiler slot holds the labels of the OpenTelemetry context in that frame: frames are only
 * made by `enterWith` (which copies the current frame, and after which we set the slot) and restored
 * whole by async continuations. So whether the slot must change is known in JavaScript, by comparing the
 * labels of the context left and the context entered, without asking the profiler (a native call) each
 * time: only real span switches cross into native code.
 */
class FrameBinding implements ContextBinding {
  readonly mode = 'async-context-frame' as const;
  readonly useCPED = true;
  private enabled = false;
  /** After a sampler restart the slots are empty whatever the contexts say: ask the profiler. */
  private verify = false;
  private restore: (() => void) | undefined;
  private readonly ids = SampleContextIds.ofProcess();

  constructor(
    private readonly time: PprofModule['time'],
    private readonly manager: AsyncLocalStorageContextManager,
    private readonly resolve: LabelsResolver,
  ) {}

  install(): void {
    this.restore = followEnterWith(requireStorage(this.manager), (store, previous) => this.enter(store, previous));
    this.enabled = true;
    // Code already inside a context when we start (rare: the agent starts before the app).
    const labels = this.labelsToWrite(this.manager.active());
    if (labels !== undefined) this.write(this.numberFor(labels));
  }

  private numberFor(labels: SpanLabels | undefined): number | undefined {
    return labels === undefined ? undefined : this.ids.idOf(labels);
  }

  /** pprof types the context as an object, but keeps any value and hands it back with the sample. */
  private write(id: number | undefined): void {
    this.time.setContext(id as unknown as object | undefined);
  }

  /**
   * The labels to write for a context entered now. A span that has already ended is written as no span: code
   * entering its context now runs after the span, so none of its samples are the span's (the cut's guard
   * takes such samples off the span, span-time-bounds.ts), and an empty write deletes the frame's slot where a
   * write makes pprof a holder object and two global handles. Code returns to such contexts all the time: a
   * pooled connection's socket goes back to the context of the request that opened it after every reply it
   * handed to a later query (on `pg`, twice per request).
   */
  private labelsToWrite(context: Context | undefined): SpanLabels | undefined {
    const labels = this.resolve(context ?? ROOT_CONTEXT);
    return labels !== undefined && labels.endNanos === Infinity ? labels : undefined;
  }

  private enter(context: Context | undefined, previous: Context | undefined): void {
    if (!this.enabled) return;
    const labels = this.labelsToWrite(context);
    try {
      if (this.verify) {
        const id = this.numberFor(labels);
        if (this.time.getContext() !== id) this.write(id);
      } else if (labels !== this.resolve(previous ?? ROOT_CONTEXT)) {
        // Compared with the labels the previous context's span has, ended or not: its frame may hold them,
        // written while the span ran, and a context without them (the root, say) must clear them.
        this.write(this.numberFor(labels));
      }
    } catch {
      // The profiler stopped (pprof stops itself on process exit): stop touching it.
      this.enabled = false;
    }
  }

  labelsOfSample(recorded: unknown): SpanLabels | undefined {
    return typeof recorded === 'number' ? this.ids.labelsOf(recorded) : undefined;
  }

  spanEnded(labels: SpanLabels): void {
    this.ids.spanEnded(labels);
  }

  samplesLabelledUntil(unixNanos: number): void {
    this.ids.samplesLabelledUntil(unixNanos);
  }

  afterCollect(): void {}

  resync(): void {
    // Frames made before the restart hold nothing under the new sampler; they can live on (a long
    // request), so from now on every switch asks the profiler what the frame holds.
    this.verify = true;
  }

  uninstall(): void {
    this.enabled = false;
    this.restore?.();
    this.restore = undefined;
  }
}

interface Holder {
  ref: SpanLabels | undefined;
}

/** async_hooks mode: one global context, updated on every continuation and scope change. */
class HooksBinding implements ContextBinding {
  readonly mode = 'async-hooks' as const;
  readonly useCPED = false;
  private enabled = false;
  private holder: Holder = { ref: undefined };
  private lastSampleCount = 0;
  private state: Uint32Array | undefined;
  private sampleCountIndex = 0;
  private hook: AsyncHook | undefined;
  private restorers: Array<() => void> = [];

  constructor(
    private readonly time: PprofModule['time'],
    private readonly manager: AsyncLocalStorageContextManager,
    private readonly resolve: LabelsResolver,
  ) {}

  install(): void {
    const storage = requireStorage(this.manager);
    this.state = this.time.getState() as Uint32Array;
    this.sampleCountIndex = this.time.constants.kSampleCount as number;
    this.holder = { ref: undefined };
    this.time.setContext(this.holder);
    this.lastSampleCount = this.state[this.sampleCountIndex] ?? 0;
    this.enabled = true;

    const binding = this;
    const manager = this.manager;

    // Scope changes: with() sets the span's labels for fn, then puts back whatever is active after it.
    const originalWith = manager.with;
    const wrappedWith = function (
      this: AsyncLocalStorageContextManager,
      context: Context,
      fn: (...args: unknown[]) => unknown,
      thisArg?: unknown,
      ...args: unknown[]
    ): unknown {
      binding.enter(binding.resolve(context));
      try {
        return originalWith.call(this, context, fn, thisArg, ...args);
      } finally {
        binding.enter(binding.resolve(this.active()));
      }
    };
    manager.with = wrappedWith as typeof manager.with;
    this.restorers.push(() => {
      manager.with = originalWith;
    });

    // attach() and direct enterWith.
    this.restorers.push(followEnterWith(storage, (store) => this.enter(this.resolve(store ?? ROOT_CONTEXT))));

    // Every async continuation (a before hook also turns on promise hooks, so awaits are covered).
    this.hook = createHook({
      before() {
        binding.enter(binding.resolve(manager.active()));
      },
    });
    this.hook.enable();
    this.enter(this.resolve(manager.active()));
  }

  private enter(labels: SpanLabels | undefined): void {
    if (!this.enabled || this.holder.ref === labels) return;
    const count = this.state![this.sampleCountIndex]!;
    if (count === this.lastSampleCount) {
      // No sample has captured this holder since it was set: change it in place.
      this.holder.ref = labels;
      return;
    }
    this.lastSampleCount = count;
    this.holder = { ref: labels };
    try {
      this.time.setContext(this.holder);
    } catch {
      this.disable();
    }
  }

  labelsOfSample(recorded: unknown): SpanLabels | undefined {
    const ref = (recorded as Holder | undefined)?.ref;
    return ref instanceof SpanLabels ? ref : undefined;
  }

  // A sample holds its holder, and the holder the label object: nothing to keep for after the span.
  spanEnded(): void {}

  samplesLabelledUntil(): void {}

  afterCollect(): void {
    // The native counter restarted at 0 with the new profile.
    this.lastSampleCount = 0;
  }

  resync(): void {
    this.holder = { ref: this.holder.ref };
    this.lastSampleCount = 0;
    try {
      this.time.setContext(this.holder);
    } catch {
      this.disable();
    }
  }

  private disable(): void {
    this.enabled = false;
    this.hook?.disable();
  }

  uninstall(): void {
    this.disable();
    this.hook = undefined;
    for (const restore of this.restorers.splice(0)) restore();
  }
}

/**
 * Creates the binding for this process. `decision` comes from {@link detectBindingMode}; a frame
 * decision falls back to hooks when the context manager has no AsyncLocalStorage to follow.
 */
export function createContextBinding(
  decision: BindingDecision,
  time: PprofModule['time'],
  manager: AsyncLocalStorageContextManager,
  resolve: LabelsResolver,
): { binding: ContextBinding; fallbackReason?: string } {
  if (decision.mode === 'async-context-frame') {
    if (storageOf(manager)) return { binding: new FrameBinding(time, manager, resolve) };
    return { binding: new HooksBinding(time, manager, resolve), fallbackReason: RUN_WITHOUT_ENTER_WITH };
  }
  return { binding: new HooksBinding(time, manager, resolve) };
}
