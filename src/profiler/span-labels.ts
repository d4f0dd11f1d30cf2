/**
 * The per-span label object that CPU samples point at. One per local root span (or per span when
 * OTEL_PYROSCOPE_ROOT_SPAN_ONLY=false), created when the span starts and shared by every sample taken
 * while it or its descendants run: nothing is allocated per sample or per async continuation.
 */
import type { LabelSet } from '@datadog/pprof';

/** What the label object needs of a span: its name may change until it ends. */
export interface NamedSpan {
  readonly name: string;
}

export class SpanLabels {
  /** Set when the span ends (its name is final then) and the span reference is dropped. */
  private finalName: string | undefined;
  private span: NamedSpan | undefined;
  /** The label set last handed to the serializer, reused while the name stays the same. */
  private labelSet: LabelSet | undefined;
  private labelSetName: string | undefined;

  constructor(
    readonly spanId: string,
    readonly traceId: string,
    span: NamedSpan,
  ) {
    this.span = span;
  }

  /** The span's current name: final once it has ended (HTTP server spans get their route late). */
  get name(): string {
    return this.finalName ?? this.span?.name ?? '';
  }

  /** Called when the span ends: keeps the final name, lets the span itself be collected. */
  ended(finalName: string): void {
    this.finalName = finalName;
    this.span = undefined;
  }

  /** The pprof labels for a sample of this span, built once per distinct name. */
  toLabelSet(withName: boolean): LabelSet {
    const name = withName ? this.name : undefined;
    if (this.labelSet === undefined || this.labelSetName !== name) {
      this.labelSet =
        name !== undefined && name !== ''
          ? { span_id: this.spanId, trace_id: this.traceId, span_name: name }
          : { span_id: this.spanId, trace_id: this.traceId };
      this.labelSetName = name;
    }
    return this.labelSet;
  }
}
