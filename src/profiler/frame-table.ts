/**
 * The frames of a raw profile as @datadog/pprof's serializer makes them from V8's call-tree nodes, shared by
 * the CPU and heap cut builders: one location per script, line, column and name; one function per script
 * and name (per position when anonymous, named `(anonymous:L#line:C#column)` as pprof names it); `file://`
 * dropped from module URLs. Also how long a slice of their walk may run.
 */
import { Function as PprofFunction, Line, Location, StringTable } from 'pprof-format';

/** What a V8 call-tree node says about its frame. */
export interface FrameNode {
  name?: string;
  scriptName: string;
  scriptId?: number;
  lineNumber?: number;
  columnNumber?: number;
}

export class FrameTable {
  readonly strings = new StringTable();
  readonly locations: Location[] = [];
  readonly functions: PprofFunction[] = [];
  private readonly locationIds = new Map<string, number>();
  private readonly functionIds = new Map<string, number>();

  /** @param keepColumns keep each frame's column in `Line.column` (the symbolizer maps with it). */
  constructor(private readonly keepColumns: boolean) {}

  /** The id of `node`'s location, added on first sight. */
  locationOf(node: FrameNode): number {
    const scriptName = node.scriptName.startsWith('file://') ? node.scriptName.slice(7) : node.scriptName;
    const line = node.lineNumber ?? 0;
    const column = node.columnNumber;
    const name = node.name ?? '';
    const key = `${node.scriptId}:${line}:${column}:${name}`;
    let id = this.locationIds.get(key);
    if (id !== undefined) return id;
    id = this.locations.length + 1;
    this.locationIds.set(key, id);
    const keepColumn = this.keepColumns && column !== undefined && line > 0;
    const functionId = this.functionOf(node.scriptId, name, line, column, scriptName);
    this.locations.push(new Location({ id, line: [new Line({ functionId, line, column: keepColumn ? column : undefined })] }));
    return id;
  }

  private functionOf(scriptId: number | undefined, name: string, line: number, column: number | undefined, file: string): number {
    const key = name ? `${scriptId}:${name}` : `${scriptId}:${line}:${column}`;
    let id = this.functionIds.get(key);
    if (id !== undefined) return id;
    id = this.functions.length + 1;
    this.functionIds.set(key, id);
    let shown = name;
    if (!shown) shown = line ? (column ? `(anonymous:L#${line}:C#${column})` : `(anonymous:L#${line})`) : '(anonymous)';
    const nameId = this.strings.dedup(shown);
    this.functions.push(new PprofFunction({ id, name: nameId, systemName: nameId, filename: this.strings.dedup(file) }));
    return id;
  }
}

/**
 * The longest synchronous slice of a cut builder's walk, ms. A turn that holds one also serves the requests
 * that arrived meanwhile; at 1 ms the two made the longest turns at a cut (bench/ab/cut-stall.mjs).
 */
export const DEFAULT_SLICE_MS = 0.5;

