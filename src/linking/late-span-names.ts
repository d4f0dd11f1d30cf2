/**
 * Span names for samples of spans that were still running when their profile was cut. An HTTP server
 * span is called `GET` until the framework reports its route at the end of the request; labelling such
 * samples `GET` would split one endpoint in two in Pyroscope and add a series. So those samples leave
 * the cut without `span_name`, and get it here, once their span has ended or a bounded wait has passed
 * (then the current name is used: a request longer than the wait keeps its provisional name).
 */
import { Label, type Profile } from 'pprof-format';
import { SPAN_ID_LABEL, SPAN_NAME_LABEL } from '../profile-format';
import type { SpanLabels } from './span-labels';

const POLL_MS = 50;

/** Collects the spans a cut left unnamed; one per collection. */
export class PendingSpanNames {
  private readonly pending = new Map<string, SpanLabels>();

  /** Called from generateLabels for a sample whose span has not ended yet. */
  add(labels: SpanLabels): void {
    if (!this.pending.has(labels.spanId)) this.pending.set(labels.spanId, labels);
  }

  get size(): number {
    return this.pending.size;
  }

  /**
   * Resolves when every pending span has ended, after `maxWaitMs`, or as soon as `hurry()` says so
   * (shutdown). Never keeps the process alive.
   */
  async settle(maxWaitMs: number, hurry: () => boolean = () => false): Promise<void> {
    const deadline = Date.now() + maxWaitMs;
    while (Date.now() < deadline && !hurry() && [...this.pending.values()].some((l) => !l.hasEnded)) {
      await new Promise<void>((resolve) => setTimeout(resolve, POLL_MS).unref());
    }
  }

  /** Adds `span_name` to the samples of pending spans in `profile` (the raw profile of this cut). */
  applyTo(profile: Profile): void {
    if (this.pending.size === 0) return;
    const strings = profile.stringTable;
    const spanIdKey = strings.dedup(SPAN_ID_LABEL);
    const spanNameKey = strings.dedup(SPAN_NAME_LABEL);
    // span id string index -> label to add, built once per span.
    const byIdIndex = new Map<number, Label | undefined>();
    for (const [spanId, labels] of this.pending) {
      const name = labels.name;
      byIdIndex.set(strings.dedup(spanId), name ? new Label({ key: spanNameKey, str: strings.dedup(name) }) : undefined);
    }
    for (const sample of profile.sample) {
      let toAdd: Label | undefined;
      let hasName = false;
      for (const label of sample.label) {
        const key = Number(label.key);
        if (key === spanIdKey) toAdd = byIdIndex.get(Number(label.str));
        else if (key === spanNameKey) hasName = true;
      }
      if (toAdd && !hasName) sample.label.push(toAdd);
    }
  }
}
