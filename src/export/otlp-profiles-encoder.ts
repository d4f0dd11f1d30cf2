/**
 * Turns one profiler cut into an OTLP `ExportProfilesServiceRequest` (opentelemetry-proto
 * `profiles/v1development`, the Alpha profiles signal) and writes it as protobuf or OTLP/JSON.
 *
 * Shape of what we send, and why:
 * - One shared `ProfilesDictionary`; entry 0 of every table is the zero value (`Link` 0 with 16 and 8
 *   zero bytes, as the proto recommends). Strings, functions, locations, stacks, links and attributes
 *   are each stored once.
 * - One `Profile` per sample type: CPU as `samples/count` with period type `cpu/nanoseconds` (what
 *   OpenTelemetry's eBPF profiler sends, and what Pyroscope's OTLP ingest turns into `process_cpu`, the
 *   type Grafana's traces-to-profiles opens); wall time, when enabled, as `wall/nanoseconds`.
 * - Every sample of a span carries `link_index` to a `Link{trace_id, span_id}` built from the span labels
 *   the profiler put on the raw samples (the local root, or the innermost span with
 *   OTEL_PYROSCOPE_ROOT_SPAN_ONLY=false); other labels (span_name) become sample attributes.
 * - CPU samples carry `timestamps_unix_nano`, one per tick, in the "timestamps only" shape (no values:
 *   each timestamp counts one). CPU no tick saw (the profiler's unsampled-CPU frame, non-JS threads) has
 *   no time; it is sent as an estimated tick count in `values`. Wall samples carry their summed
 *   nanoseconds in `values` and no timestamps: the shape with one value per timestamp is what the spec
 *   offers for that, and Pyroscope 2.x rejects the whole request for it ("sample values length
 *   mismatch", pkg/ingester/otlp/convert.go).
 * - Every location carries `profile.frame.type = v8js`, the value OpenTelemetry's semantic conventions
 *   (and its eBPF profiler) use for V8 JavaScript frames.
 *
 * The raw cut is shared with the other destinations: it is only read here.
 */

import { randomBytes } from 'node:crypto';
import type { AttributeValue } from '@opentelemetry/api';
import type { Label, Profile as PprofProfile } from 'pprof-format';
import { SAMPLE_TIME_LABEL, type ProfileCut } from './profile-exporter';
import { valueColumns } from '../profiler/value-columns';
import { TrieNode } from '../profiler/sequence-trie';
import { ProtobufWriter } from './protobuf-writer';

/** Attribute key and value OpenTelemetry's profilers use to say a frame is V8 JavaScript. */
export const FRAME_TYPE_ATTRIBUTE = 'profile.frame.type';
export const FRAME_TYPE_V8JS = 'v8js';

/** What the encoder needs besides the cut. */
export interface OtlpProfilesContext {
  /** The Resource's attributes: the same the traces carry. */
  readonly resourceAttributes: Readonly<Record<string, AttributeValue | undefined>>;
  readonly resourceSchemaUrl?: string;
  /** InstrumentationScope of the profiles. */
  readonly scopeName: string;
  readonly scopeVersion: string;
}

type Numeric = number | bigint;

/** A value in the attribute table: string labels, or numeric labels with their unit. */
type AttributeEntry = { readonly key: number; readonly str?: string; readonly int?: number; readonly unit: number };

/** One sample of one profile: its identity and what was observed. */
interface SampleEntry {
  readonly stack: number;
  readonly link: number;
  readonly attributes: readonly number[];
  /** Tick times, Unix nanoseconds (CPU profile). */
  readonly timestamps: number[];
  /** Value without a time: estimated ticks (CPU), or summed nanoseconds (wall). */
  value: number;
}

/** One profile of the request. */
interface ProfileEntry {
  readonly sampleType: { readonly type: number; readonly unit: number };
  readonly periodType: { readonly type: number; readonly unit: number };
  readonly period: number;
  readonly samples: SampleEntry[];
  /** true: samples with timestamps carry no values (each timestamp counts one). */
  readonly timestampsOnly: boolean;
}

