/**
 * Appends finished spans to the local store as `<dir>/<service>/<start>_<pid>.spans.jsonl.zst`: one
 * OTLP/JSON ExportTraceServiceRequest per line (hex ids, as the OpenTelemetry Collector's file exporter
 * writes them; encoded by ./span-json.ts, mostly as each span ended), each batch compressed as one zstd
 * frame on libuv's thread pool (so the app's event loop never compresses; ./frame-compressor.ts) and
 * appended with one `write`. Beside it, `<start>_<pid>.roots.jsonl.zst` indexes the
 * batch's local root spans (see ../roots-index.ts). A new pair starts once the spans file passes a small
 * slice of the store's cap (1 MiB at most) or a minute, so the size cap removes history in small steps.
 * A failed append is cut back off, so the files stay whole.
 */

import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { EncodedSpanBatch } from '../../export/encoded-spans';
import { rootsFileName, serviceDirName, SPANS_FILE_MAX_AGE_MS, spansFileMaxBytes, spansFileName } from '../layout';
import { StoreSizeCap } from './size-cap';
import type { StoreWriteStats } from './profile-store-exporter';
import { nextTurn } from '../../slice-clock';
import { FrameCompressor } from './frame-compressor';
import { storeLines, storeLinesOfSpans } from './span-json';
import { makeStoreDirectory, reportStoreWriteFailure } from './write-failure';

export interface SpanStoreOptions {
  /** The store directory (SPAN_PROFILES_DIR). Created when missing. */
  dir: string;
  /** The service the spans belong to; its sanitized form names the subdirectory. */
  serviceName: string;
  /** Size cap of the whole store directory, bytes. */
  maxBytes: number;
  /** Start a new file once the current one passes this size; default: 1/64 of maxBytes, 16 KiB to 1 MiB. */
  maxFileBytes?: number;
  /** Start a new file once the current one is this old, ms; default one minute. */
  maxFileAgeMs?: number;
}

interface OpenFile {
  path: string;
  handle: fsp.FileHandle;
  bytes: number;
}

/** A spans file and its roots index, written and rotated together. */
interface OpenSpansFile {
  spans: OpenFile;
  roots: OpenFile;
  startedAt: number;
}

/** A {@link SpanExporter} into the local store. `stats` counts spans, not batches. */
export class SpanStoreExporter implements SpanExporter {
  private readonly dir: string;
  private readonly serviceDir: string;
  private readonly maxFileBytes: number;
  private readonly maxFileAgeMs: number;
  private readonly sizeCap: StoreSizeCap;
  private queue: Promise<void> = Promise.resolve();
  private current: OpenSpansFile | undefined;
  private lastStartMs = 0;
  private closed = false;
  private readonly counters: StoreWriteStats = { written: 0, dropped: 0 };
  private readonly compressor = new FrameCompressor();

  constructor(options: SpanStoreOptions) {
    this.dir = path.resolve(options.dir);
    this.serviceDir = path.join(this.dir, serviceDirName(options.serviceName));
    this.maxFileBytes = options.maxFileBytes ?? spansFileMaxBytes(options.maxBytes);
    this.maxFileAgeMs = options.maxFileAgeMs ?? SPANS_FILE_MAX_AGE_MS;
    this.sizeCap = StoreSizeCap.for(this.dir, options.maxBytes);
  }

  /** Spans written and dropped so far. */
  get stats(): Readonly<StoreWriteStats> {
    return { ...this.counters };
  }

  export(spans: ReadableSpan[] | EncodedSpanBatch, resultCallback: (result: ExportResult) => void): void {
    if (this.closed) {
      this.counters.dropped += spans.length;
      resultCallback({ code: ExportResultCode.FAILED, error: new Error('the span store exporter is shut down') });
      return;
    }
    let line: Buffer;
    let rootsLine: Buffer;
    try {
      // A batch the processor encoded span by span as they ended, or spans given as objects.
      const lines = spans instanceof EncodedSpanBatch ? storeLines(spans) : storeLinesOfSpans(spans);
      line = lines.spans;
      rootsLine = lines.roots;
    } catch (error) {
      this.counters.dropped += spans.length;
      resultCallback({ code: ExportResultCode.FAILED, error: error as Error });
      return;
    }
    // Both compress on the thread pool at once; writes stay in order through the queue.
    // Compression starts in a later turn, not in the one that ended the batch's last span; both frames
    // come from one long-lived zstd stream (./frame-compressor.ts).
    const frames = nextTurn().then(() => Promise.all([this.compressor.compress(line), this.compressor.compress(rootsLine)]));
    frames.catch(() => undefined);
    this.queue = this.queue.then(async () => {
      let error: Error | undefined;
      try {
        const [spansFrame, rootsFrame] = await frames;
        error = await this.append(spansFrame, rootsFrame);
      } catch (compressError) {
        error = compressError as Error;
      }
      if (error === undefined) {
        this.counters.written += spans.length;
        resultCallback({ code: ExportResultCode.SUCCESS });
      } else {
        this.counters.dropped += spans.length;
        reportStoreWriteFailure(this.dir, `${spans.length} span${spans.length === 1 ? '' : 's'}`, error);
        resultCallback({ code: ExportResultCode.FAILED, error });
      }
    });
  }

