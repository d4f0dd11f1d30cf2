/**
 * The event-loop delay over time, for the local store: how long callbacks that were ready to run had to
 * wait because the thread was busy. `perf_hooks.monitorEventLoopDelay` keeps the histogram in native
 * code (a libuv timer, no JavaScript per tick); once a second an unref'd timer reads max, p99 and mean
 * off it and resets it, so the hot path pays nothing and memory holds a few numbers per second.
 *
 * When to read: the monitor records a block at its first tick after the block, and a reset before that
 * tick loses the block (the monitor measures from its previous tick, which the reset forgets). A block
 * that holds back our step timer often holds back the monitor's tick to the same turn, with ours first.
 * So a step is closed in a later check phase, once a timers phase (where the monitor ticks) has run since
 * the loop was last blocked ({@link afterMonitorTick}).
 *
 * Each profile cut of the store takes the points of its interval ({@link EventLoopDelayRecorder.drain})
 * and writes them as one OTLP/JSON `ExportMetricsServiceRequest` (gauges `nodejs.eventloop.delay.max`,
 * `.p99`, `.mean` in seconds, the names of OpenTelemetry's Node.js semantic conventions).
 */

import { monitorEventLoopDelay, performance, type ELDHistogram } from 'node:perf_hooks';

/** Resolution of the delay histogram's timer, ms: finer costs more wake-ups. */
const RESOLUTION_MS = 10;
/** One point per this many ms. */
const STEP_MS = 1000;
/** Points kept while no cut takes them (a stuck disk): about an hour, then the oldest go. */
const MAX_POINTS = 3600;

/** The delay over one step. Delays are what callbacks waited beyond the timer's resolution, nanoseconds. */
export interface EventLoopDelayPoint {
  /** End of the step, Unix ms. */
  timeMs: number;
  /** Start of the step, Unix ms. */
  startMs: number;
  maxNanos: number;
  p99Nanos: number;
  meanNanos: number;
}

/** Records the delay once per second while started. */
export class EventLoopDelayRecorder {
  private histogram: ELDHistogram | undefined;
  private timer: NodeJS.Timeout | undefined;
  private points: EventLoopDelayPoint[] = [];
  private stepStartMs = 0;

  /** Starts recording; false (and nothing running) when the histogram is unavailable. */
  start(): boolean {
    if (this.histogram !== undefined) return true;
    try {
      this.histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
      this.histogram.enable();
    } catch {
      this.histogram = undefined;
      return false;
    }
    this.stepStartMs = Date.now();
    this.timer = setInterval(() => afterMonitorTick(this.takePoint, true), STEP_MS);
    this.timer.unref();
    return true;
  }

  /**
   * Gives points back, to be returned by the next {@link drain} before those recorded since (a cut that did
   * not write them drained them too early).
   */
  keep(points: readonly EventLoopDelayPoint[]): void {
    if (points.length === 0) return;
    this.points = [...points, ...this.points];
    this.dropOldestBeyondBound();
  }

  /** Stops recording; the step under way is closed now and kept for the next {@link drain}. */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.takePoint();
    this.histogram?.disable();
    this.histogram = undefined;
  }

  /**
   * Closes the current step, once the monitor has recorded any block before this call, and resolves to
   * every point recorded since the last drain.
   */
  async drain(): Promise<EventLoopDelayPoint[]> {
    if (this.histogram !== undefined) await new Promise<void>((resolve) => afterMonitorTick(resolve, false));
    this.takePoint();
    const points = this.points;
    this.points = [];
    return points;
  }

  private readonly takePoint = (): void => {
    const h = this.histogram;
    if (h === undefined) return;
    const now = Date.now();
    if (h.count > 0) {
      // The histogram holds whole timer intervals; the delay is what exceeds the resolution.
      const resolution = RESOLUTION_MS * 1e6;
      const delay = (v: number): number => Math.max(0, Math.round(v - resolution));
      this.points.push({ startMs: this.stepStartMs, timeMs: now, maxNanos: delay(h.max), p99Nanos: delay(h.percentile(99)), meanNanos: delay(h.mean) });
      this.dropOldestBeyondBound();
    }
    h.reset();
    this.stepStartMs = now;
  };

  /** Points kept while no cut takes them are bounded: past MAX_POINTS the oldest go. */
  private dropOldestBeyondBound(): void {
    if (this.points.length > MAX_POINTS) this.points.splice(0, this.points.length - MAX_POINTS);
  }
}

