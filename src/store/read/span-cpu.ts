/**
 * What the stored CPU profiles say about the stored spans: CPU per root span (samples joined by their
 * `span_id` label with the spans' `pyroscope.profile.id`), hottest functions, a flame tree, and the
 * merged pprof of any selection of samples. Shared by `span-profiles report`, `pprof` and `view`.
 *
 * Profiles are first normalized into {@link CpuSample}s (frames interned across files), so every
 * analysis is a plain walk over one array, whatever the string tables of the files were.
 */

import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { Function as PprofFunction, Label, Line, Location, Profile, Sample, StringTable, ValueType } from 'pprof-format';
import {
  AFTER_SPAN_ENDED_FRAME,
  COUNT_SAMPLE_TYPE,
  CPU_SAMPLE_TYPE,
  SAMPLE_TIME_LABEL,
  SPAN_ID_LABEL,
  SPAN_NAME_LABEL,
  TRACE_ID_LABEL,
  UNSAMPLED_CPU_FRAME,
  valueColumns,
} from '../../profile-format';
import { readProfileOrNote, readStore, type StoreContents, type StoredProfileFile, type StoredSpan, type StoreProblem } from './reader';

const gzip = promisify(zlib.gzip);

const DAY_MS = 86_400_000;

/** One frame of code; interned, so equal frames are the same object within one {@link CpuSamples}. */
export interface CodeFrame {
  /** Function name; `(anonymous)` when V8 has none. */
  name: string;
  /** Script path or URL; '' for native and synthetic frames (`(garbage collector)`, `Node.js`...). */
  file: string;
  /** 1-based line; 0 when unknown. */
  line: number;
}

/** One pprof sample of a stored CPU profile (identical stacks and labels already merged by the agent). */
export interface CpuSample {
  /** Label `span_id`: the local root span's id; undefined for samples taken outside any span. */
  spanId: string | undefined;
  traceId: string | undefined;
  spanName: string | undefined;
  /** CPU time, nanoseconds. */
  cpuNanos: number;
  /** Number of profiler ticks merged into this sample. */
  count: number;
  /** The call stack, leaf (the running function) first. */
  stack: CodeFrame[];
  /** The service directory and interval of the profile it came from. */
  service: string;
  fromMs: number;
  untilMs: number;
  /** The pid of the process that took it (from the file name). */
  pid: number;
  /**
   * When the tick was taken (label `end_timestamp_ns`), Unix ms with microsecond precision; undefined
   * in profiles written without per-sample times (then `count` ticks may be merged in one sample).
   */
  timeMs: number | undefined;
}

export interface CpuSamples {
  samples: CpuSample[];
  /** The sampling period of the profiles, nanoseconds (the largest seen; 0 when no profile was read). */
  periodNanos: number;
  /** Profile files read successfully. */
  profilesRead: number;
  /** Files that could not be read or are not CPU profiles. */
  problems: StoreProblem[];
}

/** Which samples to take: all given criteria must hold. */
export interface SampleSelector {
  /** The root span's id (the `span_id` label), 16 hex. */
  spanId?: string;
  /** 32 hex. */
  traceId?: string;
  /** The root span's final name, exact. */
  spanName?: string;
}

/** CPU of one root span (one `span_id` label value). */
export interface RootSpanCpu {
  spanId: string;
  /** From the stored span, else the samples' `trace_id` label. */
  traceId: string | undefined;
  /** The stored span's name, else the samples' `span_name` label, else `(unnamed span)`. */
  name: string;
  service: string;
  /** Undefined when the span itself is not in the store (spans sent elsewhere, or outside the filter). */
  startMs: number | undefined;
  durationMs: number | undefined;
  cpuNanos: number;
  /** Profiler ticks. */
  samples: number;
  span: StoredSpan | undefined;
}

/** CPU of one function across a set of samples. */
export interface FunctionCpu {
  name: string;
  file: string;
  line: number;
  /** CPU while this function itself was running. */
  selfNanos: number;
  /** CPU while this function was anywhere on the stack (recursion counted once). */
  totalNanos: number;
}

/** A node of a flame graph: the frames called from its parent, merged. */
export interface FlameNode {
  frame: CodeFrame;
  selfNanos: number;
  totalNanos: number;
  children: FlameNode[];
}