/**
 * One cut as OTLP profiles, tables and all, ready to be written by {@link encodeOtlpProfilesProtobuf} or
 * {@link encodeOtlpProfilesJson}.
 */
export interface OtlpProfilesRequest {
  readonly strings: string[];
  readonly mappings: ReadonlyArray<{ memoryStart: number; memoryLimit: number; fileOffset: number; filename: number }>;
  readonly functions: ReadonlyArray<{ name: number; systemName: number; filename: number; startLine: number }>;
  readonly locations: ReadonlyArray<{ mapping: number; address: number; lines: number[] }>;
  readonly links: ReadonlyArray<{ traceId: Buffer; spanId: Buffer }>;
  readonly attributes: readonly AttributeEntry[];
  readonly stacks: readonly (readonly number[])[];
  readonly profiles: readonly ProfileEntry[];
  /** Exact: milliseconds times 10^6 passes 2^53. */
  readonly timeUnixNano: bigint;
  readonly durationNano: number;
  readonly profileIds: readonly Buffer[];
  readonly context: OtlpProfilesContext;
  /** Samples over all profiles (after merging identical ones). */
  readonly sampleCount: number;
}

/** Raw samples handled between two yields to the app's event loop. */
const SAMPLES_PER_SLICE = 2048;
/** Interned ids stay below 2^26, so two fit one safe integer key. */
const ID_SPACE = 0x4000000;

const num = (value: Numeric | undefined): number => (value === undefined ? 0 : Number(value));

/** Builds the request for `cut`; yields to the event loop every few thousand samples. */
export async function buildOtlpProfiles(cut: ProfileCut, context: OtlpProfilesContext): Promise<OtlpProfilesRequest> {
  const raw = cut.raw;
  const rawStrings = raw.stringTable.strings;
  const dictionary = new DictionaryBuilder(raw);

  const columns = valueColumns(raw);
  const labelKeys = {
    spanId: rawStrings.indexOf('span_id'),
    traceId: rawStrings.indexOf('trace_id'),
    time: rawStrings.indexOf(SAMPLE_TIME_LABEL),
  };
  const periodNanos = Math.round(cut.intervalMicros * 1000);
  const cpu = columns.cpu >= 0 ? new ProfileSamples() : undefined;
  const wall = cut.wall && columns.wall >= 0 ? new ProfileSamples() : undefined;

  const attributeScratch: number[] = [];
  const rawSamples = raw.sample;
  for (let i = 0; i < rawSamples.length; i++) {
    if (i % SAMPLES_PER_SLICE === SAMPLES_PER_SLICE - 1) await yieldToEventLoop();
    const sample = rawSamples[i]!;
    const values = sample.value;
    const count = columns.count < 0 ? 1 : num(values[columns.count]);
    const cpuNanos = columns.cpu < 0 ? 0 : num(values[columns.cpu]);
    const wallNanos = columns.wall < 0 ? 0 : num(values[columns.wall]);
    if (count <= 0 && cpuNanos <= 0 && wallNanos <= 0) continue;

    // Labels: the span link, the time, and everything else as attributes.
    let spanIdStr = 0;
    let traceIdStr = 0;
    let time = -1;
    attributeScratch.length = 0;
    const labels = sample.label;
    for (let j = 0; j < labels.length; j++) {
      const label = labels[j]!;
      const key = num(label.key);
      if (key === labelKeys.spanId && num(label.str) !== 0) spanIdStr = num(label.str);
      else if (key === labelKeys.traceId && num(label.str) !== 0) traceIdStr = num(label.str);
      else if (key === labelKeys.time) time = num(label.num);
      else {
        const attribute = dictionary.labelAttribute(label);
        if (attribute > 0) attributeScratch.push(attribute);
      }
    }
    const stack = dictionary.stack(sample.locationId);
    const link = spanIdStr === 0 ? 0 : dictionary.link(spanIdStr, traceIdStr);
    const attributeSet = attributeScratch.length === 0 ? 0 : dictionary.attributeSet(attributeScratch);

    if (cpu && cpuNanos > 0) {
      const entry = cpu.entry(stack, link, attributeSet, dictionary);
      if (count > 0 && time > 0) for (let k = 0; k < count; k++) entry.timestamps.push(time);
      // No tick saw this CPU (count 0), or the tick's time is unknown: an estimated tick count.
      else entry.value += count > 0 ? count : Math.round(cpuNanos / periodNanos);
    }
    if (wall && (count > 0 || wallNanos > 0)) wall.entry(stack, link, attributeSet, dictionary).value += wallNanos;
  }

  const profiles: ProfileEntry[] = [];
  const str = (text: string): number => dictionary.string(text);
  if (cpu) {
    profiles.push({
      sampleType: { type: str('samples'), unit: str('count') },
      periodType: { type: str('cpu'), unit: str('nanoseconds') },
      period: periodNanos,
      samples: cpu.samples.filter(timestampsOrValue),
      timestampsOnly: true,
    });
  }
  if (wall) {
    profiles.push({
      sampleType: { type: str('wall'), unit: str('nanoseconds') },
      periodType: { type: str('wall'), unit: str('nanoseconds') },
      period: periodNanos,
      samples: wall.samples.filter((s) => s.value > 0),
      timestampsOnly: false,
    });
  }

  return {
    strings: dictionary.strings,
    mappings: dictionary.mappings,
    functions: dictionary.functions,
    locations: dictionary.locations,
    links: dictionary.links,
    attributes: dictionary.attributes,
    stacks: dictionary.stacks,
    profiles,
    timeUnixNano: BigInt(Math.round(cut.startMs)) * 1_000_000n,
    durationNano: Math.max(0, Math.round((cut.endMs - cut.startMs) * 1_000_000)),
    profileIds: profiles.map(() => randomBytes(16)),
    context,
    sampleCount: profiles.reduce((total, p) => total + p.samples.length, 0),
  };
}

