/**
 * Running a driver's reply handling in the context of the operation it answers (used by the
 * pooled-connection instrumentation, src/tracing/instrumentation-connection-context.ts), as cheaply as the
 * context binding allows.
 *
 * The plain way is `context.with(issuedContext, handler)`. Under the AsyncContextFrame binding that costs
 * two new frames (`enterWith` in, `enterWith` back) and, whenever the operation's span differs from the
 * socket's, two native sample-context sets in the profiler (each allocating a holder, a C++ record, a
 * strong and a weak handle). On a pooled pg connection that is two thirds of the native sets of a request.
 *
 * Under that binding the frame current where the operation is issued already holds everything the reply
 * needs: the operation's OpenTelemetry context and, by the binding's invariant, the profiler's slot with
 * that context's labels. So the frame itself is kept (an `AsyncResource` made at that point), and the
 * handler runs in it (`runInAsyncScope`: the frame is swapped in and the prior one put back exactly; no
 * new frame, no native call). The frame path is used only while the frame binding says its slots are
 * exact ({@link setFramesCarrySampleContext}); otherwise, and with the async-hooks binding (whose global
 * sample context only follows `with()`), the plain way.
 *
 * Side effect, on purpose: in the handler every AsyncLocalStorage of the app now holds what it held where
 * the operation was issued, not what it held where the connection was opened (some earlier request). That
 * is what `AsyncResource` is for (Node's docs: pools and queues should run callbacks in the caller's
 * context), and it matches what OpenTelemetry's context already says there.
 */
import { AsyncResource } from 'node:async_hooks';
import { context, type Context } from '@opentelemetry/api';

/** Set by the frame binding while every frame's profiler slot matches its OpenTelemetry context. */
let framesCarrySampleContext = false;

/**
 * Called by the AsyncContextFrame binding: `true` once installed, `false` when it is uninstalled or can no
 * longer vouch for frames made earlier (after a sampler restart). Frames captured while it was on are run
 * the plain way once it is off.
 */
export function setFramesCarrySampleContext(on: boolean): void {
  framesCarrySampleContext = on;
}

/** The frame an operation was issued in, with the OpenTelemetry context it held. */
class IssuedFrame extends AsyncResource {
  constructor(readonly context: Context) {
    // Destroy is left to the default (emitted at GC only if the app has destroy hooks): an app's
    // async_hooks bookkeeping keyed by async id must see it end.
    super('span-profiles.operation');
  }
}

/** Where an operation was issued: its context, or under the frame binding the whole frame. */
export type IssuedContext = Context | IssuedFrame;

/** What to remember when an operation is issued; call synchronously where the app issues it. */
export function captureIssuedContext(): IssuedContext {
  const active = context.active();
  return framesCarrySampleContext ? new IssuedFrame(active) : active;
}

/** The OpenTelemetry context an operation was issued in. */
export function contextOfIssued(issued: IssuedContext): Context {
  return issued instanceof IssuedFrame ? issued.context : issued;
}

/**
 * `fn.apply(thisArg, args)` in the context the operation was issued in. When that context is already
 * active, nothing is switched.
 */
export function runInIssued<A extends unknown[], R>(issued: IssuedContext, fn: (this: unknown, ...args: A) => R, thisArg: unknown, args: A): R {
  if (issued instanceof IssuedFrame) {
    if (issued.context === context.active()) return fn.apply(thisArg, args);
    if (framesCarrySampleContext) return issued.runInAsyncScope(fn, thisArg, ...args);
    return context.with(issued.context, fn, thisArg, ...args);
  }
  if (issued === context.active()) return fn.apply(thisArg, args);
  return context.with(issued, fn, thisArg, ...args);
}
