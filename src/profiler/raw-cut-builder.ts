/**
 * Turns the sampler's stopped profiles (pprof's native result: V8's call tree with each node's sample
 * contexts) into the raw cut, a pprof-format `Profile`, the way @datadog/pprof's `serializeTimeProfile`
 * does, but a slice at a time: the walk yields to the event loop whenever a slice has run for its budget,
 * so requests are served between slices instead of after the whole profile. pprof's own serializer runs in
 * one synchronous piece inside `time.stop()`, which was most of the cut's event-loop stall.
 *
 * One builder per cut; several stopped profiles (pieces of the interval) can be added to it and come out as
 * one profile. What each sample carries is pprof's:
 * - `(program)` is dropped; `(idle)` is dropped when it has no contexts and gets no wall time otherwise;
 *   `(garbage collector)` becomes `Node.js` > `Garbage Collection`, beside `Node.js` > `Non JS threads activity`
 *   (the CPU of the process's other threads, no ticks);
 * - a context with labels is a sample of its own, `[1, period, cpu]`; the rest of a node's ticks and CPU make
 *   one unlabelled sample;
 * - the period is the interval's length over its ticks, kept between one and two sampling intervals;
 * - locations are deduplicated by script, line, column and name; functions by script and name.
 */
import { Label, Profile, Sample, ValueType, type StringTable } from 'pprof-format';
import { SliceClock } from '../slice-clock';
import { DEFAULT_SLICE_MS, FrameTable, type FrameNode } from './frame-table';
import { CPU_SAMPLE_TYPE, WALL_SAMPLE_TYPE } from '../profile-format';

/** One sample's context as pprof's native stop returns it. */
export interface TimeSampleContext {
  context?: unknown;
  /** Microseconds since the Unix epoch. */
  timestamp?: bigint;
  /** Thread CPU since the previous sample, nanoseconds. */
  cpuTime?: number;
}

/** A node of V8's call tree as pprof's native stop returns it. */
export interface TimeTreeNode extends FrameNode {
  hitCount: number;
  children: TimeTreeNode[];
  contexts?: TimeSampleContext[];
}

/** pprof's native stop result (its `TimeProfile`). Times in microseconds. */
export interface TimeTree {
  startTime: number;
  endTime: number;
  topDownRoot: TimeTreeNode;
  hasCpuTime?: boolean;
  nonJSThreadsCpuTime?: number;
  totalHitCount?: number;
}

/** Labels of the sample taken in `context` at `timeNanos`: a set shared by many samples (cached by identity). */
export type SampleLabelsOf = (context: TimeSampleContext, timeNanos: number | undefined) => Readonly<Record<string, unknown>>;

export interface RawCutBuilderOptions {
  /** The requested sampling interval. */
  intervalMicros: number;
  labelsOf: SampleLabelsOf;
  /** Numeric label each labelled sample gets with its time (Unix ns); none when undefined. */
  timeLabel?: string;
  /** Keep each frame's column in `Line.column` (the symbolizer maps with it). */
  keepColumns: boolean;
  /** Longest synchronous slice of work, ms. */
  sliceMs?: number;
}

const GC_NODE = '(garbage collector)';
const IDLE_NODE = '(idle)';
const PROGRAM_NODE = '(program)';
export const GARBAGE_COLLECTION_FRAME = 'Garbage Collection';
export const NON_JS_THREADS_FRAME = 'Non JS threads activity';
const RUNTIME_FRAME = 'Node.js';


const NO_LABELS: Label[] = [];

function syntheticNode(name: string, children: TimeTreeNode[], contexts?: TimeSampleContext[]): TimeTreeNode {
  return { name, scriptName: '', scriptId: 0, lineNumber: 0, columnNumber: 0, hitCount: 0, children, contexts };
}

function totalHits(node: TimeTreeNode): number {
  let sum = 0;
  const todo = [node];
  for (let n = todo.pop(); n !== undefined; n = todo.pop()) {
    sum += n.hitCount;
    for (const child of n.children) todo.push(child);
  }
  return sum;
}