/**
 * Keeps a CPU sample with anything in it. One with both timed ticks and untimed ones (never seen from our
 * profiler, whose ticks all carry a time) becomes a plain count: a sample has one shape or the other.
 */
function timestampsOrValue(sample: SampleEntry): boolean {
  if (sample.timestamps.length > 0 && sample.value > 0) {
    sample.value += sample.timestamps.length;
    sample.timestamps.length = 0;
  }
  return sample.timestamps.length > 0 || sample.value > 0;
}

/** The samples of one profile, merged by identity {stack, link, attribute set}. */
class ProfileSamples {
  readonly samples: SampleEntry[] = [];
  private readonly byKey = new Map<number, Map<number, SampleEntry>>();

  entry(stack: number, link: number, attributeSet: number, dictionary: DictionaryBuilder): SampleEntry {
    const key = stack * ID_SPACE + link;
    let bySet = this.byKey.get(key);
    if (bySet === undefined) {
      bySet = new Map();
      this.byKey.set(key, bySet);
    }
    let entry = bySet.get(attributeSet);
    if (entry === undefined) {
      entry = { stack, link, attributes: dictionary.attributeSets[attributeSet]!, timestamps: [], value: 0 };
      bySet.set(attributeSet, entry);
      this.samples.push(entry);
    }
    return entry;
  }
}

/** The dictionary tables, filled as samples refer to them, each entry stored once. */
class DictionaryBuilder {
  readonly strings: string[] = [''];
  readonly mappings: Array<{ memoryStart: number; memoryLimit: number; fileOffset: number; filename: number }> = [
    { memoryStart: 0, memoryLimit: 0, fileOffset: 0, filename: 0 },
  ];
  readonly functions: Array<{ name: number; systemName: number; filename: number; startLine: number }> = [
    { name: 0, systemName: 0, filename: 0, startLine: 0 },
  ];
  readonly locations: Array<{ mapping: number; address: number; lines: number[] }> = [{ mapping: 0, address: 0, lines: [] }];
  readonly links: Array<{ traceId: Buffer; spanId: Buffer }> = [{ traceId: Buffer.alloc(16), spanId: Buffer.alloc(8) }];
  readonly attributes: AttributeEntry[] = [{ key: 0, unit: 0 }];
  readonly stacks: number[][] = [[]];
  /** Attribute index lists by attribute-set id; id 0 is the empty set. */
  readonly attributeSets: number[][] = [[]];

