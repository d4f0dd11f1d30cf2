/**
 * Sample-context ids: what the frame binding writes into pprof's sample context in place of a label object,
 * and how the number a sample recorded is turned back into labels when its profile is cut.
 *
 * Why a number: pprof keeps every value given to `setContext` in a strong global handle until the holder it
 * makes for the frame is collected. A strong handle to a young object is a root of every young-generation
 * collection, and the object (a label object, its two id strings, its boxed times) is copied once more before
 * it can die. A small integer is no heap object: its handle is no root and nothing is copied. On plain
 * `node:http` under load a scavenge took 3.1 ms and kept 760 KB with the labels written, 2.1 ms and 490 KB
 * with numbers (`bench/ab/gc-survival.mjs` with `PHASES=1`, bench/results/2026-12-07-issue-16-session11.md).
 *
 * So a label object gets a number the first time it is written. While its span runs, the number resolves to
 * the object itself. When the span ends, what a cut needs of it (ids, times, final name) moves into typed
 * arrays outside the JavaScript heap, where it stays until the profiler says every sample taken up to a moment
 * well after the end has been labelled. A number found nowhere belongs to a span that ended before that: its
 * samples are after its end ({@link ENDED_EARLIER}). Numbers wrap after about a billion written spans; a
 * context frame that old being sampled while the span given its number runs is the one way to mislabel.
 */
import { SpanLabels } from './span-labels';

/** Largest number written: a small integer (Smi) on every V8 build, 31-bit ones included. */
const MAX_ID = 0x3fff_ffff;
/** Ended records kept at most (48 bytes each); the oldest go first beyond it, their samples counted as after the end. */
const MAX_RECORDS = 1 << 18;
/** Places for running spans' labels, at `number & (RUNNING_PLACES - 1)`. */
const RUNNING_PLACES = 4096;
/**
 * Running spans whose place a span still running holds (one that has run while 4,096 others were written), at
 * most; beyond it the longest-kept goes (a span that is never ended must not leak).
 */
const MAX_RUNNING_ELSEWHERE = 1 << 16;
/** Places in the number → record index at most (4 bytes each). */
const MAX_INDEX_PLACES = 1 << 20;
/** Distinct final span names kept as strings; a record past it keeps its name in a map of its own. */
const MAX_NAMES = 4096;
/** How long after its span's end a record stays, beyond the time up to which samples have been labelled. */
const KEEP_AFTER_LABELLED_NANOS = 1e9;
/** 32-bit words of a span id and a trace id in lowercase hex. */
const SPAN_ID_WORDS = 2;
const TRACE_ID_WORDS = 4;
const WORDS = SPAN_ID_WORDS + TRACE_ID_WORDS;

/** The labels of a number no record is kept for any more: a span that ended before every sample labelled since. */
export const ENDED_EARLIER: SpanLabels = (() => {
  const labels = new SpanLabels('', '', { name: '' });
  labels.ended('', -Infinity);
  return labels;
})();

/** Ids and name of a record that the typed arrays cannot hold (an id not in lowercase hex, a name past the cap). */
interface OddRecord {
  spanId?: string;
  traceId?: string;
  name?: string;
}

/** Digit value of each character code below 256 that is a lowercase hex digit; -1 for every other. */
const HEX_DIGITS = (() => {
  const digits = new Int8Array(256).fill(-1);
  for (let i = 0; i < 10; i++) digits[48 + i] = i;
  for (let i = 0; i < 6; i++) digits[97 + i] = 10 + i;
  return digits;
})();

/**
 * Writes `hex` (exactly `words` × 8 lowercase hex digits) as 32-bit words; false if it is not that. Once per
 * ended span: a table lookup per digit (~150 ns for both ids, half the time of comparing character ranges).
 */
function hexToWords(hex: string, out: Uint32Array, at: number, words: number): boolean {
  if (hex.length !== words * 8) return false;
  let invalid = 0;
  for (let w = 0; w < words; w++) {
    let value = 0;
    for (let i = w * 8, end = i + 8; i < end; i++) {
      const digit = HEX_DIGITS[hex.charCodeAt(i)] ?? -1;
      invalid |= digit;
      value = (value << 4) | digit;
    }
    out[at + w] = value;
  }
  return invalid >= 0;
}

function wordsToHex(words: Uint32Array, at: number, count: number): string {
  let hex = '';
  for (let w = 0; w < count; w++) hex += (words[at + w] ?? 0).toString(16).padStart(8, '0');
  return hex;
}

/** The numbers written for label objects, and what resolves them back. */
export class SampleContextIds {
  private static shared: SampleContextIds | undefined;

  /**
   * The process's: pprof has one sample context per process, and a label object keeps the number it was
   * given, so every binding of the process must resolve numbers alike.
   */
  static ofProcess(): SampleContextIds {
    return (SampleContextIds.shared ??= new SampleContextIds());
  }

