/**
 * A span exporter built at its first export. The OTLP exporters load their transport, retry and
 * configuration packages (about 30 modules, ~1 MB and ~30 ms) when constructed; a process that ends
 * before its first batch of spans (a job, a CLI, `node -e`) never needs them. A process with spans builds
 * it at the first batch, off the request path (the batch processor exports from a timer or at flush).
 */
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';

/** What a failed build reports to the batch processor: the batch is dropped, as a failed export is. */
const FAILED = 1; // ExportResultCode.FAILED (not imported: @opentelemetry/core's index is what we avoid here)

export class DeferredSpanExporter implements SpanExporter {
  private exporter: SpanExporter | undefined;
  private failed = false;

  /**
   * `build` makes the real exporter (it may throw: `onBuildError` is told once, and every batch after it
   * fails as an export to an unreachable backend would).
   */
  constructor(
    private readonly build: () => SpanExporter,
    private readonly onBuildError: (err: unknown) => void,
  ) {}

  /** The real exporter, built now if it was not yet; undefined when it could not be built. */
  get built(): SpanExporter | undefined {
    if (this.exporter === undefined && !this.failed) {
      try {
        this.exporter = this.build();
      } catch (err) {
        this.failed = true;
        this.onBuildError(err);
      }
    }
    return this.exporter;
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    const exporter = this.built;
    if (exporter === undefined) {
      resultCallback({ code: FAILED, error: new Error('the span exporter could not be created') });
      return;
    }
    exporter.export(spans, resultCallback);
  }

  /** Nothing to shut down when nothing was ever exported. */
  shutdown(): Promise<void> {
    return this.exporter?.shutdown() ?? Promise.resolve();
  }

  forceFlush(): Promise<void> {
    return this.exporter?.forceFlush?.() ?? Promise.resolve();
  }
}