  private readonly stringIds = new Map<string, number>([['', 0]]);
  private readonly rawStrings: string[];
  private readonly rawLocations = new Map<number, PprofProfile['location'][number]>();
  private readonly rawFunctions = new Map<number, PprofProfile['function'][number]>();
  private readonly rawMappings = new Map<number, PprofProfile['mapping'][number]>();
  private readonly locationIds = new Map<number, number>();
  private readonly functionIds = new Map<number, number>();
  private readonly mappingIds = new Map<number, number>();
  private readonly locationsByContent = new Map<string, number>();
  private readonly functionsByContent = new Map<string, number>();
  private readonly stackTrie = new TrieNode();
  private readonly attributeSetTrie = new TrieNode();
  /** Link index by raw span-id string index, then raw trace-id string index. */
  private readonly linkIds = new Map<number, Map<number, number>>();
  /** Attribute index by raw key string index, then raw value string index. */
  private readonly stringAttributeIds = new Map<number, Map<number, number>>();
  private readonly numericAttributeIds = new Map<string, number>();
  // pprof gives every tick of one stack node the same locationId array: one identity check skips the trie.
  private lastStack: unknown;
  private lastStackId = 0;

  constructor(raw: PprofProfile) {
    this.rawStrings = raw.stringTable.strings;
    for (const location of raw.location) this.rawLocations.set(num(location.id), location);
    for (const fn of raw.function) this.rawFunctions.set(num(fn.id), fn);
    for (const mapping of raw.mapping) this.rawMappings.set(num(mapping.id), mapping);
    this.attributeSetTrie.id = 0;
    // An empty stack is the zero entry itself, not a second one.
    this.stackTrie.id = 0;
    // Attribute 1, the one every location refers to (FRAME_TYPE_INDICES).
    this.attributes.push({ key: this.string(FRAME_TYPE_ATTRIBUTE), str: FRAME_TYPE_V8JS, unit: 0 });
  }

  string(text: string): number {
    let id = this.stringIds.get(text);
    if (id === undefined) {
      id = this.strings.push(text) - 1;
      this.stringIds.set(text, id);
    }
    return id;
  }

  private rawString(index: Numeric): number {
    const i = num(index);
    return i === 0 ? 0 : this.string(this.rawStrings[i] ?? '');
  }

  stack(rawLocationIds: ArrayLike<Numeric>): number {
    if (rawLocationIds === this.lastStack) return this.lastStackId;
    let node = this.stackTrie;
    for (let i = 0; i < rawLocationIds.length; i++) node = node.child(this.location(num(rawLocationIds[i])));
    if (node.id < 0) {
      const indices = new Array<number>(rawLocationIds.length);
      for (let i = 0; i < rawLocationIds.length; i++) indices[i] = this.location(num(rawLocationIds[i]));
      node.id = this.stacks.push(indices) - 1;
    }
    this.lastStack = rawLocationIds;
    this.lastStackId = node.id;
    return node.id;
  }

  private location(rawId: number): number {
    let id = this.locationIds.get(rawId);
    if (id !== undefined) return id;
    const location = this.rawLocations.get(rawId);
    if (location === undefined) throw new Error(`raw profile sample refers to missing location ${rawId}`);
    const lines: number[] = [];
    for (const line of location.line) lines.push(this.function(num(line.functionId)), num(line.line), num(line.column));
    const mapping = this.mapping(num(location.mappingId));
    const address = num(location.address);
    // Two raw locations may say the same thing (no line numbers): one entry for both.
    const key = `${mapping}:${address}:${lines.join(',')}`;
    id = this.locationsByContent.get(key);
    if (id === undefined) {
      id = this.locations.push({ mapping, address, lines }) - 1;
      this.locationsByContent.set(key, id);
    }
    this.locationIds.set(rawId, id);
    return id;
  }

