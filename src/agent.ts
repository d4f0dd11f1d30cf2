/**
 * Start-up and shutdown of the whole agent: configuration ─► one Resource ─► tracing (the span linker
 * first, then the env-configured processors) ─► the profiler bound to the same context
 * manager ─► shutdown handlers. Each step that fails is reported and the rest carries on.
 */
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import type { Resource } from '@opentelemetry/resources';
import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import { readConfig, type AgentConfig, type ConfigReport } from './config';
import { getLogger } from './logger';
import { programNames, shouldStartIn } from './process-filter';
import { credentialsOf, percentDecoded } from './redact';
import { installShutdownHandlers } from './shutdown';
import { SpanProfiling, type ProfilerState } from './span-profiling';
import { installDiagnostics } from './tracing/diagnostics';
import { registerEsmHook, type EsmHookState } from './tracing/esm-hook';
import { loadInstrumentations, type LoadedInstrumentations } from './tracing/instrumentations';
import { describeFrameworkCoverage } from './tracing/web-frameworks';
import { buildResource } from './tracing/resource';
import { buildSpanProcessors } from './tracing/span-processors';
import { startTracing } from './tracing/tracing';
import { vendoredOpenTelemetryState } from './vendored-opentelemetry';
import { AGENT_VERSION } from './version';

/** How the agent got into the process, for the startup summary. */
export type LoadedVia = '--require' | '--import' | 'NODE_OPTIONS --require' | 'NODE_OPTIONS --import';

/** The running agent. */
export interface Agent {
  readonly config: AgentConfig;
  readonly resource: Resource;
  readonly profiling: SpanProfiling;
  readonly profilerState: ProfilerState;
  /** Flushes and stops tracing and profiling, within the configured deadline. Never rejects. */
  shutdown(): Promise<void>;
}

/**
 * Starts everything from the environment. Returns undefined when the agent is disabled. Throws only on a
 * bug; the register entry catches that. `report`: the configuration of `env`, when the caller read it
 * already (the bundle's entry does, to decide whether to put the vendored packages in place).
 */
export function startAgent(loadedVia: LoadedVia, env: NodeJS.ProcessEnv = process.env, report: ConfigReport = readConfig(env)): Agent | undefined {
  const logger = getLogger();
  const { config, warnings } = report;
  logger.setLevel(config.logLevel);
  for (const warning of warnings) logger.warn(warning);
  if (config.disabled) {
    logger.info('OTEL_SDK_DISABLED=true: tracing and profiling are off');
    return undefined;
  }
  const decision = shouldStartIn(programNames(), config.process.allow, config.process.deny);
  if (!decision.start) {
    logger.debug(`not starting in this process: ${decision.reason}`);
    return undefined;
  }

  const vendored = vendoredOpenTelemetryState();
  logger.debug(vendored.used
    ? `OpenTelemetry packages from the agent's bundle: ${vendored.packages.join(', ')}`
    : `OpenTelemetry packages from node_modules: ${vendored.reason}`);
  installDiagnostics(config.logLevel, secretsOf(config, env));
  const esm: { state: EsmHookState; error?: string } = config.esmHook ? registerEsmHook() : { state: 'off' };
  if (esm.state === 'failed') logger.warn(`the ESM loader hook could not be registered (${esm.error}); ES modules will not be instrumented`);

  const resource = buildResource(config);
  const profiling = new SpanProfiling(config, config.serviceNamespace, resource);
  const envProcessors = buildSpanProcessors(config);
  // The linker only matters when there is a profiler to link to; without one, spans stay untouched.
  const spanProcessors: SpanProcessor[] = config.profiling.enabled ? [profiling.spanProcessor, ...envProcessors] : envProcessors;
  const instrumentations = loadInstrumentations(config, config.metricsExporterSet);
  const contextManager = new AsyncLocalStorageContextManager();

  const tracing = startTracing({
    config,
    resource,
    spanProcessors,
    instrumentations: instrumentations.set,
    instrumentationMode: instrumentationMode(esm.state),
    contextManager,
  });
  const profilerState = profiling.start(contextManager);

  let stopped: Promise<void> | undefined;
  const shutdown = (deadline: number): Promise<void> => {
    stopped ??= Promise.all([profiling.shutdown(deadline), tracing.shutdown().catch(() => undefined)]).then(() => undefined);
    return stopped;
  };
  const removeHandlers = installShutdownHandlers(
    {
      shutdown,
      flush: () => Promise.all([profiling.flush(), tracing.forceFlush().catch(() => undefined)]).then(() => undefined),
    },
    config.shutdownTimeoutMs,
  );

  if (logger.enabled('info')) logger.info(startupSummary(config, loadedVia, esm.state, instrumentations, profilerState));

  return {
    config,
    resource,
    profiling,
    profilerState,
    shutdown: () => {
      removeHandlers();
      return shutdown(Date.now() + config.shutdownTimeoutMs);
    },
  };
}

