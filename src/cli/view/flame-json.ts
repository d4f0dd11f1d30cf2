/**
 * Flame trees as the page's flame graph library (d3-flame-graph) takes them: `{name, value, children}`
 * with `value` the total, plus what the hover shows (file, line, self). Frames too thin to ever be
 * seen are dropped here, so a large profile does not ship tens of thousands of invisible nodes.
 */

import type { CodeFrame, FlameNode } from '../../store/read/span-cpu';

/** Nodes below this share of the root are not sent (under one pixel on a 2,000 px wide graph). */
export const MIN_SHARE = 1 / 4000;

/** One frame of a flame graph; times in nanoseconds. */
export interface FlameJson {
  name: string;
  file: string;
  line: number;
  /** Total: the frame and everything it called. */
  value: number;
  self: number;
  children: FlameJson[];
}

/** One frame of a diff flame graph: widths are the larger of the two sides, colour is the change. */
export interface DiffFlameJson {
  name: string;
  file: string;
  line: number;
  /** Self value used for the width: max(selfA, selfB) (the graph runs in self-value mode). */
  value: number;
  /** selfB - selfA: d3-flame-graph sums it over the subtree for the colour. */
  delta: number;
  /** Totals and self values of each side, for the hover. */
  a: number;
  b: number;
  selfA: number;
  selfB: number;
  children: DiffFlameJson[];
}

/** Converts a flame tree; children heaviest first, nodes under {@link MIN_SHARE} of the root left out. */
export function toFlameJson(root: FlameNode, rootName: string): FlameJson {
  const min = root.totalNanos * MIN_SHARE;
  const convert = (node: FlameNode, name: string): FlameJson => ({
    name,
    file: node.frame.file,
    line: node.frame.line,
    value: node.totalNanos,
    self: node.selfNanos,
    children: node.children
      .filter((child) => child.totalNanos >= min && child.totalNanos > 0)
      .sort((x, y) => y.totalNanos - x.totalNanos)
      .map((child) => convert(child, child.frame.name)),
  });
  return convert(root, rootName);
}

/** Multiplies every value of a flame tree (to turn a sum over N spans into a per-span mean). */
export function scaleFlameTree(node: FlameNode, factor: number): FlameNode {
  return {
    frame: node.frame,
    selfNanos: node.selfNanos * factor,
    totalNanos: node.totalNanos * factor,
    children: node.children.map((child) => scaleFlameTree(child, factor)),
  };
}

const frameKey = (frame: CodeFrame): string => `${frame.name}\0${frame.file}\0${frame.line}`;

/**
 * Merges two flame trees (A, the baseline, and B) frame by frame along equal call paths. A frame
 * present on one side only gets 0 on the other.
 */
export function diffFlameJson(a: FlameNode | undefined, b: FlameNode | undefined, rootName: string): DiffFlameJson {
  const rootTotal = Math.max(a?.totalNanos ?? 0, b?.totalNanos ?? 0);
  const min = rootTotal * MIN_SHARE;
  const merge = (x: FlameNode | undefined, y: FlameNode | undefined, name: string): DiffFlameJson => {
    const frame = (x ?? y)!.frame;
    const children = new Map<string, { x?: FlameNode; y?: FlameNode }>();
    for (const child of x?.children ?? []) children.set(frameKey(child.frame), { x: child });
    for (const child of y?.children ?? []) {
      const key = frameKey(child.frame);
      const pair = children.get(key);
      if (pair === undefined) children.set(key, { y: child });
      else pair.y = child;
    }
    const selfA = x?.selfNanos ?? 0;
    const selfB = y?.selfNanos ?? 0;
    const kept: Array<{ x?: FlameNode; y?: FlameNode }> = [];
    // Widths come from self values here, so what is left out is added to its parent, not lost.
    let prunedWidth = 0;
    let prunedDelta = 0;
    for (const pair of children.values()) {
      const totalA = pair.x?.totalNanos ?? 0;
      const totalB = pair.y?.totalNanos ?? 0;
      if (Math.max(totalA, totalB) >= min) {
        kept.push(pair);
      } else {
        prunedWidth += Math.max(totalA, totalB);
        prunedDelta += totalB - totalA;
      }
    }
    const width = (pair: { x?: FlameNode; y?: FlameNode }): number => Math.max(pair.x?.totalNanos ?? 0, pair.y?.totalNanos ?? 0);
    return {
      name,
      file: frame.file,
      line: frame.line,
      value: Math.max(selfA, selfB) + prunedWidth,
      delta: selfB - selfA + prunedDelta,
      a: x?.totalNanos ?? 0,
      b: y?.totalNanos ?? 0,
      selfA,
      selfB,
      children: kept.sort((p, q) => width(q) - width(p)).map((pair) => merge(pair.x, pair.y, (pair.x ?? pair.y)!.frame.name)),
    };
  };
  const empty: FlameNode = { frame: { name: rootName, file: '', line: 0 }, selfNanos: 0, totalNanos: 0, children: [] };
  return merge(a ?? empty, b ?? empty, rootName);
}