  private function(rawId: number): number {
    if (rawId === 0) return 0;
    let id = this.functionIds.get(rawId);
    if (id !== undefined) return id;
    const fn = this.rawFunctions.get(rawId);
    const entry = {
      name: fn ? this.rawString(fn.name) : 0,
      systemName: fn ? this.rawString(fn.systemName) : 0,
      filename: fn ? this.rawString(fn.filename) : 0,
      startLine: fn ? num(fn.startLine) : 0,
    };
    const key = `${entry.name}:${entry.systemName}:${entry.filename}:${entry.startLine}`;
    id = this.functionsByContent.get(key);
    if (id === undefined) {
      id = this.functions.push(entry) - 1;
      this.functionsByContent.set(key, id);
    }
    this.functionIds.set(rawId, id);
    return id;
  }

  private mapping(rawId: number): number {
    if (rawId === 0) return 0;
    let id = this.mappingIds.get(rawId);
    if (id !== undefined) return id;
    const m = this.rawMappings.get(rawId);
    id =
      this.mappings.push({
        memoryStart: num(m?.memoryStart),
        memoryLimit: num(m?.memoryLimit),
        fileOffset: num(m?.fileOffset),
        filename: m ? this.rawString(m.filename) : 0,
      }) - 1;
    this.mappingIds.set(rawId, id);
    return id;
  }

  link(rawSpanId: number, rawTraceId: number): number {
    let byTrace = this.linkIds.get(rawSpanId);
    if (byTrace === undefined) {
      byTrace = new Map();
      this.linkIds.set(rawSpanId, byTrace);
    }
    let id = byTrace.get(rawTraceId);
    if (id === undefined) {
      id = this.links.push({ traceId: idBytes(this.rawStrings[rawTraceId] ?? '', 16), spanId: idBytes(this.rawStrings[rawSpanId] ?? '', 8) }) - 1;
      byTrace.set(rawTraceId, id);
    }
    return id;
  }

  /** The attribute a non-span label becomes; 0 for an empty label. */
  labelAttribute(label: Label): number {
    const rawKey = num(label.key);
    const rawStr = num(label.str);
    if (rawStr !== 0) {
      let byValue = this.stringAttributeIds.get(rawKey);
      if (byValue === undefined) {
        byValue = new Map();
        this.stringAttributeIds.set(rawKey, byValue);
      }
      let id = byValue.get(rawStr);
      if (id === undefined) {
        id = this.attributes.push({ key: this.rawString(rawKey), str: this.rawStrings[rawStr] ?? '', unit: 0 }) - 1;
        byValue.set(rawStr, id);
      }
      return id;
    }
    const value = num(label.num);
    if (value === 0 && num(label.numUnit) === 0) return 0;
    const key = `${rawKey}:${value}:${num(label.numUnit)}`;
    let id = this.numericAttributeIds.get(key);
    if (id === undefined) {
      id = this.attributes.push({ key: this.rawString(rawKey), int: value, unit: this.rawString(label.numUnit) }) - 1;
      this.numericAttributeIds.set(key, id);
    }
    return id;
  }

  /** Interns a list of attribute indices (kept in label order; keys are unique per sample). */
  attributeSet(indices: readonly number[]): number {
    let node = this.attributeSetTrie;
    for (const index of indices) node = node.child(index);
    if (node.id < 0) node.id = this.attributeSets.push(indices.slice()) - 1;
    return node.id;
  }
}

/** A hex id as bytes of exactly `size`; a malformed id (never ours) becomes zeros, i.e. invalid. */
function idBytes(hex: string, size: number): Buffer {
  const bytes = Buffer.alloc(size);
  if (hex.length === size * 2 && /^[0-9a-fA-F]+$/.test(hex)) bytes.write(hex, 'hex');
  return bytes;
}

// ---------------------------------------------------------------------------------------------------
// Protobuf