/** Rounds {@link afterMonitorTick} makes at most: a loop busy in every poll phase still gets its points. */
const MAX_ROUNDS = 4;

/**
 * Calls `then` in a check phase that follows a timers phase by less than the monitor's resolution: the
 * monitor's tick, due after any block before it, has run in that timers phase. A block in between (a
 * request handler in the poll phase) sends it round again, {@link MAX_ROUNDS} times at most.
 * `fromStepTimer`: the caller runs in a timers phase already, and nothing waits for it (unref'd);
 * otherwise a timer comes first, ref'd (a drain at a cut, which the shutdown may be waiting for).
 */
function afterMonitorTick(then: () => void, fromStepTimer: boolean): void {
  let rounds = 0;
  const inTimers = (): void => {
    const at = performance.now();
    rounds++;
    const check = setImmediate(() => {
      if (performance.now() - at <= RESOLUTION_MS || rounds >= MAX_ROUNDS) then();
      else again();
    });
    if (fromStepTimer) check.unref();
  };
  const again = (): void => {
    const timer = setTimeout(inTimers, 0);
    if (fromStepTimer) timer.unref();
  };
  if (fromStepTimer) inTimers();
  else again();
}

/** Metric names (OpenTelemetry semantic conventions for Node.js runtime metrics), by point field. */
const METRICS = [
  ['nodejs.eventloop.delay.max', 'maxNanos'],
  ['nodejs.eventloop.delay.p99', 'p99Nanos'],
  ['nodejs.eventloop.delay.mean', 'meanNanos'],
] as const;

/** The points as one OTLP/JSON ExportMetricsServiceRequest (gauges in seconds). */
export function eventLoopDelayToOtlpJson(points: readonly EventLoopDelayPoint[], serviceName: string, pid: number): string {
  const nanos = (ms: number): string => (BigInt(Math.round(ms)) * 1_000_000n).toString();
  return JSON.stringify({
    resourceMetrics: [
      {
        resource: {
          attributes: [
            { key: 'service.name', value: { stringValue: serviceName } },
            { key: 'process.pid', value: { intValue: String(pid) } },
          ],
        },
        scopeMetrics: [
          {
            scope: { name: '@acme/span-profiles' },
            metrics: METRICS.map(([name, field]) => ({
              name,
              unit: 's',
              gauge: {
                dataPoints: points.map((p) => ({ startTimeUnixNano: nanos(p.startMs), timeUnixNano: nanos(p.timeMs), asDouble: p[field] / 1e9 })),
              },
            })),
          },
        ],
      },
    ],
  });
}

/** Reads points back from {@link eventLoopDelayToOtlpJson}'s output (any OTLP/JSON metrics request with those gauges). */
export function eventLoopDelayFromOtlpJson(text: string): EventLoopDelayPoint[] {
  const byTime = new Map<string, EventLoopDelayPoint>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const request = JSON.parse(line) as { resourceMetrics?: Array<{ scopeMetrics?: Array<{ metrics?: Array<Record<string, unknown>> }> }> };
    for (const rm of request.resourceMetrics ?? []) {
      for (const sm of rm.scopeMetrics ?? []) {
        for (const metric of sm.metrics ?? []) {
          const field = METRICS.find(([name]) => name === metric.name)?.[1];
          if (field === undefined) continue;
          const dataPoints = (metric.gauge as { dataPoints?: Array<Record<string, unknown>> } | undefined)?.dataPoints ?? [];
          for (const dp of dataPoints) {
            const key = `${String(dp.startTimeUnixNano)}/${String(dp.timeUnixNano)}`;
            let point = byTime.get(key);
            if (point === undefined) {
              point = { startMs: Number(dp.startTimeUnixNano) / 1e6, timeMs: Number(dp.timeUnixNano) / 1e6, maxNanos: 0, p99Nanos: 0, meanNanos: 0 };
              byTime.set(key, point);
            }
            point[field] = Math.round(Number(dp.asDouble ?? dp.asInt ?? 0) * 1e9);
          }
        }
      }
    }
  }
  return [...byTime.values()].sort((a, b) => a.timeMs - b.timeMs);
}
