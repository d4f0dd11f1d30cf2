/**
 * A bounded, strictly sequential delivery queue for uploads. It owns everything about *when* to send
 * (one request at a time, per-attempt timeout, exponential backoff with jitter, dropping the oldest
 * item when the destination falls behind, the flush deadline) and nothing about *how*: the transport
 * is a {@link DeliverAttempt} function. Every timer is unref'd, so a queue never keeps the process alive.
 */

import { withDeadline } from '../deadline';
import { describeError, getLogger } from '../logger';

/** How often and how patiently a failed upload is retried. */
export interface RetryPolicy {
  /** Attempts per item, the first included; 1 disables retries. */
  readonly maxAttempts: number;
  /** Backoff before the second attempt; it doubles for each attempt after that. */
  readonly initialBackoffMs: number;
  /** Cap of the doubling backoff (also of a server's Retry-After). */
  readonly maxBackoffMs: number;
}

/** Three retries within ~7 s: done well before the next 15 s upload interval. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  maxAttempts: 4,
  initialBackoffMs: 1000,
  maxBackoffMs: 15_000,
});

/** What one attempt to deliver an item came to. */
export type AttemptResult<T = never> =
  | { readonly outcome: 'delivered' }
  /** A transient failure (network, timeout, 5xx, 429): worth another attempt. */
  | { readonly outcome: 'retry'; readonly reason: string; readonly retryAfterMs?: number }
  /** The destination refused the item for good (e.g. 400): retrying cannot help. */
  | { readonly outcome: 'rejected'; readonly reason: string }
  /**
   * The item can never pass as it is but its parts can (e.g. over a size limit): the parts take its
   * place at the head of the queue, in order, each with its own attempts.
   */
  | { readonly outcome: 'replace'; readonly parts: readonly T[] };

/**
 * Sends `item` once. Must settle promptly once `signal` aborts (timeout, flush deadline, shutdown).
 * A rejection is treated as a retryable failure. Reasons must not contain secrets.
 */
export type DeliverAttempt<T> = (item: T, signal: AbortSignal) => Promise<AttemptResult<T>>;

/** Running totals, for tests and diagnostics. */
export interface UploadCounters {
  /** Items delivered. */
  sent: number;
  /** Items given up on: rejected, out of attempts, or cut off by shutdown. */
  failed: number;
  /** Items discarded unsent: the queue was full, or closed. */
  dropped: number;
  /** Attempts that were followed by another attempt. */
  retried: number;
  /** Items replaced by their parts (see AttemptResult 'replace'). */
  split: number;
}

/** Construction options of an {@link UploadQueue}. */
export interface UploadQueueOptions<T> {
  /** Names the destination in messages, e.g. `pyroscope http://host:4040`. Must not contain secrets. */
  readonly name: string;
  /** Most items waiting (the one in flight not included); at least 1. */
  readonly capacity: number;
  /** Per-attempt timeout. */
  readonly timeoutMs: number;
  readonly retry: RetryPolicy;
  readonly deliver: DeliverAttempt<T>;
}

const ABORT_DEADLINE = 'abandoned at the flush deadline';
const ABORT_SHUTDOWN = 'abandoned at shutdown';

/** See the module comment. */
export class UploadQueue<T> {
  /** Live totals; read them, don't write them. */
  readonly counters: UploadCounters = { sent: 0, failed: 0, dropped: 0, retried: 0, split: 0 };

  private readonly name: string;
  private readonly capacity: number;
  private readonly timeoutMs: number;
  private readonly retry: RetryPolicy;
  private readonly deliver: DeliverAttempt<T>;
  private readonly waiting: T[] = [];
  private draining = false;
  private closed = false;
  private inFlight: AbortController | undefined;
  private cutBackoffShort: (() => void) | undefined;
  private readonly idleListeners = new Set<() => void>();

  constructor(options: UploadQueueOptions<T>) {
    this.name = options.name;
    this.capacity = Math.max(1, Math.floor(options.capacity));
    this.timeoutMs = Math.max(1, options.timeoutMs);
    this.retry = {
      maxAttempts: Math.max(1, Math.floor(options.retry.maxAttempts)),
      initialBackoffMs: Math.max(0, options.retry.initialBackoffMs),
      maxBackoffMs: Math.max(0, options.retry.maxBackoffMs),
    };
    this.deliver = options.deliver;
  }