/** The request as protobuf bytes (`application/x-protobuf`). */
export function encodeOtlpProfilesProtobuf(request: OtlpProfilesRequest): Buffer {
  const w = new ProtobufWriter(estimateSize(request));
  for (const _pause of writeRequest(w, request)) {
    // Synchronous: no pauses.
  }
  return w.finish();
}

/**
 * {@link encodeOtlpProfilesProtobuf}, the same bytes, but yielding to the event loop whenever it has written for
 * `sliceMs`: a cut of many samples is otherwise one long synchronous piece on the application's event loop.
 */
export async function encodeOtlpProfilesProtobufSliced(request: OtlpProfilesRequest, sliceMs = 1): Promise<Buffer> {
  const w = new ProtobufWriter(estimateSize(request));
  let sliceStart = performance.now();
  for (const _pause of writeRequest(w, request)) {
    if (performance.now() - sliceStart < sliceMs) continue;
    await yieldToEventLoop();
    sliceStart = performance.now();
  }
  return w.finish();
}

/** Items (samples, locations, stacks...) written between two pauses of {@link writeRequest}. */
const ITEMS_PER_PAUSE = 64;

/** Writes the request into `w`, pausing (yielding) every {@link ITEMS_PER_PAUSE} items. */
function* writeRequest(w: ProtobufWriter, request: OtlpProfilesRequest): Generator<void, void, void> {
  // ExportProfilesServiceRequest.resource_profiles = 1
  w.begin(1);
  writeResource(w, request.context);
  w.begin(2); // ResourceProfiles.scope_profiles
  w.begin(1); // ScopeProfiles.scope
  w.string(1, request.context.scopeName);
  w.string(2, request.context.scopeVersion);
  w.end();
  for (let index = 0; index < request.profiles.length; index++) yield* writeProfile(w, request, request.profiles[index]!, index);
  w.end();
  w.string(3, request.context.resourceSchemaUrl ?? '');
  w.end();
  // ExportProfilesServiceRequest.dictionary = 2
  w.begin(2);
  yield* writeDictionary(w, request);
  w.end();
}

function estimateSize(request: OtlpProfilesRequest): number {
  let size = 4096 + request.stacks.length * 16 + request.locations.length * 16;
  for (const s of request.strings) size += s.length + 2;
  for (const p of request.profiles) for (const s of p.samples) size += 12 + s.timestamps.length * 8;
  return size;
}

function writeResource(w: ProtobufWriter, context: OtlpProfilesContext): void {
  w.begin(1); // ResourceProfiles.resource
  for (const [key, value] of Object.entries(context.resourceAttributes)) {
    if (value === undefined || value === null) continue;
    w.begin(1); // Resource.attributes (KeyValue)
    w.string(1, key);
    writeAnyValue(w, 2, value);
    w.end();
  }
  w.end();
}

function writeAnyValue(w: ProtobufWriter, field: number, value: AttributeValue | null | undefined): void {
  w.begin(field);
  if (typeof value === 'string') w.string(1, value, true);
  else if (typeof value === 'boolean') {
    // AnyValue.bool_value = 2, written even when false: the oneof must say which member is set.
    w.uint(2, value ? 1 : 0);
    if (!value) w.raw(FALSE_BOOL);
  } else if (typeof value === 'number') {
    if (Number.isInteger(value)) {
      if (value === 0) w.raw(ZERO_INT);
      else w.int(3, value);
    } else if (value === 0) w.raw(ZERO_DOUBLE);
    else w.double(4, value);
  } else if (Array.isArray(value)) {
    w.begin(5); // ArrayValue
    for (const item of value) writeAnyValue(w, 1, item);
    w.end();
  }
  w.end();
}

/** Oneof members set to their zero value still have to be written. */
const FALSE_BOOL = Uint8Array.of((2 << 3) | 0, 0);
const ZERO_INT = Uint8Array.of((3 << 3) | 0, 0);
const ZERO_DOUBLE = Uint8Array.of((4 << 3) | 1, 0, 0, 0, 0, 0, 0, 0, 0);

