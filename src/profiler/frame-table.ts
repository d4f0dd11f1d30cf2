/**
 * The frames of a raw profile as @datadog/pprof's serializer makes them from V8's call-tree nodes, shared by
 * the CPU and heap cut builders: one location per script, line, column and name; one function per script
 * and name (per position when anonymous, named `(anonymous:L#line:C#column)` as pprof names it); `file://`
 * dropped from module URLs. Also the slice clock both builders walk their trees with.
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

/** The longest synchronous slice of a cut builder's walk, ms. */
export const DEFAULT_SLICE_MS = 1;

/** Resolves after the event loop has run its pending I/O callbacks once. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Cuts a synchronous walk into slices of at most about `sliceMs`: call {@link tick} with the work just done
 * (nodes, samples); it yields to the event loop when the slice has run its time.
 */
export class SliceClock {
  /** The longest slice so far, ms (for benchmarks). */
  longestMs = 0;
  private start = performance.now();
  private work = 0;

  /** @param workPerLook work between two looks at the clock */
  constructor(
    private readonly sliceMs: number,
    private readonly workPerLook = 64,
  ) {}

  /** Starts a slice (at the beginning of a walk). */
  begin(): void {
    this.start = performance.now();
    this.work = 0;
  }

  /** Undefined while the slice has time left; otherwise a promise of the next turn (await it). */
  tick(work: number): Promise<void> | undefined {
    this.work += work;
    if (this.work < this.workPerLook) return undefined;
    this.work = 0;
    const ran = performance.now() - this.start;
    if (ran < this.sliceMs) return undefined;
    if (ran > this.longestMs) this.longestMs = ran;
    return nextTurn().then(() => {
      this.start = performance.now();
    });
  }

  /** Ends the walk's last slice. */
  end(): void {
    const ran = performance.now() - this.start;
    if (ran > this.longestMs) this.longestMs = ran;
  }
}