  /** Resolves when every accepted batch is on disk (or has failed). */
  async forceFlush(): Promise<void> {
    await this.queue;
  }

  async shutdown(): Promise<void> {
    this.closed = true;
    await this.queue;
    this.compressor.close();
    await this.closeCurrent();
  }

  /**
   * Appends one spans frame and its index frame; resolves to the error when they could not be written
   * whole (nothing of them is left).
   */
  private async append(spansFrame: Buffer, rootsFrame: Buffer): Promise<Error | undefined> {
    try {
      const current = this.current;
      if (
        current !== undefined &&
        current.spans.bytes > 0 &&
        (current.spans.bytes + spansFrame.length > this.maxFileBytes || Date.now() - current.startedAt >= this.maxFileAgeMs)
      ) {
        await this.closeCurrent();
      }
      // A file deleted under us (the store directory removed or replaced, or the size cap of another
      // process) would swallow every later frame without an error: start a new pair where the directory is now.
      if (this.current !== undefined && ((await this.current.spans.handle.stat()).nlink === 0 || (await this.current.roots.handle.stat()).nlink === 0)) {
        await this.closeCurrent();
      }
      const file = this.current ?? (await this.openNewFile());
      const spansError = await writeWhole(file.spans, spansFrame);
      if (spansError !== undefined) {
        await this.cutBack(file);
        return spansError;
      }
      const rootsError = await writeWhole(file.roots, rootsFrame);
      if (rootsError !== undefined) {
        file.spans.bytes -= spansFrame.length;
        await this.cutBack(file);
        return rootsError;
      }
    } catch (error) {
      return error as Error;
    }
    await this.sizeCap.noteWritten(spansFrame.length + rootsFrame.length);
    return undefined;
  }

  /** Removes a partly written frame; if even that fails, the files are left behind and a new pair started. */
  private async cutBack(file: OpenSpansFile): Promise<void> {
    try {
      await file.spans.handle.truncate(file.spans.bytes);
      await file.roots.handle.truncate(file.roots.bytes);
    } catch {
      await this.closeCurrent();
    }
  }

  private async openNewFile(): Promise<OpenSpansFile> {
    await makeStoreDirectory(this.serviceDir);
    // Names must differ even when two files start within the same millisecond.
    const startMs = Math.max(Date.now(), this.lastStartMs + 1);
    const spansPath = path.join(this.serviceDir, spansFileName(startMs, process.pid));
    const rootsPath = path.join(this.serviceDir, rootsFileName(startMs, process.pid));
    const spansHandle = await fsp.open(spansPath, 'a');
    let rootsHandle: fsp.FileHandle;
    try {
      rootsHandle = await fsp.open(rootsPath, 'a');
    } catch (error) {
      await spansHandle.close().catch(() => undefined);
      await fsp.rm(spansPath, { force: true }).catch(() => undefined);
      throw error;
    }
    this.lastStartMs = startMs;
    this.current = {
      spans: { path: spansPath, handle: spansHandle, bytes: 0 },
      roots: { path: rootsPath, handle: rootsHandle, bytes: 0 },
      startedAt: Date.now(),
    };
    this.sizeCap.protect(spansPath);
    this.sizeCap.protect(rootsPath);
    return this.current;
  }

  private async closeCurrent(): Promise<void> {
    const file = this.current;
    if (file === undefined) return;
    this.current = undefined;
    for (const f of [file.spans, file.roots]) {
      this.sizeCap.release(f.path);
      await f.handle.close().catch(() => undefined);
    }
  }
}

/** Writes `data` at the end of `file` in one call; the error when it was not written whole. */
async function writeWhole(file: OpenFile, data: Buffer): Promise<Error | undefined> {
  try {
    const { bytesWritten } = await file.handle.write(data, 0, data.length);
    if (bytesWritten !== data.length) throw Object.assign(new Error(`short write (${bytesWritten} of ${data.length} bytes)`), { code: 'EIO' });
  } catch (error) {
    return error as Error;
  }
  file.bytes += data.length;
  return undefined;
}
