/**
 * The per-span label object that CPU samples stand for (through the number the frame binding writes for it,
 * sample-context-ids.ts). One per local root span (or per span when OTEL_PYROSCOPE_ROOT_SPAN_ONLY=false),
 * created when the span starts and shared by every sample taken while it or its descendants run: nothing is
 * allocated per sample or per async continuation.
 *
 * The span's name is only final when it ends (HTTP server spans are renamed to their route late), so a
 * span still running when a profile is cut gets its ids now and its name later (see late-span-names.ts).
 */
import type { LabelSet } from '@datadog/pprof';
import { SPAN_ID_LABEL, SPAN_NAME_LABEL, TRACE_ID_LABEL } from '../profile-format';

/** What the label object needs of a span: its name may change until it ends. */
export interface NamedSpan {
  readonly name: string;
}

export class SpanLabels {
  /** Set when the span ends (its name is final then) and the span reference is dropped. */
  private finalName: string | undefined;
  private span: NamedSpan | undefined;
  /** Built at the first cut that has a sample of this span: most spans never get one. */
  private idLabels: LabelSet | undefined;
  private namedLabels: LabelSet | undefined;
  /**
   * When the span ended, Unix nanoseconds (exact to a quarter microsecond as a double); Infinity while it
   * runs. A sample taken later ran in the span's context but not for it (a pooled connection's socket
   * made during the span, a timer it left behind): it must not be charged to the span.
   */
  endNanos = Infinity;
  /**
   * The number the frame binding writes into pprof's sample context for these labels, given at the first
   * write; 0 until then (sample-context-ids.ts).
   */
  sampleId = 0;

  /**
   * @param startNanos when the span started, Unix nanoseconds: with {@link endNanos}, the most CPU the span
   *   can have used on the one JavaScript thread.
   */
  constructor(
    readonly spanId: string,
    readonly traceId: string,
    span: NamedSpan,
    readonly startNanos: number = 0,
  ) {
    this.span = span;
  }

  /** Whether `span` is the span these labels were made for (not a descendant sharing them). */
  isOwnedBy(span: object): boolean {
    return this.span === span;
  }

  /** Whether the span has ended, so its name is final. */
  get hasEnded(): boolean {
    return this.finalName !== undefined;
  }

  /** The span's current name: final once it has ended. */
  get name(): string {
    return this.finalName ?? this.span?.name ?? '';
  }

  /** Called when the span ends: keeps the final name and end time, lets the span itself be collected. */
  ended(finalName: string, endNanos: number = Infinity): void {
    this.finalName = finalName;
    this.endNanos = endNanos;
    this.span = undefined;
  }

  /**
   * The pprof labels for a sample of this span, built once. With `withName`, the name is included only
   * once final; until then the caller completes it later.
   */
  toLabelSet(withName: boolean): LabelSet {
    if (!withName || this.finalName === undefined || this.finalName === '') {
      this.idLabels ??= { [SPAN_ID_LABEL]: this.spanId, [TRACE_ID_LABEL]: this.traceId };
      return this.idLabels;
    }
    this.namedLabels ??= { [SPAN_ID_LABEL]: this.spanId, [TRACE_ID_LABEL]: this.traceId, [SPAN_NAME_LABEL]: this.finalName };
    return this.namedLabels;
  }
}
