/**
 * Turns the raw time profile @datadog/pprof returns from `time.stop()` into the profiles we upload:
 * a CPU profile (samples/count + cpu/nanoseconds, the type Grafana's traces-to-profiles expects) and,
 * optionally, a wall profile. The raw profile has one pprof sample per labelled tick; here identical
 * (stack, labels) samples are merged, unused symbols are pruned, and each profile is split so that none
 * exceeds Pyroscope's per-profile limits. Encoding and gzip are asynchronous so the host app's event
 * loop is only ever held for short slices.
 */

import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import {
  Function as PprofFunction,
  Label,
  Line,
  Location,
  Mapping,
  Profile,
  Sample,
  StringTable,
  ValueType,
} from 'pprof-format';
import type { EncodedProfile, ProfileCut, ProfileKind } from '../export/profile-exporter';
import { getLogger } from '../logger';
import { PYROSCOPE_PROFILE_LIMITS, type ProfileLimits } from './profile-limits';
import { COUNT_SAMPLE_TYPE, CPU_SAMPLE_TYPE, SAMPLE_TIME_LABEL, SPAN_LABEL_KEYS, valueColumns, WALL_SAMPLE_TYPE, type ValueColumns } from '../profile-format';
import { TrieNode } from './sequence-trie';

const gzip = promisify(gzipCallback);

type Numeric = number | bigint;

/** How {@link buildProfiles} shapes its output. */
export interface BuildProfilesOptions {
  /** The sampling interval the profiler ran at, microseconds; becomes the pprof period. */
  readonly intervalMicros: number;
  /** Start of the interval the raw profile covers, Unix milliseconds. */
  readonly startMs: number;
  /** End of that interval, Unix milliseconds. */
  readonly endMs: number;
  /** Also produce the wall-time profile. */
  readonly wall: boolean;
  /** Override the destination's limits (defaults: Pyroscope's); tests and unusual servers only. */
  readonly limits?: Partial<ProfileLimits>;
  /**
   * Keep each sample's {@link SAMPLE_TIME_LABEL}, so samples of the same stack and span stay apart.
   * Default false: the label is dropped and identical samples merge (what Pyroscope needs).
   */
  readonly keepSampleTimes?: boolean;
}

/** {@link buildProfiles} over a profiler cut, with the cut's own interval and options. */
export function buildProfilesOfCut(
  cut: ProfileCut,
  opts: Pick<BuildProfilesOptions, 'limits' | 'keepSampleTimes'> = {},
): Promise<EncodedProfile[]> {
  return buildProfiles(cut.raw, {
    intervalMicros: cut.intervalMicros,
    startMs: cut.startMs,
    endMs: cut.endMs,
    wall: cut.wall,
    ...opts,
  });
}

/**
 * Builds the CPU profile (and the wall profile if `opts.wall`) from a raw @datadog/pprof time profile
 * taken with `withContexts` and `collectCpuTime`. A kind may come back as several profiles for the
 * same interval when one would exceed a limit; Pyroscope adds them up. A kind whose value type the raw
 * profile lacks (no `cpu` without collectCpuTime) is left out. Throws only on a malformed raw profile.
 */
