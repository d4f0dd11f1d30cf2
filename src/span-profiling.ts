/**
 * Span profiling as one unit: the span linker (a span processor), the CPU profiler bound to the
 * OpenTelemetry context manager, and the profile destinations (built by export/profile-destinations.ts).
 * The zero-code agent uses it, and so can an app that sets up OpenTelemetry itself (see index.ts).
 */
import { context as contextApi } from '@opentelemetry/api';
import type { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import type { Resource } from '@opentelemetry/resources';
import type { AgentConfig } from './config';
import { describeError, getLogger } from './logger';
import type { ProfileExporter } from './export/profile-exporter';
import { buildProfileExporters } from './export/profile-destinations';
import { createContextBinding, detectBindingMode, type BindingMode } from './linking/context-binding';
import { CpuProfiler } from './profiler/cpu-profiler';
import { HeapProfiler } from './profiler/heap-profiler';
import { loadNativeProfiler, type PprofModule } from './profiler/native-profiler';
import { detectOtherProfiler, LoadedProfilerWatch } from './profiler/other-profilers';
import { SpanLinker } from './linking/span-linker';
import { Symbolizer } from './profiler/symbolizer';

/** What the profiler is doing, for the startup summary and `doctor`. */
export type ProfilerState =
  | { running: true; mode: BindingMode; reason: string; destinations: string[] }
  | { running: false; reason: string };

export class SpanProfiling {
  /** Put this first in the tracer provider's span processors. */
  readonly spanProcessor: SpanLinker;
  private profiler: CpuProfiler | undefined;
  private heap: HeapProfiler | undefined;
  private stateValue: ProfilerState = { running: false, reason: 'not started' };
  /** Shared by the CPU and heap profiles: one cache of maps. Undefined when source maps are off. */
  readonly symbolizer: Symbolizer | undefined;

  /**
   * `resource`: the Resource the traces carry, for destinations that send one (OTLP); built from the
   * configuration when not given.
   */
  constructor(
    private readonly config: AgentConfig,
    private readonly serviceNamespace?: string,
    private readonly resource?: Resource,
  ) {
    this.spanProcessor = new SpanLinker({ rootSpanOnly: config.profiling.rootSpanOnly });
    this.symbolizer = config.profiling.sourceMaps ? new Symbolizer() : undefined;
  }

  get state(): ProfilerState {
    return this.stateValue;
  }

  /** The running profiler, for tests and diagnostics. */
  get cpuProfiler(): CpuProfiler | undefined {
    return this.profiler;
  }

  /** The running heap profiler, for tests and diagnostics. */
  get heapProfiler(): HeapProfiler | undefined {
    return this.heap;
  }

  /**
   * Starts the profiler, bound to `contextManager` (default: the global one). Never throws: when the
   * profiler cannot run, the reason is logged once and tracing carries on.
   */
  start(contextManager?: AsyncLocalStorageContextManager): ProfilerState {
    if (this.profiler) return this.stateValue;
    const logger = getLogger();
    const off = (reason: string, warn: boolean): ProfilerState => {
      this.stateValue = { running: false, reason };
      if (warn) logger.warn(`CPU profiling is off: ${reason}; tracing continues`);
      return this.stateValue;
    };
    if (!this.config.profiling.enabled) {
      return off(this.config.profiles.none ? 'OTEL_PROFILES_EXPORTER=none' : 'OTEL_PYROSCOPE_START_PROFILING=false', false);
    }
    const other = detectOtherProfiler();
    if (other) return off(`${other}, and two profilers in one process corrupt each other's samples`, true);
    const native = loadNativeProfiler();
    if (!native.ok) return off(native.reason, true);
    const manager = contextManager ?? globalContextManager();
    if (!manager) return off('no AsyncLocalStorage context manager is registered with OpenTelemetry', true);

    const exporters = buildProfileExporters(this.config, this.resource, this.serviceNamespace);
    if (exporters.length === 0) return off('no destination for profiles could be created', true);

    try {
      const decision = detectBindingMode();
      const { binding, fallbackReason } = createContextBinding(decision, native.pprof.time, manager, (ctx) =>
        this.spanProcessor.labelsFor(ctx),
      );
      this.spanProcessor.onLabelsEnded = (labels) => binding.spanEnded(labels);
      const loadedProfilers = new LoadedProfilerWatch();
      const profiler = new CpuProfiler({
        pprof: native.pprof,
        binding,
        samplingIntervalMicros: this.config.profiling.samplingIntervalMicros,
        uploadIntervalMs: this.config.profiling.uploadIntervalMs,
        wall: this.config.profiling.wall,
        addSpanName: this.config.profiling.addSpanName,
        exporters,
        symbolizer: this.symbolizer,
        // A profiler the app loads after the agent started (e.g. @pyroscope/nodejs) would fight ours.
        stopIf: () => {
          const other = loadedProfilers.check();
          if (other === undefined) return undefined;
          this.spanProcessor.active = false;
          this.heap?.stop();
          return `${other}, and two profilers in one process corrupt each other's samples`;
        },
      });
      profiler.start();
      this.profiler = profiler;
      this.spanProcessor.active = true;
      this.startHeapProfiler(native.pprof, exporters);
      this.stateValue = {
        running: true,
        mode: binding.mode,
        reason: fallbackReason ?? decision.reason,
        destinations: exporters.map((e) => e.description),
      };
      return this.stateValue;
    } catch (err) {
      for (const exporter of exporters) void exporter.shutdown(Date.now());
      return off(`the profiler did not start: ${describeError(err)}`, true);
    }
  }

  /** The heap profiler beside the CPU profiler; if V8 refuses it, CPU profiling goes on without it. */
  private startHeapProfiler(pprof: PprofModule, exporters: ProfileExporter[]): void {
    const { heap, uploadIntervalMs } = this.config.profiling;
    if (!heap.enabled) return;
    const heapExporters = exporters.filter((e) => typeof e.exportHeap === 'function');
    if (heapExporters.length === 0) return;
    const profiler = new HeapProfiler({
      pprof,
      samplingIntervalBytes: heap.samplingIntervalBytes,
      stackDepth: heap.stackDepth,
      uploadIntervalMs,
      exporters: heapExporters,
      symbolizer: this.symbolizer,
    });
    try {
      profiler.start();
      this.heap = profiler;
    } catch (err) {
      getLogger().warn(`heap profiling is off: V8's sampling heap profiler did not start (${describeError(err)}); CPU profiling continues`);
    }
  }

  /** Cuts the current profile now and hands it to the destinations (for flush on signal). */
  async flush(): Promise<void> {
    const profiler = this.profiler;
    if (!profiler) return;
    await Promise.all([profiler.collect(false), this.heap?.collect(false)]);
  }

  /** Cuts the last profile, delivers what is pending, stops. Never rejects. */
  async shutdown(deadline: number): Promise<void> {
    const profiler = this.profiler;
    if (!profiler) return;
    this.spanProcessor.active = false;
    try {
      // The heap's last snapshot first, so it reaches the destinations before they shut down.
      await this.heap?.shutdown(deadline);
      await profiler.shutdown(deadline);
    } catch {
      // Reported by the profiler; shutdown goes on.
    }
  }
}

/** The context manager OpenTelemetry uses, if it is the AsyncLocalStorage one we can bind to. */
function globalContextManager(): AsyncLocalStorageContextManager | undefined {
  const manager = (contextApi as unknown as { _getContextManager?: () => unknown })._getContextManager?.();
  const candidate = manager as { _asyncLocalStorage?: { enterWith?: unknown } } | undefined;
  return candidate && typeof candidate._asyncLocalStorage?.enterWith === 'function'
    ? (manager as AsyncLocalStorageContextManager)
    : undefined;
}