  /** Items waiting plus the one in flight. */
  get pending(): number {
    return this.waiting.length + (this.draining ? 1 : 0);
  }

  /**
   * Queues `item` and returns at once. When the queue is full the oldest waiting item is dropped.
   * `supersedes`: waiting items it returns true for are dropped first (a newer snapshot replaces them).
   */
  enqueue(item: T, supersedes?: (waiting: T) => boolean): void {
    if (this.closed) {
      this.counters.dropped++;
      return;
    }
    if (supersedes !== undefined) {
      for (let i = this.waiting.length - 1; i >= 0; i--) {
        if (!supersedes(this.waiting[i]!)) continue;
        this.waiting.splice(i, 1);
        this.counters.dropped++;
      }
    }
    if (this.waiting.length >= this.capacity) {
      this.waiting.shift();
      this.counters.dropped++;
      getLogger().warnRateLimited(
        `${this.name}:queue-full`,
        `${this.name}: upload queue full (${this.capacity} profiles), dropped the oldest; ` +
          `${this.counters.dropped} dropped in total`,
      );
    }
    this.waiting.push(item);
    if (!this.draining) void this.drain();
  }

  /**
   * Resolves once every queued item has been dealt with, or at `deadline` (a `Date.now()` value),
   * whichever comes first; at the deadline the request in flight is aborted (it will be retried
   * unless the queue is closed). A pending backoff is cut short. Never rejects. Holds no ref'd
   * handle: a caller that must keep the process alive meanwhile does so itself.
   */
  flush(deadline: number): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    this.cutBackoffShort?.();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.idleListeners.delete(done);
        resolve();
      };
      const timer = setTimeout(
        () => {
          this.inFlight?.abort(ABORT_DEADLINE);
          done();
        },
        Math.max(0, deadline - Date.now()),
      );
      timer.unref();
      this.idleListeners.add(done);
    });
  }

  /**
   * Stops for good: waiting items are dropped (counted, reported once), the request in flight is
   * aborted, and later items are dropped silently. Resolves once the aborted attempt has settled, so
   * the counters are final.
   */
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      const left = this.waiting.length;
      this.waiting.length = 0;
      this.counters.dropped += left;
      if (left > 0) getLogger().warn(`${this.name}: ${left} profile(s) not uploaded before shutdown`);
      this.inFlight?.abort(ABORT_SHUTDOWN);
      this.cutBackoffShort?.();
    }
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.idleListeners.delete(done);
        resolve();
      };
      this.idleListeners.add(done);
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      let item: T | undefined;
      while (!this.closed && (item = this.waiting.shift()) !== undefined) {
        await this.deliverWithRetries(item);
      }
    } finally {
      this.draining = false;
      for (const listener of [...this.idleListeners]) listener();
    }
  }

  private async deliverWithRetries(item: T): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const result = await this.attempt(item);
      if (result.outcome === 'delivered') {
        this.counters.sent++;
        return;
      }
      if (result.outcome === 'replace') {
        this.counters.split++;
        this.waiting.unshift(...result.parts);
        return;
      }
      if (result.outcome === 'rejected') {
        this.counters.failed++;
        getLogger().warnRateLimited(
          `${this.name}:rejected`,
          `${this.name}: profile rejected, not retried: ${result.reason}`,
        );
        return;
      }
      if (this.closed) {
        this.counters.failed++;
        getLogger().warn(`${this.name}: a profile was not uploaded before shutdown (${result.reason})`);
        return;
      }
      if (attempt >= this.retry.maxAttempts) {
        this.counters.failed++;
        getLogger().warnRateLimited(
          `${this.name}:failed`,
          `${this.name}: profile upload failed after ${attempt} attempt${attempt === 1 ? '' : 's'}: ${result.reason}`,
        );
        return;
      }
      this.counters.retried++;
      await this.sleep(this.backoffMs(attempt, result.retryAfterMs));
      if (this.closed) {
        this.counters.failed++;
        return;
      }
    }
  }

  private async attempt(item: T): Promise<AttemptResult<T>> {
    const controller = new AbortController();
    this.inFlight = controller;
    const timer = setTimeout(() => controller.abort(`timed out after ${this.timeoutMs} ms`), this.timeoutMs);
    timer.unref();
    let result: AttemptResult<T>;
    try {
      result = await this.deliver(item, controller.signal);
    } catch (error) {
      result = { outcome: 'retry', reason: describeError(error) };
    } finally {
      clearTimeout(timer);
      this.inFlight = undefined;
    }
    // An aborted attempt fails with a generic AbortError; say why it was aborted instead.
    if ((result.outcome === 'retry' || result.outcome === 'rejected') && controller.signal.aborted) {
      return { outcome: 'retry', reason: String(controller.signal.reason) };
    }
    return result;
  }

  /** Exponential backoff with "equal jitter": between half and all of the doubled delay. */
  private backoffMs(attempt: number, retryAfterMs: number | undefined): number {
    const { initialBackoffMs, maxBackoffMs } = this.retry;
    const ceiling = Math.min(maxBackoffMs, initialBackoffMs * 2 ** (attempt - 1));
    const jittered = ceiling / 2 + Math.random() * (ceiling / 2);
    return retryAfterMs === undefined ? jittered : Math.max(jittered, Math.min(retryAfterMs, maxBackoffMs));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.cutBackoffShort = undefined;
        resolve();
      };
      const timer = setTimeout(wake, ms);
      timer.unref();
      this.cutBackoffShort = wake;
    });
  }
}