  private lastId = 0;
  /**
   * Running spans' labels by number: an array written in place. A `Map` added to and deleted from on every
   * request had the collector promote ~330 KB per scavenge on plain `node:http` under load, this array ~20 KB
   * (`bench/ab/gc-survival.mjs`).
   */
  private readonly running: Array<SpanLabels | undefined> = new Array<SpanLabels | undefined>(RUNNING_PLACES).fill(undefined);
  private readonly runningElsewhere = new Map<number, SpanLabels>();
  // Ended spans' records: a ring in the order the spans ended, so the oldest ends come first.
  private capacity = 1024;
  private head = 0;
  private count = 0;
  private ids = new Int32Array(this.capacity);
  private words = new Uint32Array(this.capacity * WORDS);
  private times = new Float64Array(this.capacity * 2);
  private nameIndexes = new Int32Array(this.capacity);
  /**
   * Number → ring slot + 1, at `id & (length - 1)`; at least twice the ring's size, wider when the records'
   * numbers spread (see `index`); records that share a place go to `slotOfOtherId`. Typed, like the
   * records: tens of thousands of entries outside the JavaScript heap, which the collector neither copies nor marks.
   */
  private slotIndex = new Int32Array(this.capacity * 2);
  private readonly slotOfOtherId = new Map<number, number>();
  private reindexing = false;
  private readonly names: string[] = [];
  private readonly nameIndex = new Map<string, number>();
  private readonly odd = new Map<number, OddRecord>();
  /** Label objects made back from records, one per number, so a cut sees one object per span. */
  private readonly restored = new Map<number, SpanLabels>();
  /** Records of spans that ended before this (Unix ns) are not needed: dropped as new ones come. */
  private dropEndedBefore = -Infinity;

  /** The number to write for `labels`; given at the first call. On the hot path: one field read after that. */
  idOf(labels: SpanLabels): number {
    const known = labels.sampleId;
    return known !== 0 ? known : this.give(labels);
  }

  private give(labels: SpanLabels): number {
    const id = this.lastId === MAX_ID ? 1 : this.lastId + 1;
    this.lastId = id;
    labels.sampleId = id;
    const place = id & (RUNNING_PLACES - 1);
    if (this.running[place] === undefined) {
      this.running[place] = labels;
      return id;
    }
    if (this.runningElsewhere.size >= MAX_RUNNING_ELSEWHERE) {
      // The longest-kept goes; written again, it gets a new number (frames holding the old one read as ended).
      const oldest = this.runningElsewhere.entries().next().value;
      if (oldest !== undefined) {
        this.runningElsewhere.delete(oldest[0]);
        oldest[1].sampleId = 0;
      }
    }
    this.runningElsewhere.set(id, labels);
    return id;
  }

  /**
   * Forgets a running span's labels; false if they were not running under that number. Every span written
   * gets a record at its end, sampled or not: a sample can still be taken in its frame after this call (the
   * other span processors' `onEnd`, its socket's last writes), and within a sampling interval of the end such
   * a sample is still the span's (span-time-bounds.ts), which it can only be if its number resolves.
   */
  private stopRunning(id: number, labels: SpanLabels): boolean {
    const place = id & (RUNNING_PLACES - 1);
    if (this.running[place] === labels) this.running[place] = undefined;
    else if (this.runningElsewhere.size === 0 || !this.runningElsewhere.delete(id)) return false;
    return true;
  }

  /** Called when the span of `labels` has ended (its name and end time are final). */
  spanEnded(labels: SpanLabels): void {
    const id = labels.sampleId;
    if (id === 0 || !this.stopRunning(id, labels)) return;
    // Records no cut needs any more go two per new one: never a long loop in one turn, and the ring stays
    // the size of what is needed.
    for (let n = 0; n < 2 && this.count > 0 && (this.times[2 * this.head + 1] ?? 0) < this.dropEndedBefore; n++) this.dropOldest();
    if (this.count === this.capacity) {
      if (this.capacity < MAX_RECORDS) this.grow();
      else this.dropOldest();
    }
    const at = (this.head + this.count) & (this.capacity - 1);
    this.count++;
    this.ids[at] = id;
    this.times[2 * at] = labels.startNanos;
    this.times[2 * at + 1] = labels.endNanos;
    let odd: OddRecord | undefined;
    if (!hexToWords(labels.spanId, this.words, at * WORDS, SPAN_ID_WORDS)) (odd ??= {}).spanId = labels.spanId;
    if (!hexToWords(labels.traceId, this.words, at * WORDS + SPAN_ID_WORDS, TRACE_ID_WORDS)) (odd ??= {}).traceId = labels.traceId;
    const name = labels.name;
    let index = this.nameIndex.get(name);
    if (index === undefined && this.names.length < MAX_NAMES) {
      index = this.names.length;
      this.names.push(name);
      this.nameIndex.set(name, index);
    }
    if (index === undefined) (odd ??= {}).name = name;
    this.nameIndexes[at] = index ?? -1;
    if (odd !== undefined) this.odd.set(id, odd);
    this.index(id, at);
  }

