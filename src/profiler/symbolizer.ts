/**
 * The symbolization step: rewrites a raw profile's frames from compiled JavaScript (`dist/app.js:120`) to
 * the original source the source map names (`src/app.ts:87`, the original function name when the map
 * has one), before any destination sees the profile.
 *
 * Lazy and off the request path: nothing is read at start-up. When a profile is cut, the compiled files
 * its frames name are looked at for the first time, asynchronously, one map at a time; what a lookup
 * finds is cached per position, so later cuts only read maps for positions never seen before. Memory is
 * bounded: parsed maps are kept within a byte budget (least recently used dropped first and re-read if
 * needed again), and the position cache is capped. A missing, unreadable or broken map leaves the compiled
 * location, with one debug line per file.
 *
 * Why not @datadog/pprof's SourceMapper: it walks whole directory trees and parses every map it finds
 * when created, keeps all of them (as `source-map` consumers, which decode every segment into objects)
 * for the life of the process, and is consulted synchronously inside `time.stop()`.
 */
import { Function as PprofFunction, type Line, type Profile } from 'pprof-format';
import { describeError, getLogger } from '../logger';
import { isMappableFile, readSourceMapOf } from './source-map-files';
import { SourceMap, SourceMapError, type OriginalPosition } from './source-map';

export interface SymbolizerOptions {
  /** Budget for parsed maps kept between cuts, bytes. */
  readonly maxMapBytes?: number;
  /** Largest map file (or compiled file with an inline map) read, bytes. */
  readonly maxMapFileBytes?: number;
  /** Most positions remembered; the cache starts over beyond it. */
  readonly maxPositions?: number;
}

/** Counters for diagnostics and tests. */
export interface SymbolizerStats {
  mapsRead: number;
  mapsEvicted: number;
  /** Files whose map was missing where named, unreadable or broken. */
  mapsRejected: number;
  framesMapped: number;
  /** Frames whose file has no usable map or whose position the map does not cover. */
  framesUnmapped: number;
  /** Bytes of parsed maps held now. */
  mapBytes: number;
}

export const DEFAULT_MAX_MAP_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_MAP_FILE_BYTES = 256 * 1024 * 1024;
const DEFAULT_MAX_POSITIONS = 200_000;
/** Files known to have no usable map, remembered up to this many. */
const MAX_NO_MAP_FILES = 100_000;
/** pprof's marker for frames whose map was "missing"; it is how we ask it for columns (see below). */
const MISSING_MAP_COMMENT = 'dd:has-missing-map-files';

/** One number per generated position: column * 2^21 + line (exact for lines below 2^21 and columns below 2^32). */
function positionKey(line: number, column: number): number {
  return column * 2 ** 21 + line;
}

interface PprofLocation {
  file: string;
  line: number;
  column: number;
  name: string;
}