/**
 * The wiring every uploading destination (Pyroscope, OTLP profiles) shares around its {@link UploadQueue}:
 * cuts are shaped into items in the background, the items queued; `flush` waits for both, and `shutdown`
 * waits for the builds, refuses new work, flushes and closes the queue. The destination keeps how an
 * item is built and sent, and closes its own connection once {@link shutdown} says it ran.
 */
export class BackgroundUploads<T> {
  readonly queue: UploadQueue<T>;
  /** The queue's live totals. */
  readonly counters: UploadCounters;
  private shutDown = false;
  /** Cuts being shaped into items. */
  private readonly building = new Set<Promise<void>>();

  constructor(options: UploadQueueOptions<T>) {
    this.queue = new UploadQueue<T>(options);
    this.counters = this.queue.counters;
  }

  /** Whether {@link shutdown} has begun refusing work. */
  get isShutDown(): boolean {
    return this.shutDown;
  }

  /**
   * Starts `build` in the background and hands its result to `deliver`; once shut down, counts the work
   * dropped instead. A failed build is counted dropped and reported (rate-limited under `warnKey`) as
   * `what: <error>`.
   */
  inBackground<R>(build: () => Promise<R>, deliver: (result: R) => void, warnKey: string, what: string): void {
    if (this.shutDown) {
      this.counters.dropped++;
      return;
    }
    const work = build().then(deliver, (err: unknown) => {
      this.counters.dropped++;
      getLogger().warnRateLimited(warnKey, `${what}: ${describeError(err)}`);
    });
    this.building.add(work);
    void work.finally(() => this.building.delete(work));
  }

  /** Queues `item`, or counts it dropped once shut down. */
  enqueue(item: T, supersedes?: (waiting: T) => boolean): void {
    if (this.shutDown) {
      this.counters.dropped++;
      return;
    }
    this.queue.enqueue(item, supersedes);
  }

  /** Resolves when every build and queued item is dealt with, or at `deadline`. Never rejects. */
  async flush(deadline: number): Promise<void> {
    await withDeadline(Promise.all(this.building), deadline, false);
    await this.queue.flush(deadline);
  }

  /**
   * Waits for the builds until `deadline`, refuses new work, flushes until `deadline`, then drops what is
   * left. Resolves false when an earlier call had already shut down. Never rejects.
   */
  async shutdown(deadline: number): Promise<boolean> {
    if (this.shutDown) return false;
    await withDeadline(Promise.all(this.building), deadline, false);
    this.shutDown = true;
    await this.queue.flush(deadline);
    await this.queue.close();
    return true;
  }
}
