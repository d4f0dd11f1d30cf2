/**
 * The sample labels Pyroscope gets, shaped so its series count stays bounded. Pyroscope makes every
 * string sample label but `span_id` (and, from v2.1.0, `trace_id`) a series label
 * (grafana/pyroscope `pkg/model/pprofsplit/pprof_split.go`), and a series once created stays in its
 * index. So, for Pyroscope only (the local store keeps the raw cut):
 * - `trace_id` is left out unless the server keeps it per sample (see server-version.ts);
 * - `span_name` is cut to {@link MAX_SPAN_NAME_BYTES} at a UTF-8 character boundary, and a process
 *   sends at most a fixed number of distinct names in its lifetime; later ones go under
 *   {@link OVERFLOW_SPAN_NAME}, with one warning naming the likely cause.
 * The raw cut is shared with other destinations: it is read, never changed; a relabelled copy
 * shares its symbols and stacks and has new label arrays only where a label changed.
 */

import { Label, Profile, Sample, StringTable } from 'pprof-format';
import { getLogger } from '../logger';
import { SPAN_NAME_LABEL, TRACE_ID_LABEL } from '../profile-format';

/** Longest `span_name` sent, in UTF-8 bytes: readable in Grafana, far under Pyroscope's 2048-byte value limit. */
export const MAX_SPAN_NAME_BYTES = 200;

/** The `span_name` of samples whose span's name came after the process's limit of distinct names. */
export const OVERFLOW_SPAN_NAME = '(other span names)';

const ELLIPSIS = '…';

/**
 * `text` cut to at most `maxBytes` UTF-8 bytes, at a character boundary (a surrogate pair is never
 * split), with `…` at the end when something was cut. Unchanged when it fits.
 */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes || Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  const budget = maxBytes - Buffer.byteLength(ELLIPSIS, 'utf8');
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    const size = utf8Length(char.codePointAt(0)!);
    if (bytes + size > budget) break;
    bytes += size;
    end += char.length;
  }
  return text.slice(0, end) + ELLIPSIS;
}

function utf8Length(codePoint: number): number {
  if (codePoint < 0x80) return 1;
  if (codePoint < 0x800) return 2;
  // A lone surrogate is written as U+FFFD, 3 bytes.
  if (codePoint < 0x10000) return 3;
  return 4;
}

/**
 * Bounds the distinct `span_name` values one process ever sends to Pyroscope: the first `limit`
 * distinct (cut) names are sent as they are for the process's lifetime, every later one as
 * {@link OVERFLOW_SPAN_NAME}.
 */
/** Distinct span names a process sends by default: a few routes' worth, far under the default 5000 series a tenant may have. */
export const DEFAULT_MAX_SPAN_NAMES = 200;

export class SpanNameGuard {
  private readonly admitted = new Set<string>();
  private overflowed = 0;
  private readonly overflowExamples: string[] = [];

  /**
   * `why`: the sentence the one warning gives for the cap, naming the destination (default: Pyroscope's
   * series). `warningKey` keeps one warning per destination.
   */
  constructor(
    readonly limit: number,
    private readonly why = 'Pyroscope makes each span_name a series that stays in its index',
    private readonly warningKey = 'pyroscope-span-names',
  ) {}

  /** How many distinct names have been admitted so far. */
  get admittedCount(): number {
    return this.admitted.size;
  }

  /** Distinct names refused so far (counted once per cut in which they appear). */
  get overflowCount(): number {
    return this.overflowed;
  }

  /** The name to send for a span named `name`. */
  map(name: string): string {
    const cut = truncateUtf8(name, MAX_SPAN_NAME_BYTES);
    if (this.admitted.has(cut)) return cut;
    if (this.admitted.size < this.limit && cut !== OVERFLOW_SPAN_NAME) {
      this.admitted.add(cut);
      return cut;
    }
    this.overflowed++;
    if (this.overflowExamples.length < 3) this.overflowExamples.push(truncateUtf8(cut, 60));
    if (this.overflowed === 1) this.warnOnce();
    return OVERFLOW_SPAN_NAME;
  }

  private warnOnce(): void {
    const admittedExamples = [...this.admitted].slice(-3).map((n) => JSON.stringify(truncateUtf8(n, 60)));
    getLogger().warnOnce(
      this.warningKey,
      `more than ${this.limit} distinct span names in this process (e.g. ${[...admittedExamples, ...this.overflowExamples.map((n) => JSON.stringify(n))].join(', ')}); ` +
        `${this.why}, so later names are sent as "${OVERFLOW_SPAN_NAME}". ` +
        'Likely cause: root spans named with raw URLs or ids (a route the HTTP framework instrumentation does not know, ' +
        'or a span name built from a path, a query or a job id). Fix: name spans by route or template ("GET /users/:id"), ' +
        'enable the framework\'s instrumentation, or set OTEL_PYROSCOPE_ADD_SPAN_NAME=false; raise SPAN_PROFILES_MAX_SPAN_NAMES ' +
        'only if the names are really bounded. The local store keeps the real names',
    );
  }
}