/** Reads the CPU profiles among `files` (wall profiles are skipped) and normalizes their samples. Never rejects. */
export async function loadCpuSamples(files: readonly StoredProfileFile[]): Promise<CpuSamples> {
  const result: CpuSamples = { samples: [], periodNanos: 0, profilesRead: 0, problems: [] };
  const frames = new Map<string, CodeFrame>();
  for (const file of files) {
    if (file.kind !== 'cpu') continue;
    const profile = await readProfileOrNote(file.path, result.problems);
    if (profile === undefined) continue;
    const problem = addProfileSamples(profile, file, frames, result.samples);
    if (problem !== undefined) {
      result.problems.push({ path: file.path, reason: problem });
      continue;
    }
    result.profilesRead++;
    result.periodNanos = Math.max(result.periodNanos, Number(profile.period) || 0);
  }
  return result;
}

/** Normalizes one decoded profile; returns a reason when it is not a usable CPU profile. */
function addProfileSamples(profile: Profile, file: StoredProfileFile, frames: Map<string, CodeFrame>, out: CpuSample[]): string | undefined {
  const strings = profile.stringTable.strings;
  const str = (index: unknown): string => strings[Number(index)] ?? '';
  const { cpu: cpuIndex, count: countIndex } = valueColumns(profile);
  if (cpuIndex < 0) return `not a CPU profile (no ${CPU_SAMPLE_TYPE.type}/${CPU_SAMPLE_TYPE.unit} sample type)`;

  const functions = new Map<number, PprofFunction>();
  for (const fn of profile.function) functions.set(Number(fn.id), fn);
  // A location may hold inlined lines (innermost first): each becomes its own frame.
  const locations = new Map<number, CodeFrame[]>();
  for (const location of profile.location) {
    const locationFrames: CodeFrame[] = [];
    for (const line of location.line) {
      const fn = functions.get(Number(line.functionId));
      const name = str(fn?.name) || '(anonymous)';
      const fileName = str(fn?.filename);
      const lineNumber = Number(line.line) || Number(fn?.startLine) || 0;
      const key = `${name}\0${fileName}\0${lineNumber}`;
      let frame = frames.get(key);
      if (frame === undefined) {
        frame = { name, file: fileName, line: lineNumber };
        frames.set(key, frame);
      }
      locationFrames.push(frame);
    }
    locations.set(Number(location.id), locationFrames);
  }

  for (const sample of profile.sample) {
    const cpuNanos = Number(sample.value[cpuIndex] ?? 0);
    const count = countIndex < 0 ? 0 : Number(sample.value[countIndex] ?? 0);
    if (cpuNanos === 0 && count === 0) continue;
    let spanId: string | undefined;
    let traceId: string | undefined;
    let spanName: string | undefined;
    let timeMs: number | undefined;
    for (const label of sample.label) {
      const key = str(label.key);
      if (key === SAMPLE_TIME_LABEL) {
        // Unix ns passes 2^53: whole microseconds first, so the ms value keeps µs precision.
        const ns = typeof label.num === 'bigint' ? label.num : BigInt(Math.round(Number(label.num)));
        if (ns > 0n) timeMs = Number(ns / 1000n) / 1000;
        // A time far outside the profile's own interval is not one (a damaged or foreign file): no time.
        if (timeMs !== undefined && (timeMs < file.fromMs - DAY_MS || timeMs > file.untilMs + DAY_MS)) timeMs = undefined;
      } else if (key === SPAN_ID_LABEL) spanId = str(label.str) || undefined;
      else if (key === TRACE_ID_LABEL) traceId = str(label.str) || undefined;
      else if (key === SPAN_NAME_LABEL) spanName = str(label.str) || undefined;
    }
    const stack: CodeFrame[] = [];
    for (const id of sample.locationId) {
      const located = locations.get(Number(id));
      if (located !== undefined) stack.push(...located);
    }
    out.push({ spanId, traceId, spanName, cpuNanos, count, stack, service: file.service, fromMs: file.fromMs, untilMs: file.untilMs, pid: file.pid, timeMs });
  }
  return undefined;
}

/** Finds the stored span a `span_id` label value belongs to. */
export class SpanIndex {
  private readonly byId = new Map<string, StoredSpan>();

