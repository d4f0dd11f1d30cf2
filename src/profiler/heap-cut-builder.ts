/**
 * Turns V8's sampled live heap (pprof's `heap.v8Profile()`: the allocation tree, as JavaScript objects) into the
 * raw heap cut the way @datadog/pprof's `heap.profile()` serializes it, but a slice at a time, so the walk does
 * not hold the event loop for the whole tree. What the cut holds is pprof's: one sample per allocation size of
 * a node, `[count, count x size]` as `inuse_objects/count`, `inuse_space/bytes`; the process's external memory
 * as one `(external)` frame; the period the sampling interval in bytes.
 */
import { Profile, Sample, ValueType } from 'pprof-format';
import { SliceClock } from '../slice-clock';
import { DEFAULT_SLICE_MS, FrameTable, type FrameNode } from './frame-table';

/** A node of V8's allocation tree as pprof returns it. */
export interface HeapTreeNode extends FrameNode {
  children: HeapTreeNode[];
  allocations: Array<{ sizeBytes: number; count: number }>;
}

export interface HeapCutOptions {
  /** V8's sampling interval, bytes (the profile's period). */
  intervalBytes: number;
  /** Bytes of external memory (`process.memoryUsage().external`) when the tree was taken. */
  externalBytes: number;
  /** Keep each frame's column in `Line.column` (the symbolizer maps with it). */
  keepColumns: boolean;
  /** Longest synchronous slice, ms. */
  sliceMs?: number;
}

/** The raw heap cut of `root`; yields to the event loop between slices. */
export async function buildHeapCut(root: HeapTreeNode, options: HeapCutOptions): Promise<Profile> {
  const timeNanos = Date.now() * 1000 * 1000;
  const frames = new FrameTable(options.keepColumns);
  const strings = frames.strings;
  const valueType = (type: string, unit: string) => new ValueType({ type: strings.dedup(type), unit: strings.dedup(unit) });
  const sampleType = [valueType('inuse_objects', 'count'), valueType('inuse_space', 'bytes')];
  const top = options.externalBytes > 0
    ? [...root.children, { name: '(external)', scriptName: '', children: [], allocations: [{ sizeBytes: options.externalBytes, count: 1 }] }]
    : root.children;
  const samples: Sample[] = [];
  const nodes: HeapTreeNode[] = [...top];
  const stacks: number[][] = top.map(() => []);
  const clock = new SliceClock(options.sliceMs ?? DEFAULT_SLICE_MS);
  clock.begin();
  while (nodes.length > 0) {
    const node = nodes.pop()!;
    const stack = [frames.locationOf(node), ...stacks.pop()!];
    if (node.allocations.length > 0) {
      const label: never[] = [];
      for (const allocation of node.allocations) {
        samples.push(new Sample({ locationId: stack, value: [allocation.count, allocation.sizeBytes * allocation.count], label }));
      }
    }
    for (const child of node.children) {
      nodes.push(child);
      stacks.push(stack);
    }
    const yielded = clock.tick(1 + node.allocations.length);
    if (yielded !== undefined) await yielded;
  }
  clock.end();
  return new Profile({
    sampleType,
    timeNanos,
    periodType: sampleType[1],
    period: options.intervalBytes,
    sample: samples,
    location: frames.locations,
    function: frames.functions,
    stringTable: strings,
  });
}