export async function buildProfiles(raw: Profile, opts: BuildProfilesOptions): Promise<EncodedProfile[]> {
  const limits: ProfileLimits = { ...PYROSCOPE_PROFILE_LIMITS, ...opts.limits };
  const columns = valueColumns(raw);
  const timeKey = opts.keepSampleTimes ? -1 : raw.stringTable.strings.indexOf(SAMPLE_TIME_LABEL);
  const merged = await mergeSamples(raw, columns, limits.maxLabelsPerSample, timeKey);
  const symbols = new RawSymbols(raw);

  const kinds: ProfileKind[] = [];
  if (columns.cpu >= 0) kinds.push('cpu');
  if (opts.wall && columns.wall >= 0) kinds.push('wall');

  const out: EncodedProfile[] = [];
  for (const kind of kinds) {
    const samples = merged.samples.filter(kind === 'cpu' ? hasCpu : hasWall);
    const header = new ProfileHeader(kind, opts);
    for (const part of splitByCount(samples, limits.maxSamples)) {
      for (const encoded of await encodeWithinSize(part, merged, symbols, header, limits.maxBytes)) {
        out.push({
          kind,
          data: await gzip(encoded.bytes),
          startMs: opts.startMs,
          endMs: opts.endMs,
          sampleCount: encoded.sampleCount,
          intervalMicros: opts.intervalMicros,
        });
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Merging

/** One (stack, label set) pair with the values of every raw sample that had it, split by kind. */
class MergedSample {
  /** Ticks whose CPU time was > 0 (the CPU profile's samples/count). */
  cpuCount = 0;
  cpu = 0;
  wallCount = 0;
  wall = 0;
  constructor(
    readonly stackId: number,
    readonly labelSetId: number,
  ) {}
}

const hasCpu = (s: MergedSample): boolean => s.cpu > 0;
const hasWall = (s: MergedSample): boolean => s.wallCount > 0 || s.wall > 0;

interface MergedProfile {
  /** Raw location ids per stack id, leaf first. */
  readonly stacks: ArrayLike<Numeric>[];
  /** Raw labels per label-set id; id 0 is the empty set. */
  readonly labelSets: Label[][];
  readonly samples: MergedSample[];
}

/** 2^26: string-table indexes and interned ids stay below it, so two fit one safe integer. */
const ID_SPACE = 0x4000000;
/** Samples processed between two yields to the event loop: a few milliseconds of work. */
const SAMPLES_PER_SLICE = 1024;

/** Bigints that fit a number become numbers, so `1n` and `1` intern to the same key. */
function trieKey(value: Numeric): Numeric {
  return typeof value === 'bigint' && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

/** Labels Pyroscope needs to link a sample to its span; kept first if labels must be dropped. */
const ESSENTIAL_LABEL_KEYS = SPAN_LABEL_KEYS;

/** `dropKey`: string-table index of a label key to leave out (the sample time), or -1. */
async function mergeSamples(raw: Profile, columns: ValueColumns, maxLabels: number, dropKey: number): Promise<MergedProfile> {
  const strings = raw.stringTable.strings;
  const stacks: ArrayLike<Numeric>[] = [];
  const labelSets: Label[][] = [[]];
  const samples: MergedSample[] = [];
  const stackTrie = new TrieNode();
  const labelTrie = new TrieNode();
  labelTrie.id = 0;
  const byKey = new Map<number, MergedSample>();

  // pprof gives every tick of one stack node the same locationId array, so an identity check
  // skips the trie walk for almost every sample.
  let lastStack: unknown;
  let lastStackId = -1;

  const internStack = (ids: ArrayLike<Numeric>): number => {
    if (ids === lastStack) return lastStackId;
    let node = stackTrie;
    for (let i = 0; i < ids.length; i++) node = node.child(trieKey(ids[i]!));
    if (node.id < 0) {
      node.id = stacks.length;
      stacks.push(ids);
    }
    lastStack = ids;
    lastStackId = node.id;
    return node.id;
  };

  const internLabels = (sampleLabels: Label[]): number => {
    const rawLabels = dropKey < 0 ? sampleLabels : withoutKey(sampleLabels, dropKey);
    if (rawLabels.length === 0) return 0;
    const labels =
      rawLabels.length > maxLabels ? keepLabels(rawLabels, maxLabels, strings) : sortedByKey(rawLabels);
    let node = labelTrie;
    for (const label of labels) {
      if (label.num) {
        // Numeric label: a negative marker (never a string label's key) then num and its unit.
        node = node.child(-(Number(label.key) + 1))
          .child(trieKey(label.num))
          .child(trieKey(label.numUnit));
      } else {
        node = node.child(Number(label.key) * ID_SPACE + Number(label.str));
      }
    }
    if (node.id < 0) {
      node.id = labelSets.length;
      labelSets.push(labels);
    }
    return node.id;
  };

  const rawSamples = raw.sample;
  for (let i = 0; i < rawSamples.length; i++) {
    if (i % SAMPLES_PER_SLICE === SAMPLES_PER_SLICE - 1) await yieldToEventLoop();
    const sample = rawSamples[i]!;
    const values = sample.value;
    const count = columns.count < 0 ? 1 : valueAt(values, columns.count);
    const wall = valueAt(values, columns.wall);
    const cpu = valueAt(values, columns.cpu);
    if (count === 0 && wall === 0 && cpu === 0) continue;

    const stackId = internStack(sample.locationId);
    const labelSetId = internLabels(sample.label);
    const key = stackId * ID_SPACE + labelSetId;
    let merged = byKey.get(key);
    if (merged === undefined) {
      merged = new MergedSample(stackId, labelSetId);
      byKey.set(key, merged);
      samples.push(merged);
    }
    if (cpu > 0) {
      merged.cpuCount += count;
      merged.cpu += cpu;
    }
    merged.wallCount += count;
    merged.wall += wall;
  }
  return { stacks, labelSets, samples };
}

function valueAt(values: Numeric[], index: number): number {
  if (index < 0) return 0;
  const value = values[index];
  return value === undefined ? 0 : Number(value);
}

/** `labels` less those whose key is `key`; `labels` itself when it has none. */
function withoutKey(labels: Label[], key: number): Label[] {
  for (let i = 0; i < labels.length; i++) {
    if (Number(labels[i]!.key) === key) return labels.filter((l) => Number(l.key) !== key);
  }
  return labels;
}

/** Labels in key order, so the same set merges whatever order it was built in. Copies only if needed. */
function sortedByKey(labels: Label[]): Label[] {
  for (let i = 1; i < labels.length; i++) {
    if (Number(labels[i - 1]!.key) > Number(labels[i]!.key)) {
      return [...labels].sort((a, b) => Number(a.key) - Number(b.key));
    }
  }
  return labels;
}

/**
 * Last resort for a sample with more labels than Pyroscope accepts (it would reject the whole
 * profile): keep the span-linking labels, then the first others up to the limit, and drop the rest.
 * Our own profiler never sets that many; only a misbehaving label source can get here.
 */
function keepLabels(labels: Label[], max: number, strings: string[]): Label[] {
  getLogger().warnOnce(
    'profile-builder-labels',
    `a profile sample carries ${labels.length} labels, more than the ${max} Pyroscope accepts; ` +
      `kept span_id, trace_id, span_name and the first others, dropped the rest`,
  );
  const essential = labels.filter((l) => ESSENTIAL_LABEL_KEYS.includes(strings[Number(l.key)] ?? ''));
  const others = labels.filter((l) => !essential.includes(l));
  return sortedByKey([...essential, ...others].slice(0, max));
}

// ---------------------------------------------------------------------------------------------------
// Splitting and encoding

/** Splits into the fewest equal parts of at most `max` samples; always at least one part. */
function splitByCount<T>(items: T[], max: number): T[][] {
  const parts = Math.max(1, Math.ceil(items.length / max));
  const size = Math.ceil(items.length / parts);
  const out: T[][] = [];
  for (let start = 0; start < items.length || out.length === 0; start += size) {
    out.push(items.slice(start, start + size));
  }
  return out;
}

interface EncodedPart {
  readonly bytes: Uint8Array;
  readonly sampleCount: number;
}

/** Encodes `samples` as one profile, or halves them until every part fits `maxBytes`. */
async function encodeWithinSize(
  samples: MergedSample[],
  merged: MergedProfile,
  symbols: RawSymbols,
  header: ProfileHeader,
  maxBytes: number,
): Promise<EncodedPart[]> {
  const assembled = await assembleProfile(samples, merged, symbols, header);
  const size = await measureProfile(assembled);
  if (size <= maxBytes) {
    return [{ bytes: await encodeProfile(assembled, size), sampleCount: samples.length }];
  }
  if (samples.length === 1) {
    // One stack whose symbols alone pass the limit cannot be sent anywhere Pyroscope accepts.
    getLogger().warnRateLimited(
      'profile-builder-oversize',
      `dropped one ${header.kind} profile sample whose stack encodes to ${size} bytes, over the ${maxBytes}-byte limit`,
    );
    return [];
  }
  const half = Math.ceil(samples.length / 2);
  return [
    ...(await encodeWithinSize(samples.slice(0, half), merged, symbols, header, maxBytes)),
    ...(await encodeWithinSize(samples.slice(half), merged, symbols, header, maxBytes)),
  ];
}

/**
 * A profile whose samples are kept beside it rather than in it, so that measuring and encoding the
 * samples (the bulk of the work) can be done a slice at a time; `frame` holds everything else.
 */
interface AssembledProfile {
  readonly frame: Profile;
  readonly samples: Sample[];
  /** Encoded length of each sample's body, filled in by {@link measureProfile}. */
  readonly sampleLengths: number[];
}

/** Protobuf tag of Profile.sample (field 2, length-delimited). */
const SAMPLE_FIELD_TAG = (2 << 3) | 2;

function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    size++;
  }
  return size;
}

function writeVarint(buffer: Uint8Array, offset: number, value: number): number {
  while (value >= 0x80) {
    buffer[offset++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 0x80);
  }
  buffer[offset++] = value;
  return offset;
}

/** Exact encoded size of the whole profile, in bytes. */
async function measureProfile(assembled: AssembledProfile): Promise<number> {
  let size = assembled.frame.length;
  const { samples, sampleLengths } = assembled;
  for (let i = 0; i < samples.length; i++) {
    if (i % SAMPLES_PER_SLICE === SAMPLES_PER_SLICE - 1) await yieldToEventLoop();
    const length = samples[i]!.length;
    sampleLengths[i] = length;
    size += 1 + varintSize(length) + length;
  }
  return size;
}

/**
 * The same bytes `Profile.encode()` writes, fields in the canonical order, but with the samples
 * written a slice at a time (pprof-format's own `encodeAsync` writes all samples in one go).
 */
async function encodeProfile(assembled: AssembledProfile, size: number): Promise<Uint8Array> {
  const { frame, samples, sampleLengths } = assembled;
  const buffer = new Uint8Array(size);
  let offset = frame._encodeSampleTypesToBuffer(buffer, 0);
  for (let i = 0; i < samples.length; i++) {
    if (i % SAMPLES_PER_SLICE === SAMPLES_PER_SLICE - 1) await yieldToEventLoop();
    buffer[offset++] = SAMPLE_FIELD_TAG;
    offset = writeVarint(buffer, offset, sampleLengths[i]!);
    offset = samples[i]!._encodeToBuffer(buffer, offset);
  }
  await yieldToEventLoop();
  offset = frame._encodeMappingsToBuffer(buffer, offset);
  offset = frame._encodeLocationsToBuffer(buffer, offset);
  offset = frame._encodeFunctionsToBuffer(buffer, offset);
  offset = frame.stringTable._encodeToBuffer(buffer, offset);
  offset = frame._encodeBasicValuesToBuffer(buffer, offset);
  if (offset !== size) throw new Error(`profile encoding wrote ${offset} bytes, expected ${size}`);
  return buffer;
}

/** What every profile of one kind and interval shares. */
class ProfileHeader {
  readonly timeNanos: bigint;
  readonly durationNanos: number;
  readonly period: number;

  constructor(
    readonly kind: ProfileKind,
    opts: BuildProfilesOptions,
  ) {
    this.timeNanos = BigInt(Math.round(opts.startMs)) * 1_000_000n;
    this.durationNanos = Math.max(0, Math.round((opts.endMs - opts.startMs) * 1e6));
    this.period = Math.round(opts.intervalMicros * 1000);
  }
}

/** The raw profile's symbol tables, indexed by id. */
class RawSymbols {
  readonly strings: string[];
  readonly locations = new Map<number, Location>();
  readonly functions = new Map<number, PprofFunction>();
  readonly mappings = new Map<number, Mapping>();

  constructor(raw: Profile) {
    this.strings = raw.stringTable.strings;
    for (const location of raw.location) this.locations.set(Number(location.id), location);
    for (const fn of raw.function) this.functions.set(Number(fn.id), fn);
    for (const mapping of raw.mapping) this.mappings.set(Number(mapping.id), mapping);
  }
}

/**
 * A self-contained profile holding `samples` and only the locations, functions, mappings and
 * strings they use, renumbered densely from 1.
 */
async function assembleProfile(
  samples: MergedSample[],
  merged: MergedProfile,
  symbols: RawSymbols,
  header: ProfileHeader,
): Promise<AssembledProfile> {
  const stringTable = new StringTable();
  const stringIds = new Map<number, number>();
  const str = (rawIndex: Numeric): number => {
    const index = Number(rawIndex);
    if (index === 0) return 0;
    let id = stringIds.get(index);
    if (id === undefined) {
      id = stringTable.dedup(symbols.strings[index] ?? '');
      stringIds.set(index, id);
    }
    return id;
  };

  const functions: PprofFunction[] = [];
  const functionIds = new Map<number, number>();
  const functionId = (rawId: Numeric): number => {
    const key = Number(rawId);
    if (key === 0) return 0;
    let id = functionIds.get(key);
    if (id === undefined) {
      const fn = symbols.functions.get(key);
      id = functions.length + 1;
      functionIds.set(key, id);
      functions.push(
        new PprofFunction({
          id,
          name: fn ? str(fn.name) : 0,
          systemName: fn ? str(fn.systemName) : 0,
          filename: fn ? str(fn.filename) : 0,
          startLine: fn?.startLine ?? 0,
        }),
      );
    }
    return id;
  };

  const mappings: Mapping[] = [];
  const mappingIds = new Map<number, number>();
  const mappingId = (rawId: Numeric): number => {
    const key = Number(rawId);
    if (key === 0) return 0;
    let id = mappingIds.get(key);
    if (id === undefined) {
      const m = symbols.mappings.get(key);
      id = mappings.length + 1;
      mappingIds.set(key, id);
      mappings.push(
        new Mapping({
          id,
          memoryStart: m?.memoryStart ?? 0,
          memoryLimit: m?.memoryLimit ?? 0,
          fileOffset: m?.fileOffset ?? 0,
          filename: m ? str(m.filename) : 0,
          buildId: m ? str(m.buildId) : 0,
          hasFunctions: m?.hasFunctions ?? false,
          hasFilenames: m?.hasFilenames ?? false,
          hasLineNumbers: m?.hasLineNumbers ?? false,
          hasInlineFrames: m?.hasInlineFrames ?? false,
        }),
      );
    }
    return id;
  };

  const locations: Location[] = [];
  const locationIds = new Map<number, number>();
  const locationId = (rawId: Numeric): number => {
    const key = Number(rawId);
    let id = locationIds.get(key);
    if (id === undefined) {
      const loc = symbols.locations.get(key);
      if (loc === undefined) throw new Error(`raw profile sample refers to missing location ${key}`);
      id = locations.length + 1;
      locationIds.set(key, id);
      locations.push(
        new Location({
          id,
          mappingId: mappingId(loc.mappingId),
          address: loc.address,
          line: loc.line.map(
            (line) => new Line({ functionId: functionId(line.functionId), line: line.line, column: line.column }),
          ),
          isFolded: loc.isFolded,
        }),
      );
    }
    return id;
  };

  // Samples sharing a stack or a label set share the renumbered arrays too.
  const stackCache = new Map<number, number[]>();
  const labelCache = new Map<number, Label[]>();
  const isCpu = header.kind === 'cpu';
  const outSamples: Sample[] = new Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    if (i % SAMPLES_PER_SLICE === SAMPLES_PER_SLICE - 1) await yieldToEventLoop();
    const s = samples[i]!;
    let stack = stackCache.get(s.stackId);
    if (stack === undefined) {
      const rawIds = merged.stacks[s.stackId]!;
      stack = new Array<number>(rawIds.length);
      for (let j = 0; j < rawIds.length; j++) stack[j] = locationId(rawIds[j]!);
      stackCache.set(s.stackId, stack);
    }
    let labels = labelCache.get(s.labelSetId);
    if (labels === undefined) {
      labels = merged.labelSets[s.labelSetId]!.map(
        (l) => new Label({ key: str(l.key), str: str(l.str), num: l.num, numUnit: str(l.numUnit) }),
      );
      labelCache.set(s.labelSetId, labels);
    }
    outSamples[i] = new Sample({
      locationId: stack,
      value: isCpu ? [s.cpuCount, s.cpu] : [s.wallCount, s.wall],
      label: labels,
    });
  }

  const countType = new ValueType({ type: stringTable.dedup(COUNT_SAMPLE_TYPE.type), unit: stringTable.dedup(COUNT_SAMPLE_TYPE.unit) });
  const timeType = isCpu ? CPU_SAMPLE_TYPE : WALL_SAMPLE_TYPE;
  const valueType = new ValueType({ type: stringTable.dedup(timeType.type), unit: stringTable.dedup(timeType.unit) });
  const frame = new Profile({
    sampleType: [countType, valueType],
    mapping: mappings,
    location: locations,
    function: functions,
    stringTable,
    timeNanos: header.timeNanos,
    durationNanos: header.durationNanos,
    periodType: new ValueType({ type: valueType.type, unit: valueType.unit }),
    period: header.period,
  });
  return { frame, samples: outSamples, sampleLengths: new Array<number>(outSamples.length) };
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