  constructor(spans: readonly StoredSpan[]) {
    // The profile id wins over a plain span id: it is what the agent put in the label.
    for (const span of spans) if (!this.byId.has(span.spanId)) this.byId.set(span.spanId, span);
    for (const span of spans) if (span.profileId !== undefined) this.byId.set(span.profileId, span);
  }

  /** The span whose `pyroscope.profile.id` (or own id) is `labelSpanId`. */
  get(labelSpanId: string | undefined): StoredSpan | undefined {
    return labelSpanId === undefined ? undefined : this.byId.get(labelSpanId);
  }
}

/** The root span name a sample counts under: the stored span's final name, else its label. */
function nameOf(sample: CpuSample, span: StoredSpan | undefined): string {
  return span?.name || sample.spanName || '(unnamed span)';
}

/** The samples matching `selector`; names and trace ids are resolved through the stored spans first. */
export function selectSamples(samples: readonly CpuSample[], spans: SpanIndex, selector: SampleSelector): CpuSample[] {
  return samples.filter((sample) => {
    if (sample.spanId === undefined) return false;
    if (selector.spanId !== undefined && sample.spanId !== selector.spanId) return false;
    const span = spans.get(sample.spanId);
    if (selector.traceId !== undefined && (span?.traceId ?? sample.traceId) !== selector.traceId) return false;
    if (selector.spanName !== undefined && nameOf(sample, span) !== selector.spanName) return false;
    return true;
  });
}

/** CPU per root span (per `span_id` label), most CPU first. Samples outside any span are left out. */
export function cpuByRootSpan(samples: readonly CpuSample[], spans: SpanIndex): RootSpanCpu[] {
  const roots = new Map<string, RootSpanCpu>();
  for (const sample of samples) {
    if (sample.spanId === undefined) continue;
    let root = roots.get(sample.spanId);
    if (root === undefined) {
      const span = spans.get(sample.spanId);
      root = {
        spanId: sample.spanId,
        traceId: span?.traceId ?? sample.traceId,
        name: nameOf(sample, span),
        service: span?.service ?? sample.service,
        startMs: span?.startMs,
        durationMs: span?.durationMs,
        cpuNanos: 0,
        samples: 0,
        span,
      };
      roots.set(sample.spanId, root);
    }
    root.cpuNanos += sample.cpuNanos;
    root.samples += sample.count;
  }
  return [...roots.values()].sort((a, b) => b.cpuNanos - a.cpuNanos || a.spanId.localeCompare(b.spanId));
}

/**
 * A span's CPU resting on this many samples or fewer is an estimate: one sample stands for a whole
 * sampling interval, whatever part of it the span really used.
 */
export const ESTIMATE_MAX_SAMPLES = 2;

/** Whether a figure built from `samples` profiler ticks is only an estimate. */
export function isEstimate(samples: number): boolean {
  return samples > 0 && samples <= ESTIMATE_MAX_SAMPLES;
}

/** CPU the agent deliberately charged to no span, by why. */
export interface UnchargedCpu {
  /** Sampled in a span's context after that span had ended (root frame `(after its span ended)`). */
  afterSpanEndedNanos: number;
  /** CPU no sample can vouch for: skipped ticks, or more than a span lasted (`(CPU between samples)`). */
  betweenSamplesNanos: number;
}

/** Sums the two buckets of CPU charged to no span. */
export function unchargedCpu(samples: readonly Pick<CpuSample, 'spanId' | 'stack' | 'cpuNanos'>[]): UnchargedCpu {
  const out: UnchargedCpu = { afterSpanEndedNanos: 0, betweenSamplesNanos: 0 };
  for (const sample of samples) {
    if (sample.spanId !== undefined) continue;
    const root = sample.stack[sample.stack.length - 1]?.name;
    if (root === AFTER_SPAN_ENDED_FRAME) out.afterSpanEndedNanos += sample.cpuNanos;
    else if (root === UNSAMPLED_CPU_FRAME) out.betweenSamplesNanos += sample.cpuNanos;
  }
  return out;
}