  private index(id: number, at: number): void {
    const place = id & (this.slotIndex.length - 1);
    const taken = (this.slotIndex[place] ?? 0) - 1;
    if (taken < 0 || this.ids[taken] === 0 || taken === at) {
      this.slotIndex[place] = at + 1;
      return;
    }
    this.slotOfOtherId.set(id, at);
    // Numbers given to spans that run long, or records dropped out of order, can spread wider than the index:
    // widen it when more than one record in eight shares a place.
    if (!this.reindexing && this.slotOfOtherId.size * 8 > this.count && this.slotIndex.length < MAX_INDEX_PLACES) {
      this.reindex(this.slotIndex.length * 2);
    }
  }

  private reindex(places: number): void {
    this.reindexing = true;
    this.slotIndex = new Int32Array(places);
    this.slotOfOtherId.clear();
    for (let i = 0; i < this.count; i++) {
      const at = (this.head + i) & (this.capacity - 1);
      this.index(this.ids[at] ?? 0, at);
    }
    this.reindexing = false;
  }

  private slotOf(id: number): number | undefined {
    const at = (this.slotIndex[id & (this.slotIndex.length - 1)] ?? 0) - 1;
    if (at >= 0 && this.ids[at] === id) return at;
    return this.slotOfOtherId.size === 0 ? undefined : this.slotOfOtherId.get(id);
  }

  /**
   * The labels a sample's recorded number stands for: the running span's object, one made back from its
   * record, or {@link ENDED_EARLIER}.
   */
  labelsOf(id: number): SpanLabels {
    const live = this.running[id & (RUNNING_PLACES - 1)];
    if (live !== undefined && live.sampleId === id) return live;
    const elsewhere = this.runningElsewhere.size === 0 ? undefined : this.runningElsewhere.get(id);
    if (elsewhere !== undefined) return elsewhere;
    let labels = this.restored.get(id);
    if (labels !== undefined) return labels;
    const at = this.slotOf(id);
    if (at === undefined) return ENDED_EARLIER;
    const odd = this.odd.get(id);
    const index = this.nameIndexes[at] ?? -1;
    const name = index >= 0 ? (this.names[index] ?? '') : (odd?.name ?? '');
    labels = new SpanLabels(
      odd?.spanId ?? wordsToHex(this.words, at * WORDS, SPAN_ID_WORDS),
      odd?.traceId ?? wordsToHex(this.words, at * WORDS + SPAN_ID_WORDS, TRACE_ID_WORDS),
      { name },
      this.times[2 * at] ?? 0,
    );
    labels.ended(name, this.times[2 * at + 1] ?? -Infinity);
    labels.sampleId = id;
    this.restored.set(id, labels);
    return labels;
  }

  /**
   * The profiler has labelled every sample taken up to `unixNanos`: records of spans that ended well before
   * it are not needed any more (they are dropped as new spans end, a few at a time).
   */
  samplesLabelledUntil(unixNanos: number): void {
    this.dropEndedBefore = Math.max(this.dropEndedBefore, unixNanos - KEEP_AFTER_LABELLED_NANOS);
  }

  /** Spans resolvable by number now: running, and ended with a record kept (a diagnostic: counts the places). */
  get size(): { running: number; ended: number } {
    let running = this.runningElsewhere.size;
    for (const labels of this.running) if (labels !== undefined) running++;
    return { running, ended: this.count };
  }

  private dropOldest(): void {
    const id = this.ids[this.head] ?? 0;
    this.ids[this.head] = 0;
    const place = id & (this.slotIndex.length - 1);
    if (this.slotIndex[place] === this.head + 1) this.slotIndex[place] = 0;
    else if (this.slotOfOtherId.size > 0) this.slotOfOtherId.delete(id);
    if (this.odd.size > 0) this.odd.delete(id);
    if (this.restored.size > 0) this.restored.delete(id);
    this.head = (this.head + 1) & (this.capacity - 1);
    this.count--;
  }

  private grow(): void {
    const capacity = this.capacity * 2;
    const ids = new Int32Array(capacity);
    const words = new Uint32Array(capacity * WORDS);
    const times = new Float64Array(capacity * 2);
    const nameIndexes = new Int32Array(capacity);
    for (let i = 0; i < this.count; i++) {
      const from = (this.head + i) & (this.capacity - 1);
      ids[i] = this.ids[from] ?? 0;
      words.set(this.words.subarray(from * WORDS, from * WORDS + WORDS), i * WORDS);
      times[2 * i] = this.times[2 * from] ?? 0;
      times[2 * i + 1] = this.times[2 * from + 1] ?? 0;
      nameIndexes[i] = this.nameIndexes[from] ?? -1;
    }
    this.capacity = capacity;
    this.head = 0;
    this.ids = ids;
    this.words = words;
    this.times = times;
    this.nameIndexes = nameIndexes;
    this.reindex(Math.max(capacity * 2, this.slotIndex.length));
  }
}
