/**
 * The span-linking span processor: it gives local root spans the `pyroscope.profile.id` attribute
 * Grafana looks for, and gives every span the label object its CPU samples will carry. Which span is
 * running when a sample is taken is the context binding's business (context-binding.ts); this module
 * only answers "which labels belong to the span active in this context".
 */
import { trace, type Context, type HrTime, type Span as ApiSpan } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';
import { PROFILE_ID_ATTRIBUTE } from '../profile-format';
import { SpanLabels } from './span-labels';

/** The span attribute Grafana's traces-to-profiles link needs (16 lowercase hex). */
export { PROFILE_ID_ATTRIBUTE };

/** An OpenTelemetry time ([seconds, nanoseconds] since the Unix epoch) as one number of nanoseconds. */
function hrTimeNanos(time: HrTime | undefined): number {
  return time === undefined ? 0 : time[0] * 1e9 + time[1];
}

/**
 * Where a span keeps its label object: a property on the span itself, so finding a span's labels (every
 * span start and end, every context switch) is a property load instead of a WeakMap lookup, and starting
 * a span adds no entry to a weak table the GC has to walk. Not enumerable by `Object.keys` or JSON.
 */
const LABELS: unique symbol = Symbol('span-profiles.labels');

interface LabelledSpan {
  [LABELS]?: SpanLabels;
}

export interface SpanLinkerOptions {
  /** true: samples carry the local root's id (Pyroscope's default); false: each span's own. */
  rootSpanOnly: boolean;
}

/**
 * A {@link SpanProcessor} to put first in the tracer provider's list, so the attribute is set before any
 * other processor sees the span.
 */
export class SpanLinker implements SpanProcessor {
  private readonly rootSpanOnly: boolean;
  /**
   * Off until the profiler is running: a span must not promise Grafana a profile (`pyroscope.profile.id`)
   * that will never exist because profiling turned out to be off.
   */
  active = false;
  /** Told when a span's label object has its final name and end time (the context binding keeps what a cut needs). */
  onLabelsEnded: ((labels: SpanLabels) => void) | undefined;

  constructor(options: SpanLinkerOptions) {
    this.rootSpanOnly = options.rootSpanOnly;
  }

  onStart(span: Span, parentContext: Context): void {
    if (!this.active) return;
    const parent = span.parentSpanContext;
    const isLocalRoot = parent === undefined || parent.isRemote === true;
    if (!isLocalRoot && this.rootSpanOnly) {
      // A descendant shares its root's label object; found through the parent span in the context.
      const parentSpan = trace.getSpan(parentContext) as LabelledSpan | undefined;
      const inherited = parentSpan?.[LABELS];
      if (inherited !== undefined) (span as unknown as LabelledSpan)[LABELS] = inherited;
      return;
    }
    const spanContext = span.spanContext();
    span.setAttribute(PROFILE_ID_ATTRIBUTE, spanContext.spanId);
    const startTime = span.startTime;
    (span as LabelledSpan)[LABELS] = new SpanLabels(spanContext.spanId, spanContext.traceId, span, hrTimeNanos(startTime));
  }

  onEnd(span: ReadableSpan): void {
    const labels = (span as unknown as LabelledSpan)[LABELS];
    // Only the owner finalizes: a child ending must not freeze its root's name.
    if (labels !== undefined && labels.isOwnedBy(span)) {
      labels.ended(span.name, hrTimeNanos(span.endTime));
      this.onLabelsEnded?.(labels);
    }
  }

  /**
   * The label object for the span active in `context`, or undefined outside any span. On the hot path
   * (every context activation): one map lookup and a property load, no allocation.
   */
  labelsFor(context: Context): SpanLabels | undefined {
    const span: ApiSpan | undefined = trace.getSpan(context);
    return span === undefined ? undefined : (span as LabelledSpan)[LABELS];
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