/** What {@link relabelForPyroscope} changes. */
export interface PyroscopeLabelRules {
  /** Keep `trace_id` on samples (the server keeps it out of series). */
  readonly includeTraceId: boolean;
  readonly spanNames: SpanNameGuard;
}

/** Samples relabelled between two yields to the event loop. */
const SAMPLES_PER_SLICE = 2048;

/**
 * A copy of `raw` with Pyroscope's label rules applied; `raw` itself is left as it is. The copy shares
 * `raw`'s locations, functions, mappings, value arrays and stacks; its string table holds `raw`'s
 * strings at the same indexes, then the new names.
 */
export async function relabelForPyroscope(raw: Profile, rules: PyroscopeLabelRules): Promise<Profile> {
  const rawStrings = raw.stringTable.strings;
  const traceKey = rules.includeTraceId ? -1 : rawStrings.indexOf(TRACE_ID_LABEL);
  const nameKey = rawStrings.indexOf(SPAN_NAME_LABEL);
  if (traceKey < 0 && nameKey < 0) return raw;

  // raw's strings at raw's indexes, then the new names. Only encoding reads the table, never dedup().
  const table = new StringTable();
  table.strings = rawStrings.slice();
  let known: Map<string, number> | undefined;
  const intern = (text: string): number => {
    if (known === undefined) {
      known = new Map();
      for (let i = 0; i < rawStrings.length; i++) if (!known.has(rawStrings[i]!)) known.set(rawStrings[i]!, i);
    }
    let index = known.get(text);
    if (index === undefined) {
      index = table.strings.length;
      table.strings.push(text);
      known.set(text, index);
    }
    return index;
  };

  /** Raw string index of a span name -> index of the name to send. */
  const nameIndex = new Map<number, number>();
  const sendName = (rawIndex: number): number => {
    let index = nameIndex.get(rawIndex);
    if (index === undefined) {
      const rawName = rawStrings[rawIndex] ?? '';
      const name = rules.spanNames.map(rawName);
      index = name === rawName ? rawIndex : intern(name);
      nameIndex.set(rawIndex, index);
    }
    return index;
  };
  /** One new label object per distinct name sent, shared by every sample that has it. */
  const nameLabels = new Map<number, Label>();
  const replaceName = (rawIndex: number): Label | undefined => {
    const index = sendName(rawIndex);
    if (index === rawIndex) return undefined;
    let label = nameLabels.get(index);
    if (label === undefined) nameLabels.set(index, (label = new Label({ key: nameKey, str: index })));
    return label;
  };

  const samples: Sample[] = new Array<Sample>(raw.sample.length);
  for (let i = 0; i < raw.sample.length; i++) {
    if (i % SAMPLES_PER_SLICE === SAMPLES_PER_SLICE - 1) await new Promise((resolve) => setImmediate(resolve));
    const sample = raw.sample[i]!;
    const labels = relabelSample(sample.label, traceKey, nameKey, replaceName);
    if (labels === sample.label) {
      samples[i] = sample;
    } else {
      // The constructor would copy the labels one by one; they are Label objects already.
      const copy = new Sample({ locationId: sample.locationId, value: sample.value });
      copy.label = labels;
      samples[i] = copy;
    }
  }

  return new Profile({
    sampleType: raw.sampleType,
    sample: samples,
    mapping: raw.mapping,
    location: raw.location,
    function: raw.function,
    stringTable: table,
    dropFrames: raw.dropFrames,
    keepFrames: raw.keepFrames,
    timeNanos: raw.timeNanos,
    durationNanos: raw.durationNanos,
    periodType: raw.periodType,
    period: raw.period,
    comment: raw.comment,
    defaultSampleType: raw.defaultSampleType,
  });
}

/** `labels` without trace_id and with the span name replaced; `labels` itself if nothing changes. */
function relabelSample(
  labels: Label[],
  traceKey: number,
  nameKey: number,
  replaceName: (rawIndex: number) => Label | undefined,
): Label[] {
  let out: Label[] | undefined;
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]!;
    const key = Number(label.key);
    let replacement: Label | null | undefined;
    if (key === traceKey) replacement = null;
    else if (key === nameKey && Number(label.str) !== 0) replacement = replaceName(Number(label.str));
    if (replacement === undefined) {
      out?.push(label);
      continue;
    }
    out ??= labels.slice(0, i);
    if (replacement !== null) out.push(replacement);
  }
  return out ?? labels;
}
