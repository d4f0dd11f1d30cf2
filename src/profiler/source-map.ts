/**
 * A parsed source map (ECMA-426, version 3) kept in a compact form for the few lookups a profile needs.
 *
 * Why not the `source-map` package @datadog/pprof uses, or Node's `module.SourceMap`: both decode every
 * mapping into objects or arrays (tens of bytes per segment, hundreds of MB for a large bundle's map).
 * Here the `mappings` string itself is kept (one byte per character) with, per generated line, where the
 * line starts in it and the decoder state at that point (20 bytes a line). A lookup decodes one line's
 * segments, allocating nothing. Memory is about the size of the `mappings` text, and is reported by
 * {@link SourceMap.byteSize} so the cache can keep a budget.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeError } from '../logger';

/** Where a generated position came from. */
export interface OriginalPosition {
  /** The original file: an absolute path, or the source's URL when it is not a file (`webpack://...`). */
  readonly file: string;
  /** 1-based line in the original file. */
  readonly line: number;
  /** 1-based column in the original file. */
  readonly column: number;
  /** The original name at that position, when the map has one. */
  readonly name: string | undefined;
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BASE64_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < BASE64.length; i++) BASE64_VALUE[BASE64.charCodeAt(i)] = i;
const COMMA = 44;
const SEMICOLON = 59;

/** Per-line decoder state: source index, original line, original column, name index. */
const STATE_FIELDS = 4;

/**
 * Thrown for a map that cannot be used; the message says why (it becomes the one debug line).
 */
export class SourceMapError extends Error {}

export class SourceMap {
  private readonly mappings: string;
  /** Offset in `mappings` where each generated line starts; one more entry than lines. */
  private readonly lineStarts: Uint32Array;
  /** Decoder state at the start of each generated line, {@link STATE_FIELDS} per line. */
  private readonly lineStates: Int32Array;
  private readonly sources: string[];
  private readonly names: string[];

  /**
   * @param json the map's text (a `.map` file or a decoded data URL).
   * @param mapLocation the absolute path of the map file (or of the JS file for an inline map): relative
   *   sources resolve against its directory.
   * @throws SourceMapError when the text is not a usable version 3 map.
   */
  constructor(json: string, mapLocation: string) {
    // A map may start with the XSSI guard `)]}'` followed by a line break (ECMA-426 §9.1).
    const text = json.startsWith(")]}'") ? json.slice(json.indexOf('\n') + 1) : json;
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new SourceMapError(`not JSON (${describeError(err)})`);
    }
    if (typeof raw !== 'object' || raw === null) throw new SourceMapError('not a JSON object');
    const map = raw as Record<string, unknown>;
    if (Array.isArray(map.sections)) throw new SourceMapError('an index map (sections); only regular maps are read');
    if (map.version !== 3) throw new SourceMapError(`version ${String(map.version)}, not 3`);
    if (typeof map.mappings !== 'string') throw new SourceMapError('no "mappings" string');
    if (!Array.isArray(map.sources)) throw new SourceMapError('no "sources" array');
    const sourceRoot = typeof map.sourceRoot === 'string' ? map.sourceRoot : '';
    const baseDir = path.dirname(mapLocation);
    this.sources = map.sources.map((s) => resolveSource(typeof s === 'string' ? s : '', sourceRoot, baseDir));
    this.names = Array.isArray(map.names) ? map.names.map((n) => (typeof n === 'string' ? n : '')) : [];
    // Flatten so the kept string does not pin the whole JSON text it was parsed from.
    this.mappings = (' ' + map.mappings).slice(1);
    const { lineStarts, lineStates } = indexLines(this.mappings, this.sources.length, this.names.length);
    this.lineStarts = lineStarts;
    this.lineStates = lineStates;
  }

  /** Number of generated lines the map covers. */
  get lineCount(): number {
    return this.lineStarts.length - 1;
  }

  /** Approximate memory held, bytes. */
  get byteSize(): number {
    let strings = 0;
    for (const s of this.sources) strings += s.length;
    for (const n of this.names) strings += n.length;
    return this.mappings.length + this.lineStarts.byteLength + this.lineStates.byteLength + strings + 16 * (this.sources.length + this.names.length);
  }

  /**
   * The original position of a generated one: the last mapped segment of the line at or before the
   * column, else the line's first mapped segment (a function's start column can precede its first
   * segment). Undefined when the line has no mapped segment.
   *
   * @param line 1-based generated line.
   * @param column 1-based generated column; 0 when unknown (the line's first segment is used).
   */
  originalPositionFor(line: number, column: number): OriginalPosition | undefined {
    const index = line - 1;
    if (index < 0 || index >= this.lineCount) return undefined;
    const target = column - 1;
    const s = this.mappings;
    let pos = this.lineStarts[index]!;
    const end = this.lineStarts[index + 1]! - 1; // the ';' ending the line, or the end of the text
    const base = index * STATE_FIELDS;
    let source = this.lineStates[base]!;
    let origLine = this.lineStates[base + 1]!;
    let origColumn = this.lineStates[base + 2]!;
    let name = this.lineStates[base + 3]!;
    let genColumn = 0;
    let found = false;
    let bestSource = 0;
    let bestLine = 0;
    let bestColumn = 0;
    let bestName = -1;
    while (pos < end) {
      // One segment: 1, 4 or 5 VLQ fields.
      let fields = 0;
      let segmentName = -1;
      while (pos < end && s.charCodeAt(pos) !== COMMA) {
        pos = decodeVlq(s, pos);
        const value = vlqValue;
        switch (fields) {
          case 0: genColumn += value; break;
          case 1: source += value; break;
          case 2: origLine += value; break;
          case 3: origColumn += value; break;
          case 4: name += value; segmentName = name; break;
        }
        fields++;
      }
      pos++; // the comma
      if (fields < 4) continue; // a segment with no source: generated code that maps to nothing
      const past = target >= 0 && genColumn > target;
      if (past && found) break;
      found = true;
      bestSource = source;
      bestLine = origLine;
      bestColumn = origColumn;
      bestName = segmentName;
      if (past || target < 0) break;
    }
    if (!found) return undefined;
    const file = this.sources[bestSource];
    if (file === undefined || file === '') return undefined;
    return { file, line: bestLine + 1, column: bestColumn + 1, name: bestName >= 0 ? this.names[bestName] || undefined : undefined };
  }
}

