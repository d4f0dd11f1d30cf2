/**
 * Appends finished spans to the local store as `<dir>/<service>/<start>_<pid>.spans.jsonl`: one
 * OTLP/JSON ExportTraceServiceRequest per line (hex ids, as the OpenTelemetry Collector's file exporter
 * writes them), one `write` per line so concurrent writers never interleave within a line. A new file
 * starts once the current one passes 16 MiB. A failed append is cut back off, so the file stays whole.
 */

import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { serviceDirName, SPANS_FILE_MAX_BYTES, spansFileName } from './layout';
import { StoreSizeCap } from './size-cap';
import type { StoreWriteStats } from './profile-store-exporter';
import { makeStoreDirectory, reportStoreWriteFailure } from './write-failure';

const NEWLINE = Buffer.from('\n');

export interface SpanStoreOptions {
  /** The store directory (SPAN_PROFILES_DIR). Created when missing. */
  dir: string;
  /** The service the spans belong to; its sanitized form names the subdirectory. */
  serviceName: string;
  /** Size cap of the whole store directory, bytes. */
  maxBytes: number;
  /** Start a new file once the current one passes this size; default 16 MiB. */
  maxFileBytes?: number;
}

interface OpenSpansFile {
  path: string;
  handle: fsp.FileHandle;
  bytes: number;
}

/** A {@link SpanExporter} into the local store. `stats` counts spans, not batches. */
export class SpanStoreExporter implements SpanExporter {
  private readonly dir: string;
  private readonly serviceDir: string;
  private readonly maxFileBytes: number;
  private readonly sizeCap: StoreSizeCap;
  private queue: Promise<void> = Promise.resolve();
  private current: OpenSpansFile | undefined;
  private lastStartMs = 0;
  private closed = false;
  private readonly counters: StoreWriteStats = { written: 0, dropped: 0 };

  constructor(options: SpanStoreOptions) {
    this.dir = path.resolve(options.dir);
    this.serviceDir = path.join(this.dir, serviceDirName(options.serviceName));
    this.maxFileBytes = options.maxFileBytes ?? SPANS_FILE_MAX_BYTES;
    this.sizeCap = StoreSizeCap.for(this.dir, options.maxBytes);
  }

  /** Spans written and dropped so far. */
  get stats(): Readonly<StoreWriteStats> {
    return { ...this.counters };
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    if (this.closed) {
      this.counters.dropped += spans.length;
      resultCallback({ code: ExportResultCode.FAILED, error: new Error('the span store exporter is shut down') });
      return;
    }
    let line: Buffer;
    try {
      const body = JsonTraceSerializer.serializeRequest(spans);
      if (body === undefined) throw new Error('the OTLP JSON serializer returned nothing');
      line = Buffer.concat([body, NEWLINE]);
    } catch (error) {
      this.counters.dropped += spans.length;
      resultCallback({ code: ExportResultCode.FAILED, error: error as Error });
      return;
    }
    this.queue = this.queue.then(async () => {
      const error = await this.append(line);
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
    await this.closeCurrent();
  }

  /** Appends one line; resolves to the error when it could not be written whole (nothing of it is left). */
  private async append(line: Buffer): Promise<Error | undefined> {
    try {
      if (this.current !== undefined && this.current.bytes > 0 && this.current.bytes + line.length > this.maxFileBytes) {
        await this.closeCurrent();
      }
      // A file deleted under us (the store directory removed or replaced) would swallow every later
      // line without an error: start a new one where the directory is now.
      if (this.current !== undefined && (await this.current.handle.stat()).nlink === 0) await this.closeCurrent();
      const file = this.current ?? (await this.openNewFile());
      let written = 0;
      try {
        ({ bytesWritten: written } = await file.handle.write(line, 0, line.length));
        if (written !== line.length) throw Object.assign(new Error(`short write (${written} of ${line.length} bytes)`), { code: 'EIO' });
      } catch (error) {
        await this.cutBack(file);
        return error as Error;
      }
      file.bytes += line.length;
    } catch (error) {
      return error as Error;
    }
    await this.sizeCap.noteWritten(line.length);
    return undefined;
  }

  /** Removes a partly written line; if even that fails, the file is left behind and a new one started. */
  private async cutBack(file: OpenSpansFile): Promise<void> {
    try {
      await file.handle.truncate(file.bytes);
    } catch {
      await this.closeCurrent();
    }
  }

  private async openNewFile(): Promise<OpenSpansFile> {
    await makeStoreDirectory(this.serviceDir);
    // Names must differ even when two files start within the same millisecond.
    const startMs = Math.max(Date.now(), this.lastStartMs + 1);
    const filePath = path.join(this.serviceDir, spansFileName(startMs, process.pid));
    const handle = await fsp.open(filePath, 'a');
    this.lastStartMs = startMs;
    this.current = { path: filePath, handle, bytes: 0 };
    this.sizeCap.protect(filePath);
    return this.current;
  }

  private async closeCurrent(): Promise<void> {
    const file = this.current;
    if (file === undefined) return;
    this.current = undefined;
    this.sizeCap.release(file.path);
    await file.handle.close().catch(() => undefined);
  }
}