export class RawCutBuilder {
  private readonly frames: FrameTable;
  private readonly strings: StringTable;
  private readonly samples: Sample[] = [];
  /** Label arrays built once per shared label set. */
  private readonly labelCache = new Map<object, Label[]>();
  /** Samples whose wall value is ticks until {@link finish} turns it into nanoseconds. */
  private readonly timedSamples: Sample[] = [];
  private readonly clock: SliceClock;
  private readonly timeKey: number;
  private hasCpuTime: boolean | undefined;
  private micros = 0;
  private hits = 0;
  private pieces = 0;

  constructor(private readonly options: RawCutBuilderOptions) {
    this.frames = new FrameTable(options.keepColumns);
    this.strings = this.frames.strings;
    this.clock = new SliceClock(options.sliceMs ?? DEFAULT_SLICE_MS);
    this.timeKey = options.timeLabel === undefined ? -1 : this.strings.dedup(options.timeLabel);
  }

  /** Stopped profiles added so far. */
  get pieceCount(): number {
    return this.pieces;
  }

  /** The longest synchronous slice so far, ms (for benchmarks). */
  get longestSliceMs(): number {
    return this.clock.longestMs;
  }

  /** Samples so far. */
  get sampleCount(): number {
    return this.samples.length;
  }

  /**
   * Adds one stopped profile. Runs in slices of at most about `sliceMs`, yielding to the event loop
   * between them. Pieces must be added one after another (await each).
   */
  async add(tree: TimeTree): Promise<void> {
    this.pieces++;
    this.hasCpuTime ??= tree.hasCpuTime === true;
    const hasCpu = this.hasCpuTime;
    this.micros += Math.max(0, tree.endTime - tree.startTime);
    // The period counts every tick, the dropped nodes' too; summed during the walk unless pprof gives it.
    const countHits = tree.totalHitCount === undefined;
    if (!countHits) this.hits += tree.totalHitCount!;
    else this.hits += tree.topDownRoot.hitCount;

    // The top level as pprof rearranges it (see the file comment).
    const top: TimeTreeNode[] = [];
    let runtime: TimeTreeNode | undefined;
    const runtimeChildren = (): TimeTreeNode[] => {
      if (runtime === undefined) top.push((runtime = syntheticNode(RUNTIME_FRAME, [])));
      return runtime.children;
    };
    for (const child of tree.topDownRoot.children) {
      const dropped = child.name === PROGRAM_NODE || (child.name === IDLE_NODE && child.contexts?.length === 0);
      if (dropped) {
        if (countHits) this.hits += totalHits(child);
        continue;
      }
      if (child.name === GC_NODE) runtimeChildren().push({ ...child, name: GARBAGE_COLLECTION_FRAME });
      else top.push(child);
    }
    if (hasCpu && tree.nonJSThreadsCpuTime) {
      runtimeChildren().push(syntheticNode(NON_JS_THREADS_FRAME, [], [{ context: {}, timestamp: 0n, cpuTime: tree.nonJSThreadsCpuTime }]));
    }

    const nodes: TimeTreeNode[] = [];
    const stacks: number[][] = [];
    for (const node of top) {
      nodes.push(node);
      stacks.push([]);
    }
    this.clock.begin();
    while (nodes.length > 0) {
      const node = nodes.pop()!;
      const parentStack = stacks.pop()!;
      if (countHits) this.hits += node.hitCount;
      const stack = [this.frames.locationOf(node), ...parentStack];
      this.addSamples(node, stack, hasCpu);
      for (const child of node.children) {
        nodes.push(child);
        stacks.push(stack);
      }
      const yielded = this.clock.tick(1 + (node.contexts?.length ?? 0));
      if (yielded !== undefined) await yielded;
    }
    this.clock.end();
  }

