/**
 * Finds and reads the source map of one compiled file, asynchronously: the `sourceMappingURL` comment on
 * its last line (a relative path, a `file:` URL or an inline `data:` URL), else a `.map` file beside it
 * (`tsc --sourceMap` without the comment, some bundlers). Only the file's last 4 KiB is read unless its
 * last line is longer (an inline map).
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describeError } from '../logger';

/** The text of a map and where it lives (relative sources resolve against its directory). */
export interface MapText {
  readonly text: string;
  /** The map file, or the compiled file for an inline map. */
  readonly location: string;
}

/** Why a file has no map: `none` needs no word; the others are worth one debug line. */
export type MapLookup = { found: MapText } | { none: true } | { problem: string };

const TAIL_BYTES = 4096;
const LINE_BREAK = /\r\n|\n|\r|\u2028|\u2029/;
const ANNOTATION = /^\/\/[#@]\s*sourceMappingURL=(\S+)\s*$/;

/**
 * Reads the map of `file`, refusing any map (or compiled file carrying an inline map) over `maxBytes`.
 * Never throws: every failure is a `problem`.
 */
export async function readSourceMapOf(file: string, maxBytes: number): Promise<MapLookup> {
  let url: string | undefined;
  try {
    url = await readAnnotation(file, maxBytes);
  } catch (err) {
    return { problem: `could not read ${file}: ${errorText(err)}` };
  }
  let annotationProblem: string | undefined;
  if (url !== undefined) {
    if (url.startsWith('data:')) return decodeDataUrl(url, file);
    let mapFile: string;
    try {
      const resolved = new URL(url, pathToFileURL(file));
      if (resolved.protocol !== 'file:') return { problem: `${file} names its map at ${resolved.protocol} URL; only files and data: URLs are read` };
      mapFile = fileURLToPath(resolved);
    } catch {
      return { problem: `${file} names its map with a malformed URL` };
    }
    const read = await readLimited(mapFile, maxBytes);
    if (typeof read === 'string') return { found: { text: read, location: mapFile } };
    annotationProblem = `${file} names the map ${mapFile}, which ${read.problem}`;
  }
  // No comment, or the map it names is not there: a `.map` beside the file, as tsc writes it.
  const beside = `${file}.map`;
  const read = await readLimited(beside, maxBytes);
  if (typeof read === 'string') return { found: { text: read, location: beside } };
  if (annotationProblem !== undefined) return { problem: annotationProblem };
  if (read.missing) return { none: true };
  return { problem: `${beside} ${read.problem}` };
}

async function readLimited(file: string, maxBytes: number): Promise<string | { problem: string; missing: boolean }> {
  try {
    const stat = await fs.stat(file);
    if (!stat.isFile()) return { problem: 'is not a file', missing: false };
    if (stat.size > maxBytes) return { problem: `is ${mib(stat.size)}, over the ${mib(maxBytes)} a map may have`, missing: false };
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { problem: 'does not exist', missing: true };
    return { problem: `could not be read (${errorText(err)})`, missing: false };
  }
}

/** The URL of the file's `sourceMappingURL` comment (it must be on the last non-empty line, ECMA-426 §11.1.2). */
async function readAnnotation(file: string, maxBytes: number): Promise<string | undefined> {
  const handle = await fs.open(file, 'r');
  try {
    const { size } = await handle.stat();
    if (size === 0) return undefined;
    const tailSize = Math.min(TAIL_BYTES, size);
    const buffer = Buffer.allocUnsafe(tailSize);
    await handle.read(buffer, 0, tailSize, size - tailSize);
    const lines = buffer.toString('utf8').split(LINE_BREAK);
    let last = lines.length - 1;
    while (last > 0 && lines[last]!.trim() === '') last--;
    // The last line starts before the tail: a long inline map. Read the whole file (bounded).
    if (last === 0 && tailSize < size) {
      if (size > maxBytes * 2) return undefined;
      const whole = (await handle.readFile('utf8')).split(LINE_BREAK);
      let i = whole.length - 1;
      while (i > 0 && whole[i]!.trim() === '') i--;
      return annotationIn(whole[i]!);
    }
    return annotationIn(lines[last]!);
  } finally {
    await handle.close();
  }
}

function annotationIn(line: string): string | undefined {
  const trimmed = line.trim();
  const match = ANNOTATION.exec(trimmed);
  return match ? match[1] : undefined;
}

function decodeDataUrl(url: string, file: string): MapLookup {
  const comma = url.indexOf(',');
  if (comma < 0) return { problem: `${file} has an inline map with a malformed data: URL` };
  const meta = url.slice(5, comma);
  const payload = url.slice(comma + 1);
  try {
    const text = meta.split(';').includes('base64') ? Buffer.from(payload, 'base64').toString('utf8') : decodeURIComponent(payload);
    return { found: { text, location: file } };
  } catch (err) {
    return { problem: `${file} has an inline map that does not decode: ${errorText(err)}` };
  }
}

function errorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ?? describeError(err);
}

function mib(bytes: number): string {
  return `${Math.round((bytes / 1048576) * 10) / 10} MiB`;
}

/** Whether frames of `file` are worth mapping: the app's own compiled files, not Node's, not dependencies'. */
export function isMappableFile(file: string): boolean {
  return path.isAbsolute(file) && !file.includes(`${path.sep}node_modules${path.sep}`);
}
