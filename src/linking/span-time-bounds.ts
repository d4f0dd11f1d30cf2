/**
 * A span is only charged for CPU it can have used: samples inside its lifetime, and at most its duration.
 *
 * - After its end: a sample taken after the span ended, yet in its context, ran for someone else (a pooled
 *   connection's socket opened during the span answers later queries in the span's context; a timer the
 *   span left behind). Such samples lose their span labels and get the synthetic root frame
 *   {@link AFTER_SPAN_ENDED_FRAME}: the CPU stays in the profile, visible as one flame-graph block, and
 *   adds no series in Pyroscope (no new label value).
 * - More than its duration: one sample stands for the CPU since the previous one, which may have started
 *   before the span did (a 2 ms span whose only sample carries 20 ms). The span's samples are scaled down
 *   to its duration within the cut and the rest goes to the unlabelled `(CPU between samples)` frame, so
 *   totals stay true.
 *
 * Both run once per cut on the raw profile, before any destination sees it; nothing here is on the hot path.
 */
import { Label, type Profile } from 'pprof-format';
import { addSyntheticFrame, addUnsampledCpu } from '../profiler/sampler-gaps';
import { AFTER_SPAN_ENDED_FRAME, SPAN_ID_LABEL, valueColumns } from '../profile-format';
import type { SpanLabels } from './span-labels';

/**
 * Numeric label `generateLabels` puts on a sample taken after its span ended, in place of the span's labels;
 * {@link separateSamplesAfterSpanEnd} turns it into the frame and removes it. Never leaves the agent.
 */
export const AFTER_SPAN_ENDED_MARK = 'span_profiles_after_span_ended';

/** The spans whose samples a cut holds, by span id; collected while pprof serializes the cut. */
export class SpansOfCut {
  readonly byId = new Map<string, SpanLabels>();

  add(labels: SpanLabels): void {
    if (!this.byId.has(labels.spanId)) this.byId.set(labels.spanId, labels);
  }
}

/**
 * Whether a sample taken at `sampleNanos` (Unix ns) stands only for time after `labels`' span ended. A sample
 * stands for the sampling interval before it, so one taken less than an interval after the end still
 * covers some of the span; the margin also absorbs the skew between the profiler's clock and
 * OpenTelemetry's (about a millisecond, measured). Without the sample's time, only a span known to have
 * ended before every sample (end -Infinity, sample-context-ids.ts) is.
 */
export function isAfterSpanEnd(labels: SpanLabels, sampleNanos: number | undefined, intervalNanos: number): boolean {
  if (sampleNanos === undefined) return labels.endNanos === -Infinity;
  return sampleNanos - intervalNanos > labels.endNanos;
}

/**
 * Moves the samples marked {@link AFTER_SPAN_ENDED_MARK} under the {@link AFTER_SPAN_ENDED_FRAME} root frame,
 * in place; returns how many there were.
 */
export function separateSamplesAfterSpanEnd(raw: Profile): number {
  const markKey = raw.stringTable.strings.indexOf(AFTER_SPAN_ENDED_MARK);
  if (markKey < 0) return 0;
  let locationId = -1;
  // pprof shares one locationId array among the ticks of a stack: extend each once.
  const extended = new Map<unknown, number[]>();
  let moved = 0;
  for (const sample of raw.sample) {
    const at = sample.label.findIndex((label: Label) => Number(label.key) === markKey);
    if (at < 0) continue;
    sample.label = sample.label.filter((_label: Label, i: number) => i !== at);
    if (locationId < 0) locationId = addSyntheticFrame(raw, AFTER_SPAN_ENDED_FRAME);
    let stack = extended.get(sample.locationId);
    if (stack === undefined) {
      stack = [...Array.from(sample.locationId, Number), locationId];
      extended.set(sample.locationId, stack);
    }
    sample.locationId = stack;
    moved++;
  }
  return moved;
}

/**
 * Caps each span's CPU in this cut at the time it ran within the cut (`startMs`..`endMs`, Unix ms): its
 * samples are scaled down and the excess goes to `(CPU between samples)`. In place; returns the
 * nanoseconds moved. A span still running counts as running to the end of the cut.
 */
export function capSpanCpu(raw: Profile, spans: SpansOfCut, startMs: number, endMs: number): number {
  if (spans.byId.size === 0) return 0;
  const { cpu: cpuColumn } = valueColumns(raw);
  const strings = raw.stringTable.strings;
  const spanIdKey = strings.indexOf(SPAN_ID_LABEL);
  if (cpuColumn < 0 || spanIdKey < 0) return 0;
  const cutStart = startMs * 1e6;
  const cutEnd = endMs * 1e6;

  // CPU per span id (by string index), then the scale each span's samples get.
  const cpuBySpan = new Map<number, number>();
  const spanOf = (labels: Label[]): number => {
    for (const label of labels) if (Number(label.key) === spanIdKey) return Number(label.str);
    return -1;
  };
  for (const sample of raw.sample) {
    const span = spanOf(sample.label);
    if (span < 0) continue;
    cpuBySpan.set(span, (cpuBySpan.get(span) ?? 0) + Number(sample.value[cpuColumn] ?? 0));
  }
  const scale = new Map<number, number>();
  for (const [span, cpu] of cpuBySpan) {
    const labels = spans.byId.get(strings[span] ?? '');
    if (labels === undefined) continue;
    const ran = Math.min(labels.endNanos, cutEnd) - Math.max(labels.startNanos, cutStart);
    const allowed = Math.max(0, ran);
    if (cpu > allowed) scale.set(span, allowed / cpu);
  }
  if (scale.size === 0) return 0;

  let moved = 0;
  for (const sample of raw.sample) {
    const factor = scale.get(spanOf(sample.label));
    if (factor === undefined) continue;
    const cpu = Number(sample.value[cpuColumn] ?? 0);
    const kept = Math.floor(cpu * factor);
    sample.value[cpuColumn] = kept;
    moved += cpu - kept;
  }
  addUnsampledCpu(raw, moved);
  return moved;
}