/** pprof names an anonymous function by its compiled position; name it by its original one instead. */
const ANONYMOUS_AT = /^\(anonymous:L#\d+(?::C#\d+)?\)$/;

function originalName(compiledName: string, original: OriginalPosition): string {
  return ANONYMOUS_AT.test(compiledName) ? `(anonymous:L#${original.line}:C#${original.column})` : compiledName;
}

export class Symbolizer {
  readonly stats: SymbolizerStats = { mapsRead: 0, mapsEvicted: 0, mapsRejected: 0, framesMapped: 0, framesUnmapped: 0, mapBytes: 0 };
  /** Parsed maps, least recently used first. */
  private readonly maps = new Map<string, SourceMap>();
  private readonly noMap = new Set<string>();
  /** Per compiled file: what each position resolved to (null: the map does not cover it). */
  private readonly positions = new Map<string, Map<number, OriginalPosition | null>>();
  private positionCount = 0;
  private readonly maxMapBytes: number;
  private readonly maxMapFileBytes: number;
  private readonly maxPositions: number;

  constructor(options: SymbolizerOptions = {}) {
    this.maxMapBytes = options.maxMapBytes ?? DEFAULT_MAX_MAP_BYTES;
    this.maxMapFileBytes = options.maxMapFileBytes ?? DEFAULT_MAX_MAP_FILE_BYTES;
    this.maxPositions = options.maxPositions ?? DEFAULT_MAX_POSITIONS;
  }

  /**
   * The `sourceMapper` for @datadog/pprof's serializer. It maps nothing: it marks each frame as having a
   * missing map, which with `columnNumbers: 'emit'` makes pprof keep the frame's column in `Line.column`
   * (dropped otherwise). {@link symbolize} then maps with line and column, off `time.stop()`.
   */
  readonly columnKeeper = {
    mappingInfo: (location: PprofLocation): PprofLocation & { missingMapFile: boolean } => ({ ...location, missingMapFile: true }),
  };

  /**
   * Rewrites `profile`'s frames in place to their original locations. Reads the maps it lacks until
   * `deadline` (a `Date.now()` value); frames of maps not read by then keep their compiled location.
   * Never throws.
   */
  async symbolize(profile: Profile, deadline = Infinity): Promise<void> {
    try {
      await this.rewrite(profile, deadline);
    } catch (err) {
      getLogger().debug(`source maps: could not map a profile's frames: ${describeError(err)}`);
    }
  }

  private async rewrite(profile: Profile, deadline: number): Promise<void> {
    const strings = profile.stringTable;
    const functions = new Map<number, PprofFunction>();
    let nextFunctionId = 1;
    for (const fn of profile.function) {
      functions.set(Number(fn.id), fn);
      nextFunctionId = Math.max(nextFunctionId, Number(fn.id) + 1);
    }
    // Lines to map, by compiled file.
    const byFile = new Map<string, { line: Line; fn: PprofFunction }[]>();
    for (const location of profile.location) {
      for (const line of location.line) {
        const fn = functions.get(Number(line.functionId));
        const file = fn === undefined ? '' : strings.strings[Number(fn.filename)] ?? '';
        if (fn !== undefined && Number(line.line) > 0 && isMappableFile(file) && !this.noMap.has(file)) {
          let lines = byFile.get(file);
          if (lines === undefined) byFile.set(file, (lines = []));
          lines.push({ line, fn });
        } else {
          line.column = 0;
          if (fn !== undefined && Number(line.line) > 0) this.stats.framesUnmapped++;
        }
      }
    }
    const mapped = new Map<string, PprofFunction>();
    const functionFor = (name: number, file: string): PprofFunction => {
      const fileId = strings.dedup(file);
      const key = `${name}\u0000${fileId}`;
      let fn = mapped.get(key);
      if (fn === undefined) {
        fn = new PprofFunction({ id: nextFunctionId++, name, systemName: name, filename: fileId });
        mapped.set(key, fn);
        profile.function.push(fn);
      }
      return fn;
    };
    for (const [file, lines] of byFile) {
      const known = this.knownPositions(file);
      let map: SourceMap | undefined | null; // null: could not be had
      for (const { line, fn } of lines) {
        const key = positionKey(Number(line.line), Number(line.column));
        let original = known.get(key);
        if (original === undefined) {
          if (map === undefined) map = Date.now() < deadline ? await this.mapOf(file) : null;
          if (map !== null) {
            original = map.originalPositionFor(Number(line.line), Number(line.column));
            this.remember(file, known, key, original ?? null);
          }
        }
        line.column = 0;
        if (original === undefined || original === null) {
          this.stats.framesUnmapped++;
          continue;
        }
        const name = strings.dedup(original.name ?? originalName(strings.strings[Number(fn.name)] ?? '', original));
        line.functionId = functionFor(name, original.file).id;
        line.line = original.line;
        this.stats.framesMapped++;
      }
    }
    const missingComment = strings.strings.indexOf(MISSING_MAP_COMMENT);
    if (missingComment >= 0) profile.comment = profile.comment.filter((c) => Number(c) !== missingComment);
  }

  private knownPositions(file: string): Map<number, OriginalPosition | null> {
    let known = this.positions.get(file);
    if (known === undefined) this.positions.set(file, (known = new Map()));
    return known;
  }

  private remember(file: string, known: Map<number, OriginalPosition | null>, key: number, original: OriginalPosition | null): void {
    if (this.positionCount >= this.maxPositions) {
      this.positions.clear();
      this.positionCount = 0;
      this.positions.set(file, known);
      known.clear();
    }
    known.set(key, original);
    this.positionCount++;
  }

  /** The parsed map of `file`, reading it if it is not held; null when there is none to be had. */
  private async mapOf(file: string): Promise<SourceMap | null> {
    const held = this.maps.get(file);
    if (held !== undefined) {
      this.maps.delete(file);
      this.maps.set(file, held); // most recently used
      return held;
    }
    const lookup = await readSourceMapOf(file, this.maxMapFileBytes);
    if ('none' in lookup) return this.noMapFor(file);
    if ('problem' in lookup) return this.reject(file, lookup.problem);
    let map: SourceMap;
    try {
      map = new SourceMap(lookup.found.text, lookup.found.location);
    } catch (err) {
      const why = err instanceof SourceMapError ? err.message : describeError(err);
      return this.reject(file, `the map of ${file} (${lookup.found.location}) is not usable: ${why}`);
    }
    const size = map.byteSize;
    if (size > this.maxMapBytes) {
      return this.reject(file, `the map of ${file} needs ${size} bytes parsed, over the ${this.maxMapBytes}-byte budget for maps`);
    }
    this.stats.mapsRead++;
    this.maps.set(file, map);
    this.stats.mapBytes += size;
    for (const [oldest, old] of this.maps) {
      if (this.stats.mapBytes <= this.maxMapBytes) break;
      this.maps.delete(oldest);
      this.stats.mapBytes -= old.byteSize;
      this.stats.mapsEvicted++;
    }
    return map;
  }

  private reject(file: string, problem: string): null {
    this.stats.mapsRejected++;
    getLogger().debug(`source maps: ${problem}; its frames keep the compiled location`);
    return this.noMapFor(file);
  }

  private noMapFor(file: string): null {
    if (this.noMap.size >= MAX_NO_MAP_FILES) this.noMap.clear();
    this.noMap.add(file);
    return null;
  }
}
