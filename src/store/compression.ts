/**
 * The store's compression: zstd (Node 22.15+), each written batch one frame, so a file is a plain
 * concatenation of frames that `zstd -dc` (or `zstdcat`) turns back into the OTLP/JSON lines the
 * OpenTelemetry Collector's file exporter writes. Compression runs on libuv's thread pool: the app's
 * event loop never waits for it. Reading is tolerant: a last frame still being written (or cut short)
 * yields what could be decompressed, and the caller keeps only whole lines.
 */

import { promisify } from 'node:util';
import * as zlib from 'node:zlib';

type ZstdZlib = typeof zlib & {
  zstdCompress?: (buf: Buffer, options: object, cb: (error: Error | null, result: Buffer) => void) => void;
  zstdDecompress?: (buf: Buffer, options: object, cb: (error: Error | null, result: Buffer) => void) => void;
};
const z = zlib as ZstdZlib;

/** The suffix of compressed store files. */
export const COMPRESSED_SUFFIX = '.zst';

/** Whether this Node has zstd (22.15 and later do). */
export const zstdAvailable = typeof z.zstdCompress === 'function' && typeof z.zstdDecompress === 'function';

const zstdCompress = zstdAvailable ? promisify(z.zstdCompress!) : undefined;
const zstdDecompress = zstdAvailable ? promisify(z.zstdDecompress!) : undefined;
const gzip = promisify(zlib.gzip);

/**
 * One compressed frame of `data`: zstd when available, else a gzip member (also concatenable; the
 * reader tells them apart by their magic bytes).
 */
export async function compressFrame(data: Buffer): Promise<Buffer> {
  if (zstdCompress !== undefined) return zstdCompress(data, {});
  return gzip(data);
}

/** True for the first bytes of a zstd frame. */
function isZstd(data: Buffer): boolean {
  return data.length >= 4 && data[0] === 0x28 && data[1] === 0xb5 && data[2] === 0x2f && data[3] === 0xfd;
}

function isGzip(data: Buffer): boolean {
  return data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b;
}

/**
 * Splits concatenated zstd frames (RFC 8878: header, blocks, optional checksum; skippable frames
 * dropped). Node's zstd decompresses only the first frame of a buffer, so each is handed over alone.
 * `complete` is false when the last frame is cut short (still being written).
 */
export function splitZstdFrames(data: Buffer): { frames: Buffer[]; complete: boolean } {
  const frames: Buffer[] = [];
  let pos = 0;
  while (pos < data.length) {
    if (data.length - pos < 8) return { frames, complete: false };
    const magic = data.readUInt32LE(pos);
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      pos += 8 + data.readUInt32LE(pos + 4); // skippable frame
      continue;
    }
    if (magic !== 0xfd2fb528) return { frames, complete: false };
    const descriptor = data[pos + 4]!;
    const contentSizeFlag = descriptor >> 6;
    const singleSegment = (descriptor >> 5) & 1;
    const checksum = (descriptor >> 2) & 1;
    const dictionaryFlag = descriptor & 3;
    let p = pos + 5 + (singleSegment ? 0 : 1) + [0, 1, 2, 4][dictionaryFlag]! + [singleSegment, 2, 4, 8][contentSizeFlag]!;
    let last = false;
    while (!last) {
      if (p + 3 > data.length) return { frames, complete: false };
      const header = data[p]! | (data[p + 1]! << 8) | (data[p + 2]! << 16);
      last = (header & 1) === 1;
      const type = (header >> 1) & 3;
      if (type === 3) return { frames, complete: false };
      p += 3 + (type === 1 ? 1 : header >>> 3);
    }
    p += checksum ? 4 : 0;
    if (p > data.length) return { frames, complete: false };
    frames.push(data.subarray(pos, p));
    pos = p;
  }
  return { frames, complete: true };
}

/**
 * The decompressed content of a file made of zstd frames or gzip members, or `data` itself when it is
 * neither. Never rejects on a cut-short end: what came out before it is returned, with `truncated`.
 */
export function decompressTolerant(data: Buffer): Promise<{ data: Buffer; truncated: boolean }> {
  let stream: zlib.Gunzip;
  if (isZstd(data)) {
    if (zstdDecompress === undefined) return Promise.reject(new Error('zstd-compressed, and this Node.js has no zstd (needs 22.15 or later)'));
    return decompressZstdFrames(data, zstdDecompress);
  } else if (isGzip(data)) {
    stream = zlib.createGunzip();
  } else {
    return Promise.resolve({ data, truncated: false });
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (truncated: boolean): void => {
      if (settled) return;
      settled = true;
      resolve({ data: Buffer.concat(chunks), truncated });
    };
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => finish(false));
    stream.on('error', () => finish(true));
    stream.end(data);
  });
}

async function decompressZstdFrames(data: Buffer, decompress: (frame: Buffer, options: object) => Promise<Buffer>): Promise<{ data: Buffer; truncated: boolean }> {
  const { frames, complete } = splitZstdFrames(data);
  const out: Buffer[] = [];
  for (const frame of frames) {
    try {
      out.push(await decompress(frame, {}));
    } catch {
      return { data: Buffer.concat(out), truncated: true };
    }
  }
  return { data: Buffer.concat(out), truncated: !complete };
}