/** The functions that used the most CPU themselves (self), with their total; at most `limit`. */
export function hottestFunctions(samples: readonly CpuSample[], limit = 10): FunctionCpu[] {
  const byFrame = new Map<CodeFrame, FunctionCpu>();
  const entry = (frame: CodeFrame): FunctionCpu => {
    let fn = byFrame.get(frame);
    if (fn === undefined) {
      fn = { name: frame.name, file: frame.file, line: frame.line, selfNanos: 0, totalNanos: 0 };
      byFrame.set(frame, fn);
    }
    return fn;
  };
  const seen = new Set<CodeFrame>();
  for (const sample of samples) {
    if (sample.stack.length === 0) continue;
    entry(sample.stack[0]!).selfNanos += sample.cpuNanos;
    seen.clear();
    for (const frame of sample.stack) {
      if (seen.has(frame)) continue; // recursion: count once per sample
      seen.add(frame);
      entry(frame).totalNanos += sample.cpuNanos;
    }
  }
  return [...byFrame.values()]
    .filter((fn) => fn.selfNanos > 0)
    .sort((a, b) => b.selfNanos - a.selfNanos || b.totalNanos - a.totalNanos)
    .slice(0, limit);
}

/** The samples as a flame graph: a root node (frame `all`) whose children are the outermost frames. */
export function flameTree(samples: readonly CpuSample[]): FlameNode {
  const root: FlameNode = { frame: { name: 'all', file: '', line: 0 }, selfNanos: 0, totalNanos: 0, children: [] };
  const childIndex = new Map<FlameNode, Map<CodeFrame, FlameNode>>();
  for (const sample of samples) {
    let node = root;
    node.totalNanos += sample.cpuNanos;
    for (let i = sample.stack.length - 1; i >= 0; i--) {
      const frame = sample.stack[i]!;
      let index = childIndex.get(node);
      if (index === undefined) {
        index = new Map();
        childIndex.set(node, index);
      }
      let child = index.get(frame);
      if (child === undefined) {
        child = { frame, selfNanos: 0, totalNanos: 0, children: [] };
        index.set(frame, child);
        node.children.push(child);
      }
      child.totalNanos += sample.cpuNanos;
      node = child;
    }
    node.selfNanos += sample.cpuNanos;
  }
  return root;
}

/**
 * One pprof profile of `samples`: sample types samples/count and cpu/nanoseconds, period
 * cpu/nanoseconds, the span labels kept, identical (stack, labels) samples merged.
 */
export function buildPprof(samples: readonly CpuSample[], periodNanos: number): Profile {
  const strings = new StringTable();
  const functions: PprofFunction[] = [];
  const locations: Location[] = [];
  const functionIds = new Map<string, number>();
  const locationIds = new Map<CodeFrame, number>();
  const locationOf = (frame: CodeFrame): number => {
    let id = locationIds.get(frame);
    if (id !== undefined) return id;
    const fnKey = `${frame.name}\0${frame.file}`;
    let functionId = functionIds.get(fnKey);
    if (functionId === undefined) {
      functionId = functions.length + 1;
      const name = strings.dedup(frame.name);
      functions.push(new PprofFunction({ id: functionId, name, systemName: name, filename: strings.dedup(frame.file) }));
      functionIds.set(fnKey, functionId);
    }
    id = locations.length + 1;
    locations.push(new Location({ id, line: [new Line({ functionId, line: frame.line })] }));
    locationIds.set(frame, id);
    return id;
  };
  const labelKeys = { span: strings.dedup(SPAN_ID_LABEL), trace: strings.dedup(TRACE_ID_LABEL), name: strings.dedup(SPAN_NAME_LABEL) };

  const merged = new Map<string, Sample>();
  let fromMs = Infinity;
  let untilMs = -Infinity;
  for (const s of samples) {
    fromMs = Math.min(fromMs, s.fromMs);
    untilMs = Math.max(untilMs, s.untilMs);
    const locationIdList = s.stack.map(locationOf);
    const key = `${locationIdList.join(',')}|${s.spanId ?? ''}|${s.traceId ?? ''}|${s.spanName ?? ''}`;
    const existing = merged.get(key);
    if (existing !== undefined) {
      existing.value[0] = Number(existing.value[0]) + s.count;
      existing.value[1] = Number(existing.value[1]) + s.cpuNanos;
      continue;
    }
    const label: Label[] = [];
    if (s.spanId !== undefined) label.push(new Label({ key: labelKeys.span, str: strings.dedup(s.spanId) }));
    if (s.traceId !== undefined) label.push(new Label({ key: labelKeys.trace, str: strings.dedup(s.traceId) }));
    if (s.spanName !== undefined) label.push(new Label({ key: labelKeys.name, str: strings.dedup(s.spanName) }));
    merged.set(key, new Sample({ locationId: locationIdList, value: [s.count, s.cpuNanos], label }));
  }

  const cpu = { type: strings.dedup(CPU_SAMPLE_TYPE.type), unit: strings.dedup(CPU_SAMPLE_TYPE.unit) };
  return new Profile({
    sampleType: [new ValueType({ type: strings.dedup(COUNT_SAMPLE_TYPE.type), unit: strings.dedup(COUNT_SAMPLE_TYPE.unit) }), new ValueType(cpu)],
    periodType: new ValueType(cpu),
    period: periodNanos,
    sample: [...merged.values()],
    location: locations,
    function: functions,
    stringTable: strings,
    timeNanos: Number.isFinite(fromMs) ? BigInt(Math.round(fromMs)) * 1_000_000n : 0,
    durationNanos: Number.isFinite(fromMs) ? BigInt(Math.round(untilMs - fromMs)) * 1_000_000n : 0,
  });
}

