/**
 * The public API, for apps that set up OpenTelemetry themselves and want span profiles in it (the
 * zero-code way is `--require @acme/span-profiles/register`).
 *
 * @example
 * ```ts
 * import { NodeSDK } from '@opentelemetry/sdk-node';
 * import { createSpanProfiling } from '@acme/span-profiles';
 *
 * const spanProfiling = createSpanProfiling();          // configured from the environment
 * const sdk = new NodeSDK({ spanProcessors: [spanProfiling.spanProcessor, myBatchProcessor] });
 * sdk.start();
 * spanProfiling.start();                                 // binds to the SDK's context manager
 * process.on('SIGTERM', () => Promise.all([spanProfiling.shutdown(), sdk.shutdown()]));
 * ```
 */
import type { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { readConfig, type AgentConfig } from './config';
import { getLogger } from './logger';
import type { Resource } from '@opentelemetry/resources';
import { SpanProfiling, type ProfilerState } from './span-profiling';

export type { AgentConfig, ConfigEntry, ConfigReport } from './config';
export { readConfig } from './config';
export { PROFILE_ID_ATTRIBUTE, SpanLinker } from './linking/span-linker';
export type { ProfilerState } from './span-profiling';
export type { EncodedProfile, ProfileExporter } from './export/profile-exporter';

/** Options for {@link createSpanProfiling}; anything not given comes from the environment. */
export interface SpanProfilingOptions {
  /** Overrides of the configuration read from the environment. */
  configure?: (config: AgentConfig) => void;
  /** `service.namespace`, sent as the `service_namespace` profile label so Grafana's default query matches. */
  serviceNamespace?: string;
  /** The Resource your traces carry; OTLP profiles are sent with it (default: built from the environment). */
  resource?: Resource;
}

/** Span profiling for a hand-built OpenTelemetry setup. */
export interface SpanProfilingHandle {
  /** Add first to your tracer provider's span processors. */
  readonly spanProcessor: SpanProfiling['spanProcessor'];
  /**
   * Starts the CPU profiler after your SDK has registered its context manager (or pass it). Never
   * throws; returns why it is off if it could not start.
   */
  start(contextManager?: AsyncLocalStorageContextManager): ProfilerState;
  /** Sends the last profile and stops. Never rejects. */
  shutdown(timeoutMs?: number): Promise<void>;
}

/** Creates span profiling configured from the environment (PYROSCOPE_*, OTEL_PYROSCOPE_*, SPAN_PROFILES_*). */
export function createSpanProfiling(options: SpanProfilingOptions = {}): SpanProfilingHandle {
  // The zero-code agent already runs (NODE_OPTIONS injection plus an app that uses the API): one
  // profiler per process, so hand out the agent's.
  const agent = (globalThis as Record<symbol, unknown>)[Symbol.for('acme.span-profiles.agent')] as
    | { profiling: SpanProfiling }
    | undefined;
  if (agent) {
    getLogger().warnOnce(
      'api-with-agent',
      'createSpanProfiling() called while the agent started by --require is running; span profiling is already on, using the agent\'s',
    );
    return {
      spanProcessor: agent.profiling.spanProcessor,
      start: () => ({
        running: false,
        reason: 'the agent loaded with --require (or NODE_OPTIONS) already profiles this process',
      }),
      shutdown: async () => undefined,
    };
  }
  const { config, warnings } = readConfig();
  const logger = getLogger();
  logger.setLevel(config.logLevel);
  for (const warning of warnings) logger.warn(warning);
  options.configure?.(config);
  const profiling = new SpanProfiling(config, options.serviceNamespace, options.resource);
  return {
    spanProcessor: profiling.spanProcessor,
    start: (contextManager) => profiling.start(contextManager),
    shutdown: (timeoutMs = config.shutdownTimeoutMs) => profiling.shutdown(Date.now() + timeoutMs),
  };
}
