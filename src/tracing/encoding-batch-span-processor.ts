/**
 * A batch span processor that encodes each sampled span when it ends (./../export/encoded-spans.ts) and
 * exports batches of those encodings. Same contract as the SDK's BatchSpanProcessor, with OTEL_BSP_*
 * meaning what the specification says:
 * - OTEL_BSP_MAX_QUEUE_SIZE: spans held at most; a span ending when the queue is full is dropped and
 *   counted ("Dropped N spans because maxQueueSize reached", as upstream, through `diag`);
 * - OTEL_BSP_MAX_EXPORT_BATCH_SIZE: spans per export at most; a full batch is exported at once;
 * - OTEL_BSP_SCHEDULE_DELAY: the longest a span waits before an export starts;
 * - OTEL_BSP_EXPORT_TIMEOUT: how long an export may take before it counts as failed.
 * One scheduled export runs at a time; forceFlush and shutdown export everything held (shutdown then
 * shuts the exporter down). Exports run with tracing suppressed, after the resource's asynchronous
 * attributes have settled.
 *
 * Why: a span object waiting in upstream's queue survives young-generation collections and is promoted,
 * so the queue's spans are freed by major GCs (RSS growth, long pauses), and a full batch of 512 spans is
 * encoded in one event-loop turn (~3.5 ms). Encoding at the end costs the request path what the export
 * would have cost anyway; the span object is then garbage while young, and a batch is copied, not encoded.
 */
import { context, diag, TraceFlags, type Context } from '@opentelemetry/api';
import { ExportResultCode, globalErrorHandler, suppressTracing, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';
import { EncodedSpanQueue, type EncodedSpanBatch, type SpanEncoding } from '../export/encoded-spans';
import { describeError, getLogger } from '../logger';

/** An exporter of encoded batches (an adapter over a SpanExporter that takes them). */
export interface EncodedSpanExporter {
  export(batch: EncodedSpanBatch, resultCallback: (result: ExportResult) => void): void;
  forceFlush?(): Promise<void>;
  shutdown(): Promise<void>;
}

export interface EncodingBatchSpanProcessorOptions {
  exporter: EncodedSpanExporter;
  encoding: SpanEncoding;
  /** OTEL_BSP_MAX_QUEUE_SIZE; default 2048. */
  maxQueueSize?: number;
  /** OTEL_BSP_MAX_EXPORT_BATCH_SIZE; default 512, at most maxQueueSize. */
  maxExportBatchSize?: number;
  /** OTEL_BSP_SCHEDULE_DELAY, ms; default 5000. */
  scheduledDelayMillis?: number;
  /** OTEL_BSP_EXPORT_TIMEOUT, ms; default 30000. */
  exportTimeoutMillis?: number;
}

/** See the module comment. */
export class EncodingBatchSpanProcessor implements SpanProcessor {
  private readonly exporter: EncodedSpanExporter;
  private readonly queue: EncodedSpanQueue;
  private readonly maxQueueSize: number;
  private readonly maxExportBatchSize: number;
  private readonly scheduledDelayMillis: number;
  private readonly exportTimeoutMillis: number;
  private timer: NodeJS.Timeout | undefined;
  private exporting = false;
  private droppedSpans = 0;
  private encodingFailed = false;
  private shutdownPromise: Promise<void> | undefined;

  constructor(options: EncodingBatchSpanProcessorOptions) {
    this.exporter = options.exporter;
    this.queue = new EncodedSpanQueue(options.encoding);
    this.maxQueueSize = options.maxQueueSize ?? 2048;
    this.maxExportBatchSize = Math.min(options.maxExportBatchSize ?? 512, this.maxQueueSize);
    this.scheduledDelayMillis = options.scheduledDelayMillis ?? 5000;
    this.exportTimeoutMillis = options.exportTimeoutMillis ?? 30000;
  }

  /** Spans held, waiting for an export. */
  get queuedSpans(): number {
    return this.queue.length;
  }

  onStart(_span: Span, _parentContext: Context): void {}

  onEnd(span: ReadableSpan): void {
    if (this.shutdownPromise !== undefined) return;
    if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    if (this.queue.length >= this.maxQueueSize) {
      if (this.droppedSpans === 0) diag.debug('maxQueueSize reached, dropping spans');
      this.droppedSpans++;
      return;
    }
    if (this.droppedSpans > 0) {
      diag.warn(`Dropped ${this.droppedSpans} spans because maxQueueSize reached`);
      this.droppedSpans = 0;
    }
    try {
      this.queue.push(span);
    } catch (error) {
      // Never the app's problem: said once, the span is left out.
      if (!this.encodingFailed) {
        this.encodingFailed = true;
        getLogger().warn(`a span could not be encoded for export and was left out (later ones are left out silently): ${describeError(error)}`);
      }
      return;
    }
    this.maybeStartTimer();
  }

  forceFlush(): Promise<void> {
    if (this.shutdownPromise !== undefined) return this.shutdownPromise;
    return this.flushAll();
  }

  shutdown(): Promise<void> {
    this.shutdownPromise ??= Promise.resolve()
      .then(() => this.flushAll())
      .then(() => this.exporter.shutdown());
    return this.shutdownPromise;
  }

  /** Everything held, in batches of at most maxExportBatchSize, exported at once. */
  private flushAll(): Promise<void> {
    const batches: Array<Promise<void>> = [];
    while (this.queue.length > 0) batches.push(this.exportOneBatch());
    return Promise.all(batches).then(() => undefined);
  }

  /** Takes the oldest batch from the queue and exports it; settles when the exporter answers or the timeout passes. */
  private exportOneBatch(): Promise<void> {
    this.clearTimer();
    if (this.queue.length === 0) return Promise.resolve();
    const batch = this.queue.take(this.maxExportBatchSize);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('Timeout')), this.exportTimeoutMillis);
      context.with(suppressTracing(context.active()), () => {
        const doExport = (): void => {
          try {
            this.exporter.export(batch, (result) => {
              clearTimeout(timer);
              if (result.code === ExportResultCode.SUCCESS) resolve();
              else reject(result.error ?? new Error('BatchSpanProcessor: span export failed'));
            });
          } catch (error) {
            clearTimeout(timer);
            reject(error as Error);
          }
        };
        let pending: Array<Promise<void>> | undefined;
        for (const { resource } of batch.groups) {
          if (resource.asyncAttributesPending && resource.waitForAsyncAttributes) (pending ??= []).push(resource.waitForAsyncAttributes());
        }
        if (pending === undefined) doExport();
        else
          Promise.all(pending).then(doExport, (error: unknown) => {
            clearTimeout(timer);
            globalErrorHandler(error as Error);
            reject(error as Error);
          });
      });
    });
  }

  private maybeStartTimer(): void {
    if (this.exporting) return;
    if (this.queue.length >= this.maxExportBatchSize) {
      this.flushScheduled();
      return;
    }
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => this.flushScheduled(), this.scheduledDelayMillis);
    this.timer.unref();
  }

  private flushScheduled(): void {
    this.exporting = true;
    this.exportOneBatch()
      .catch((error: unknown) => globalErrorHandler(error as Error))
      .finally(() => {
        this.exporting = false;
        if (this.queue.length > 0) {
          this.clearTimer();
          this.maybeStartTimer();
        }
      });
  }

  private clearTimer(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }
}