/** The gzipped protobuf of `profile`, as `go tool pprof`, speedscope and Pyroscope read it. */
export async function encodePprofGzip(profile: Profile): Promise<Buffer> {
  return gzip(profile.encode());
}

/** Groups samples by their `span_id` label (samples outside spans are left out). */
export function samplesBySpan(samples: readonly CpuSample[]): Map<string, CpuSample[]> {
  const groups = new Map<string, CpuSample[]>();
  for (const sample of samples) {
    if (sample.spanId === undefined) continue;
    let group = groups.get(sample.spanId);
    if (group === undefined) {
      group = [];
      groups.set(sample.spanId, group);
    }
    group.push(sample);
  }
  return groups;
}

/** Which part of a store {@link loadStoreCpu} analyzes. Times are Unix ms; overlapping spans/profiles count. */
export interface StoreCpuQuery {
  service?: string;
  fromMs?: number;
  untilMs?: number;
}

/** A store read and joined: everything report-like views need. */
export interface StoreCpu {
  /** The spans of the service (all times: a span is needed to name samples even when it began earlier), and the profiles in range. */
  contents: StoreContents;
  cpu: CpuSamples;
  spanIndex: SpanIndex;
  /** CPU per root span in range (a stored span overlapping it, or only known from samples in range), most first. */
  roots: RootSpanCpu[];
  /** Everything that could not be read, from the listing and the profiles. */
  problems: StoreProblem[];
}

/** Reads the store at `dir` and joins its CPU samples with its spans. Never rejects; see `problems`. */
export async function loadStoreCpu(dir: string, query: StoreCpuQuery = {}): Promise<StoreCpu> {
  const contents = await readStore(dir, { service: query.service, rootsOnly: true });
  const inRange = (fromMs: number, untilMs: number): boolean =>
    (query.fromMs === undefined || untilMs >= query.fromMs) && (query.untilMs === undefined || fromMs <= query.untilMs);
  contents.profiles = contents.profiles.filter((p) => inRange(p.fromMs, p.untilMs));
  const cpu = await loadCpuSamples(contents.profiles);
  const spanIndex = new SpanIndex(contents.spans);
  const roots = cpuByRootSpan(cpu.samples, spanIndex).filter((root) => root.span === undefined || inRange(root.span.startMs, root.span.endMs));
  return { contents, cpu, spanIndex, roots, problems: [...contents.problems, ...cpu.problems] };
}

/** Narrows a list of root spans; ids match by prefix (as typed from a shortened report column). */
export interface RootFilter {
  /** Exact span name. */
  name?: string;
  /** Lowercase hex prefix of the root span id. */
  spanPrefix?: string;
  /** Lowercase hex prefix of the trace id. */
  tracePrefix?: string;
}

/** The roots that pass every criterion of `filter`, order kept. */
export function matchRoots(roots: readonly RootSpanCpu[], filter: RootFilter): RootSpanCpu[] {
  return roots.filter(
    (r) =>
      (filter.name === undefined || r.name === filter.name) &&
      (filter.spanPrefix === undefined || r.spanId.startsWith(filter.spanPrefix)) &&
      (filter.tracePrefix === undefined || (r.traceId ?? '').startsWith(filter.tracePrefix)),
  );
}
