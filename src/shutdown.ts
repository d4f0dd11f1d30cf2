/**
 * Flushing on the way out without changing how the process ends.
 *
 * - Normal exit (the event loop empties): `beforeExit` runs the shutdown once.
 * - SIGTERM / SIGINT: if the app has no handler of its own, the agent flushes within the deadline, then
 *   re-raises the signal so the process ends exactly as it would have (SIGTERM: code 143), instead of
 *   swallowing it and leaving a pod to wait for SIGKILL. If the app handles the signal, the app keeps
 *   control: the agent only flushes.
 * - `process.exit()` and uncaught exceptions: nothing asynchronous can run; the exit code is untouched.
 * - A backend that hangs cannot hold the process past the deadline: after it, the process ends with the
 *   exit code the app set (`process.exitCode`), and the undelivered data is reported once.
 */
import { withDeadline } from './deadline';
import { getLogger } from './logger';

export interface ShutdownHooks {
  /** Flush and stop everything; idempotent. */
  shutdown(deadline: number): Promise<void>;
  /** Deliver what is pending without stopping (the app keeps running). */
  flush(deadline: number): Promise<void>;
}

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/** Installs the handlers; returns a function that removes them. */
export function installShutdownHandlers(hooks: ShutdownHooks, timeoutMs: number): () => void {
  let finished: Promise<boolean> | undefined;
  const shutdownOnce = (keepAlive: boolean): Promise<boolean> => {
    finished ??= withDeadline(
      Promise.resolve().then(() => hooks.shutdown(Date.now() + timeoutMs)),
      Date.now() + timeoutMs,
      keepAlive,
    );
    return finished;
  };

  const onBeforeExit = () => {
    void shutdownOnce(false).then((completed) => {
      if (completed) return;
      // The app is done (the event loop was empty); only an exporter still retrying against a slow or
      // dead backend keeps the process alive. The deadline is the promise: end as the app would have.
      getLogger().warn(
        `telemetry not delivered within SPAN_PROFILES_SHUTDOWN_TIMEOUT (${timeoutMs} ms); exiting without it`,
      );
      process.exit();
    });
  };
  process.once('beforeExit', onBeforeExit);

  const handlers = new Map<NodeJS.Signals, () => void>();
  for (const signal of SIGNALS) {
    let received = false;
    const handler = () => {
      const appHandlesIt = process.listenerCount(signal) > 1;
      if (appHandlesIt) {
        // The app decides when to exit; make sure our data is out before it does.
        void withDeadline(Promise.resolve().then(() => hooks.flush(Date.now() + timeoutMs)), Date.now() + timeoutMs, false);
        return;
      }
      if (received) {
        // A second signal while flushing: stop waiting.
        reraise(signal, handler);
        return;
      }
      received = true;
      void shutdownOnce(true).then(() => reraise(signal, handler));
    };
    handlers.set(signal, handler);
    process.on(signal, handler);
  }

  return () => {
    process.removeListener('beforeExit', onBeforeExit);
    for (const [signal, handler] of handlers) process.removeListener(signal, handler);
  };
}

function reraise(signal: NodeJS.Signals, handler: () => void): void {
  process.removeListener(signal, handler);
  if (process.listenerCount(signal) > 0) return; // the app added a handler meanwhile: its call
  process.kill(process.pid, signal);
}