/**
 * Instrumentations are built when the app first loads their library, which the agent sees for
 * `require` always and for `import` when the ESM hook runs in this thread. Where an ESM hook runs
 * elsewhere (a loader thread, or one the user registered), an import could be evaluated before the agent
 * saw it: everything is built at start, as before.
 */
function instrumentationMode(esm: EsmHookState): { eager: boolean; imports: boolean } {
  switch (esm) {
    case 'in-thread':
      return { eager: false, imports: true };
    case 'not-needed':
    case 'failed':
      return { eager: false, imports: false };
    default:
      return { eager: true, imports: false };
  }
}

/** Values that must never appear in anything the agent prints, whoever wrote the message. */
function secretsOf(config: AgentConfig, env: NodeJS.ProcessEnv): string[] {
  const secrets = [
    config.pyroscope.basicAuth?.password,
    config.pyroscope.authToken,
    ...Object.values(config.pyroscope.headers),
    ...Object.values(config.profiles.otlp.headers),
  ];
  // The OTLP exporters read their headers and URLs themselves; their errors may quote them.
  for (const name of [
    'OTEL_EXPORTER_OTLP_HEADERS',
    'OTEL_EXPORTER_OTLP_TRACES_HEADERS',
    'OTEL_EXPORTER_OTLP_METRICS_HEADERS',
    'OTEL_EXPORTER_OTLP_LOGS_HEADERS',
    'OTEL_EXPORTER_OTLP_PROFILES_HEADERS',
  ]) {
    for (const pair of (env[name] ?? '').split(',')) {
      const eq = pair.indexOf('=');
      if (eq < 0) continue;
      const value = pair.slice(eq + 1).trim();
      secrets.push(value, percentDecoded(value));
    }
  }
  for (const name of ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_PROFILES_ENDPOINT', 'PYROSCOPE_SERVER_ADDRESS']) {
    let url: URL;
    try {
      url = new URL(env[name] ?? '');
    } catch {
      continue; // Not a URL: nothing embedded.
    }
    secrets.push(url.password, credentialsOf(url)?.password);
  }
  return secrets.filter((s): s is string => typeof s === 'string' && s.length > 0);
}

function startupSummary(
  config: AgentConfig,
  loadedVia: LoadedVia,
  esm: EsmHookState,
  instrumentations: LoadedInstrumentations,
  profiler: ProfilerState,
): string {
  const traces = config.traces.exporters.length === 0 ? ['none'] : config.traces.exporters.map((name) => {
    if (name === 'otlp') return `otlp ${config.traces.otlpProtocol} ${config.traces.otlpEndpoint ?? ''}`.trim();
    if (name === 'store') return `store ${config.store.dir}`;
    return name;
  });
  const profiles = profiler.running
    ? `${profiler.destinations.join(', ')}; every ${config.profiling.samplingIntervalMicros / 1000} ms, ` +
      `cut every ${config.profiling.uploadIntervalMs / 1000} s; context binding ${profiler.mode} (${profiler.reason}); ` +
      `heap ${config.profiling.heap.enabled ? `every ${Math.round(config.profiling.heap.samplingIntervalBytes / 1024)} KiB` : 'off'}; ` +
      `source maps ${config.profiling.sourceMaps ? 'on' : 'off'}`
    : `off (${profiler.reason})`;
  return [
    `@acme/span-profiles ${AGENT_VERSION} on Node ${process.versions.node} (${process.platform}-${process.arch}), loaded with ${loadedVia}, pid ${process.pid}`,
    `  service: ${config.serviceName} (from ${config.serviceNameSource})`,
    `  traces: ${traces.join(', ')}`,
    `  profiles: ${profiles}`,
    `  instrumentations: ${instrumentations.loaded.join(', ') || 'none'}` +
      (instrumentations.absent.length > 0 ? ` (${instrumentations.absent.length} more enabled, not loaded: library not installed)` : ''),
    ...(instrumentations.frameworks.length > 0 ? [`  web frameworks: ${describeFrameworkCoverage(instrumentations.frameworks)}`] : []),
    `  ESM hook: ${esm}`,
  ].join('\n');
}
