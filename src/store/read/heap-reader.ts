/**
 * Reads the heap profiles of the local store (`*.heap.pb.gz`, see ../layout.ts) for `report --heap` and
 * the view's heap flame graph.
 *
 * A heap profile is a snapshot (what was live when it was taken), not a count over its interval: adding
 * up two snapshots of one process would count the same objects twice. So for a time range we take, per
 * process, the last snapshot taken in it, and add those up across processes (each holds its own heap).
 * Never throws on bad content: unreadable files are listed in `problems`.
 */
import type { Profile } from 'pprof-format';
import { readProfileOrNote, readStore, type StoreFilter, type StoreProblem, type StoredProfileFile } from './reader';
import { heapColumns } from '../../profile-format';

/** A frame of a heap stack. */
export interface HeapFrame {
  name: string;
  file: string;
  line: number;
}

/** One distinct stack with what it holds live; frames leaf (the allocating function) first. */
export interface HeapStack {
  frames: HeapFrame[];
  bytes: number;
  objects: number;
}

/** Live memory by allocation site: the function that allocated it (the leaf frame). */
export interface HeapSite extends HeapFrame {
  bytes: number;
  objects: number;
}

/** A frame of the heap flame graph (root first); values in bytes. */
export interface HeapFlameNode extends HeapFrame {
  /** Bytes held by this frame and everything it called. */
  value: number;
  /** Bytes this frame allocated itself. */
  self: number;
  children: HeapFlameNode[];
}

export interface StoreHeap {
  /** The snapshots added up: the last of each process in the range. */
  snapshots: StoredProfileFile[];
  /** All heap files in the range, before taking the last per process. */
  filesInRange: number;
  /** Live bytes and objects (estimated from the samples, as V8 scales them). */
  bytes: number;
  objects: number;
  /** V8's sampling interval, bytes (the largest among the snapshots). */
  intervalBytes: number;
  stacks: HeapStack[];
  problems: StoreProblem[];
}

/** Reads the latest heap snapshot of each process in range (see the module comment). Never rejects. */
export async function loadStoreHeap(dir: string, filter: StoreFilter = {}): Promise<StoreHeap> {
  const contents = await readStore(dir, filter);
  const heapFiles = contents.profiles.filter((p) => p.kind === 'heap');
  const latest = new Map<string, StoredProfileFile>();
  for (const file of heapFiles) {
    const key = `${file.service}\0${file.pid}`;
    const seen = latest.get(key);
    if (seen === undefined || file.untilMs > seen.untilMs) latest.set(key, file);
  }
  const result: StoreHeap = {
    snapshots: [],
    filesInRange: heapFiles.length,
    bytes: 0,
    objects: 0,
    intervalBytes: 0,
    stacks: [],
    problems: [...contents.problems],
  };
  for (const file of [...latest.values()].sort((a, b) => a.service.localeCompare(b.service) || a.pid - b.pid)) {
    const profile = await readProfileOrNote(file.path, result.problems);
    if (profile === undefined) continue;
    result.snapshots.push(file);
    result.intervalBytes = Math.max(result.intervalBytes, Number(profile.period));
    addStacks(profile, result);
  }
  return result;
}

/** Adds a profile's samples to `into` (sample types `inuse_objects`/`inuse_space`, or pprof's `objects`/`space`). */
function addStacks(profile: Profile, into: StoreHeap): void {
  const strings = profile.stringTable.strings;
  const str = (i: unknown): string => strings[Number(i)] ?? '';
  const { space: spaceAt, objects: objectsAt } = heapColumns(profile);
  if (spaceAt < 0) return;
  const functions = new Map(profile.function.map((f) => [Number(f.id), f]));
  const frames = new Map<number, HeapFrame[]>();
  for (const location of profile.location) {
    frames.set(
      Number(location.id),
      location.line.map((line) => {
        const fn = functions.get(Number(line.functionId));
        return { name: fn ? str(fn.name) : '??', file: fn ? str(fn.filename) : '', line: Number(line.line) };
      }),
    );
  }
  for (const sample of profile.sample) {
    const bytes = Number(sample.value[spaceAt] ?? 0);
    const objects = objectsAt < 0 ? 0 : Number(sample.value[objectsAt] ?? 0);
    if (bytes <= 0 && objects <= 0) continue;
    into.stacks.push({ frames: sample.locationId.flatMap((id) => frames.get(Number(id)) ?? []), bytes, objects });
    into.bytes += bytes;
    into.objects += objects;
  }
}

const frameKey = (f: HeapFrame): string => `${f.name}\0${f.file}\0${f.line}`;

/** Live memory per allocation site, most bytes first. */
export function heapSites(heap: StoreHeap): HeapSite[] {
  const sites = new Map<string, HeapSite>();
  for (const stack of heap.stacks) {
    const leaf = stack.frames[0] ?? { name: '(unknown)', file: '', line: 0 };
    const key = frameKey(leaf);
    let site = sites.get(key);
    if (site === undefined) sites.set(key, (site = { ...leaf, bytes: 0, objects: 0 }));
    site.bytes += stack.bytes;
    site.objects += stack.objects;
  }
  return [...sites.values()].sort((a, b) => b.bytes - a.bytes || b.objects - a.objects);
}

/** The heap's stacks merged into a flame tree, root first; children heaviest first. */
export function heapFlameTree(heap: StoreHeap, rootName: string): HeapFlameNode {
  const root: HeapFlameNode = { name: rootName, file: '', line: 0, value: 0, self: 0, children: [] };
  const index = new Map<HeapFlameNode, Map<string, HeapFlameNode>>();
  for (const stack of heap.stacks) {
    root.value += stack.bytes;
    let node = root;
    for (let i = stack.frames.length - 1; i >= 0; i--) {
      const frame = stack.frames[i]!;
      let children = index.get(node);
      if (children === undefined) index.set(node, (children = new Map()));
      const key = frameKey(frame);
      let child = children.get(key);
      if (child === undefined) {
        child = { ...frame, value: 0, self: 0, children: [] };
        children.set(key, child);
        node.children.push(child);
      }
      child.value += stack.bytes;
      node = child;
    }
    node.self += stack.bytes;
  }
  const sort = (node: HeapFlameNode): void => {
    node.children.sort((a, b) => b.value - a.value);
    node.children.forEach(sort);
  };
  sort(root);
  return root;
}