  /** The cut: every piece added so far as one profile. */
  finish(): Profile {
    let intervalMicros = this.options.intervalMicros;
    if (this.hits > 0) {
      intervalMicros = Math.min(Math.max(Math.floor(this.micros / this.hits), intervalMicros), 2 * intervalMicros);
    }
    const intervalNanos = intervalMicros * 1000;
    for (const sample of this.timedSamples) sample.value[1] = (sample.value[1] as number) * intervalNanos;
    this.timedSamples.length = 0;
    const strings = this.strings;
    const valueType = (type: string, unit: string) => new ValueType({ type: strings.dedup(type), unit: strings.dedup(unit) });
    const wall = valueType(WALL_SAMPLE_TYPE.type, WALL_SAMPLE_TYPE.unit);
    // pprof's raw count column is `sample/count` (the agent's built profiles say `samples/count`).
    const sampleType = [valueType('sample', 'count'), wall];
    if (this.hasCpuTime === true) sampleType.push(valueType(CPU_SAMPLE_TYPE.type, CPU_SAMPLE_TYPE.unit));
    return new Profile({
      sampleType,
      timeNanos: Date.now() * 1000 * 1000,
      durationNanos: this.micros * 1000,
      periodType: wall,
      period: intervalNanos,
      sample: this.samples,
      location: this.frames.locations,
      function: this.frames.functions,
      stringTable: strings,
    });
  }

  private addSamples(node: TimeTreeNode, stack: number[], hasCpu: boolean): void {
    let unlabelledHits = node.hitCount;
    let unlabelledCpu = 0;
    const isIdle = node.name === IDLE_NODE;
    const contexts = node.contexts;
    if (contexts !== undefined) {
      for (const context of contexts) {
        const time = context.timestamp === undefined ? undefined : Number(context.timestamp) * 1000;
        const labels = this.labelsFor(context, time);
        if (labels.length > 0) {
          const ticks = unlabelledHits > 0 ? 1 : 0;
          const value = [ticks, isIdle ? 0 : ticks];
          if (hasCpu) value.push(context.cpuTime ?? 0);
          const sample = new Sample({ locationId: stack, value, label: labels });
          this.samples.push(sample);
          if (ticks > 0 && !isIdle) this.timedSamples.push(sample);
          unlabelledHits--;
        } else if (hasCpu) {
          unlabelledCpu += context.cpuTime ?? 0;
        }
      }
    }
    if ((!isIdle && unlabelledHits > 0) || unlabelledCpu > 0) {
      const ticks = Math.max(0, unlabelledHits);
      const value = [ticks, isIdle ? 0 : ticks];
      if (hasCpu) value.push(unlabelledCpu);
      const sample = new Sample({ locationId: stack, value, label: [] });
      this.samples.push(sample);
      if (ticks > 0 && !isIdle) this.timedSamples.push(sample);
    }
  }

  /** A fresh label array for one sample: the shared set's labels, then its time. */
  private labelsFor(context: TimeSampleContext, time: number | undefined): Label[] {
    const set = this.options.labelsOf(context, time);
    let shared = this.labelCache.get(set);
    if (shared === undefined) {
      shared = this.buildLabels(set);
      this.labelCache.set(set, shared);
    }
    if (time === undefined || this.timeKey < 0) return shared.length === 0 ? NO_LABELS : shared.slice();
    const labels = shared.slice();
    labels.push(new Label({ key: this.timeKey, num: time }));
    return labels;
  }

  private buildLabels(set: Readonly<Record<string, unknown>>): Label[] {
    const labels: Label[] = [];
    for (const key in set) {
      const value = set[key];
      if (typeof value === 'string') labels.push(new Label({ key: this.strings.dedup(key), str: this.strings.dedup(value) }));
      else if (typeof value === 'number' || typeof value === 'bigint') labels.push(new Label({ key: this.strings.dedup(key), num: value }));
    }
    return labels;
  }

}