/** The absolute path (or non-file URL) of one `sources` entry. */
function resolveSource(source: string, sourceRoot: string, baseDir: string): string {
  if (source === '') return '';
  const joined = sourceRoot === '' ? source : sourceRoot.endsWith('/') ? sourceRoot + source : `${sourceRoot}/${source}`;
  if (/^[a-z][a-z0-9+.-]*:/i.test(joined)) {
    if (joined.startsWith('file:')) {
      try {
        return fileURLToPath(joined);
      } catch {
        return joined;
      }
    }
    return joined; // webpack://, http://...: shown as the map names it, as Node does in stack traces
  }
  return path.resolve(baseDir, joined);
}

/** The value {@link decodeVlq} read last (a module variable, so a lookup allocates nothing). */
let vlqValue = 0;

/** Reads one base64 VLQ value at `pos` into {@link vlqValue}; returns the position after it. */
function decodeVlq(s: string, pos: number): number {
  let result = 0;
  let shift = 0;
  for (;;) {
    const code = s.charCodeAt(pos++);
    const digit = code < 128 ? BASE64_VALUE[code]! : -1;
    if (digit < 0) throw new SourceMapError(`bad character in "mappings" at offset ${pos - 1}`);
    result += (digit & 31) * 2 ** shift;
    shift += 5;
    if ((digit & 32) === 0) break;
    if (shift > 35) throw new SourceMapError(`a VLQ value in "mappings" is too long at offset ${pos - 1}`);
  }
  const magnitude = Math.floor(result / 2);
  vlqValue = result % 2 === 1 ? -magnitude : magnitude;
  return pos;
}

/**
 * One pass over `mappings`: where each line starts and the decoder state there. It validates as it goes
 * (a map with a bad character or an out-of-range index is refused whole) and, running over every
 * segment of possibly huge maps, decodes inline without allocating.
 */
function indexLines(s: string, sourceCount: number, nameCount: number): { lineStarts: Uint32Array; lineStates: Int32Array } {
  let lines = 1;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) === SEMICOLON) lines++;
  const lineStarts = new Uint32Array(lines + 1);
  const lineStates = new Int32Array(lines * STATE_FIELDS);
  let source = 0;
  let origLine = 0;
  let origColumn = 0;
  let name = 0;
  let line = 0;
  let field = 0;
  let value = 0;
  let shift = 0;
  lineStarts[0] = 0;
  for (let pos = 0; pos < s.length; pos++) {
    const code = s.charCodeAt(pos);
    if (code === SEMICOLON || code === COMMA) {
      if (shift !== 0) throw new SourceMapError(`a VLQ value in "mappings" ends early at offset ${pos}`);
      if (field !== 0 && field !== 1 && field !== 4 && field !== 5) throw new SourceMapError(`a segment with ${field} fields at offset ${pos}`);
      field = 0;
      if (code === SEMICOLON) {
        line++;
        lineStarts[line] = pos + 1;
        const base = line * STATE_FIELDS;
        lineStates[base] = source;
        lineStates[base + 1] = origLine;
        lineStates[base + 2] = origColumn;
        lineStates[base + 3] = name;
      }
      continue;
    }
    const digit = code < 128 ? BASE64_VALUE[code]! : -1;
    if (digit < 0) throw new SourceMapError(`bad character ${JSON.stringify(s[pos])} in "mappings" at offset ${pos}`);
    value += (digit & 31) * 2 ** shift;
    if ((digit & 32) !== 0) {
      shift += 5;
      if (shift > 35) throw new SourceMapError(`a VLQ value in "mappings" is too long at offset ${pos}`);
      continue;
    }
    const delta = value % 2 === 1 ? -Math.floor(value / 2) : Math.floor(value / 2);
    value = 0;
    shift = 0;
    switch (field) {
      case 1:
        source += delta;
        if (source < 0 || source >= sourceCount) throw new SourceMapError(`source index ${source} out of range at offset ${pos}`);
        break;
      case 2: origLine += delta; break;
      case 3: origColumn += delta; break;
      case 4:
        name += delta;
        if (name < 0 || name >= nameCount) throw new SourceMapError(`name index ${name} out of range at offset ${pos}`);
        break;
    }
    field++;
  }
  if (shift !== 0) throw new SourceMapError('"mappings" ends inside a VLQ value');
  lineStarts[lines] = s.length + 1;
  return { lineStarts, lineStates };
}