function* writeProfile(w: ProtobufWriter, request: OtlpProfilesRequest, profile: ProfileEntry, index: number): Generator<void, void, void> {
  w.begin(2); // ScopeProfiles.profiles
  w.begin(1); // Profile.sample_type
  w.uint(1, profile.sampleType.type);
  w.uint(2, profile.sampleType.unit);
  w.end();
  let written = 0;
  for (const sample of profile.samples) {
    if (++written % ITEMS_PER_PAUSE === 0) yield;
    w.begin(2); // Profile.samples
    w.uint(1, sample.stack);
    w.packed(2, sample.attributes);
    w.uint(3, sample.link);
    // Timestamps-only shape: each timestamp counts one, no values.
    if (!(profile.timestampsOnly && sample.timestamps.length > 0)) w.packedSingle(4, sample.value);
    w.packedFixed64(5, sample.timestamps);
    w.end();
  }
  w.fixed64(3, request.timeUnixNano);
  w.uint(4, request.durationNano);
  w.begin(5); // Profile.period_type
  w.uint(1, profile.periodType.type);
  w.uint(2, profile.periodType.unit);
  w.end();
  w.int(6, profile.period);
  w.bytes(7, request.profileIds[index]!);
  w.end();
}

function* writeDictionary(w: ProtobufWriter, request: OtlpProfilesRequest): Generator<void, void, void> {
  for (const m of request.mappings) {
    w.begin(1);
    w.uint(1, m.memoryStart);
    w.uint(2, m.memoryLimit);
    w.uint(3, m.fileOffset);
    w.uint(4, m.filename);
    w.end();
  }
  for (let index = 0; index < request.locations.length; index++) {
    if (index % ITEMS_PER_PAUSE === ITEMS_PER_PAUSE - 1) yield;
    const location = request.locations[index]!;
    if (index === 0) {
      w.empty(2);
      continue;
    }
    w.begin(2);
    w.uint(1, location.mapping);
    w.uint(2, location.address);
    const lines = location.lines;
    for (let i = 0; i < lines.length; i += 3) {
      w.begin(3); // Location.lines
      w.uint(1, lines[i]!);
      w.int(2, lines[i + 1]!);
      w.int(3, lines[i + 2]!);
      w.end();
    }
    w.packed(4, FRAME_TYPE_INDICES);
    w.end();
  }
  yield;
  for (const fn of request.functions) {
    w.begin(3);
    w.uint(1, fn.name);
    w.uint(2, fn.systemName);
    w.uint(3, fn.filename);
    w.int(4, fn.startLine);
    w.end();
  }
  for (const link of request.links) {
    w.begin(4);
    w.bytes(1, link.traceId, true);
    w.bytes(2, link.spanId, true);
    w.end();
  }
  yield;
  for (let i = 0; i < request.strings.length; i++) {
    if (i % (8 * ITEMS_PER_PAUSE) === 8 * ITEMS_PER_PAUSE - 1) yield;
    w.string(5, request.strings[i]!, true);
  }
  yield;
  request.attributes.forEach((attribute, index) => {
    if (index === 0) return w.empty(6);
    w.begin(6);
    w.uint(1, attribute.key);
    if (attribute.str !== undefined) writeAnyValue(w, 2, attribute.str);
    else writeAnyValue(w, 2, attribute.int ?? 0);
    w.uint(3, attribute.unit);
    w.end();
  });
  yield;
  for (let i = 0; i < request.stacks.length; i++) {
    if (i % ITEMS_PER_PAUSE === ITEMS_PER_PAUSE - 1) yield;
    const stack = request.stacks[i]!;
    if (stack.length === 0) {
      w.empty(7);
      continue;
    }
    w.begin(7);
    w.packed(1, stack);
    w.end();
  }
}

// ---------------------------------------------------------------------------------------------------
// OTLP/JSON

/**
 * The request in the OTLP/JSON encoding (`application/json`): lowerCamelCase field names, 64-bit integers
 * as decimal strings, zero values left out, and, as the OTLP specification requires, trace and span ids
 * as hex strings rather than base64.
 */
export function encodeOtlpProfilesJson(request: OtlpProfilesRequest): string {
  const u64 = (value: number): string | undefined => (value === 0 ? undefined : String(value));
  const i32 = (value: number): number | undefined => (value === 0 ? undefined : value);
  const { context } = request;
  const body = {
    resourceProfiles: [
      {
        resource: {
          attributes: Object.entries(context.resourceAttributes)
            .filter(([, value]) => value !== undefined && value !== null)
            .map(([key, value]) => ({ key, value: jsonAnyValue(value) })),
        },
        scopeProfiles: [
          {
            scope: { name: context.scopeName, version: context.scopeVersion },
            profiles: request.profiles.map((profile) => ({
              sampleType: { typeStrindex: i32(profile.sampleType.type), unitStrindex: i32(profile.sampleType.unit) },
              samples: profile.samples.map((sample) => {
                const timestampsOnly = profile.timestampsOnly && sample.timestamps.length > 0;
                return {
                  stackIndex: i32(sample.stack),
                  attributeIndices: sample.attributes.length > 0 ? sample.attributes : undefined,
                  linkIndex: i32(sample.link),
                  values: timestampsOnly ? undefined : [String(sample.value)],
                  // The exact integer each double holds, as the protobuf encoding writes it.
                  timestampsUnixNano: sample.timestamps.length > 0 ? sample.timestamps.map((t) => BigInt(t).toString()) : undefined,
                };
              }),
              timeUnixNano: request.timeUnixNano.toString(),
              durationNano: u64(request.durationNano),
              periodType: { typeStrindex: i32(profile.periodType.type), unitStrindex: i32(profile.periodType.unit) },
              period: u64(profile.period),
              // profile_id left out: OTLP/JSON says how to write trace and span ids, not this one.
            })),
          },
        ],
        schemaUrl: context.resourceSchemaUrl || undefined,
      },
    ],
    dictionary: {
      mappingTable: request.mappings.map((m) => ({
        memoryStart: u64(m.memoryStart),
        memoryLimit: u64(m.memoryLimit),
        fileOffset: u64(m.fileOffset),
        filenameStrindex: i32(m.filename),
      })),
      locationTable: request.locations.map((location, index) => {
        if (index === 0) return {};
        const lines = [];
        for (let i = 0; i < location.lines.length; i += 3) {
          lines.push({
            functionIndex: i32(location.lines[i]!),
            line: u64(location.lines[i + 1]!),
            column: u64(location.lines[i + 2]!),
          });
        }
        return { mappingIndex: i32(location.mapping), address: u64(location.address), lines, attributeIndices: FRAME_TYPE_INDICES };
      }),
      functionTable: request.functions.map((fn) => ({
        nameStrindex: i32(fn.name),
        systemNameStrindex: i32(fn.systemName),
        filenameStrindex: i32(fn.filename),
        startLine: u64(fn.startLine),
      })),
      linkTable: request.links.map((link) => ({ traceId: link.traceId.toString('hex'), spanId: link.spanId.toString('hex') })),
      stringTable: request.strings,
      attributeTable: request.attributes.map((attribute, index) =>
        index === 0
          ? {}
          : {
              keyStrindex: i32(attribute.key),
              value: attribute.str !== undefined ? { stringValue: attribute.str } : { intValue: String(attribute.int ?? 0) },
              unitStrindex: i32(attribute.unit),
            },
      ),
      stackTable: request.stacks.map((stack) => (stack.length === 0 ? {} : { locationIndices: stack })),
    },
  };
  return JSON.stringify(body);
}

function jsonAnyValue(value: AttributeValue | null | undefined): Record<string, unknown> {
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (typeof value === 'number') return Number.isInteger(value) ? { intValue: String(value) } : { doubleValue: value };
  if (Array.isArray(value)) return { arrayValue: { values: value.map((item) => jsonAnyValue(item)) } };
  return {};
}

/** Every location's attribute_indices: the frame type, always attribute 1 (see DictionaryBuilder). */
const FRAME_TYPE_INDICES = [1];

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
