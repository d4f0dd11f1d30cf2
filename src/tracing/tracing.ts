/**
 * Tracing set-up from the SDK's parts: one TracerProvider (sampler, span limits, the processors), the
 * AsyncLocalStorage context manager, the propagators, then the instrumentations. This is what NodeSDK
 * does for traces, without loading NodeSDK's every exporter, metrics and logs SDK at start-up (about
 * 25 MB and 100 ms); NodeSDK is loaded only when metrics or logs export is asked for.
 */
import { context, propagation, trace, type TextMapPropagator } from '@opentelemetry/api';
import type { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, getNumberFromEnv, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import type { Resource } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
  type SpanLimits,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import type { AgentConfig, PropagatorName } from '../config';
import type { InstrumentationSet } from './instrumentations';

/** What the agent needs back from tracing. */
export interface Tracing {
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

export function buildSampler(config: AgentConfig['traces']): Sampler {
  const ratio = () => new TraceIdRatioBasedSampler(config.samplerRatio);
  switch (config.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio();
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio() });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

function buildPropagator(names: readonly PropagatorName[]): TextMapPropagator | undefined {
  const propagators: TextMapPropagator[] = names.map((name) => {
    switch (name) {
      case 'baggage':
        return new W3CBaggagePropagator();
      case 'b3':
      case 'b3multi': {
        // Taken into consts first: `new (require(...) as T).Class()` loses its parentheses in TypeScript 7's output.
        const { B3Propagator, B3InjectEncoding } = require('@opentelemetry/propagator-b3') as typeof import('@opentelemetry/propagator-b3');
        return name === 'b3' ? new B3Propagator() : new B3Propagator({ injectEncoding: B3InjectEncoding.MULTI_HEADER });
      }
      default:
        return new W3CTraceContextPropagator();
    }
  });
  if (propagators.length === 0) return undefined;
  return propagators.length === 1 ? propagators[0] : new CompositePropagator({ propagators });
}

/** OTEL_SPAN_* / OTEL_ATTRIBUTE_* limits, as the SDK reads them. */
function spanLimitsFromEnv(): SpanLimits {
  return {
    attributeCountLimit: getNumberFromEnv('OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT') ?? getNumberFromEnv('OTEL_ATTRIBUTE_COUNT_LIMIT'),
    attributeValueLengthLimit:
      getNumberFromEnv('OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT') ?? getNumberFromEnv('OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT'),
    eventCountLimit: getNumberFromEnv('OTEL_SPAN_EVENT_COUNT_LIMIT'),
    linkCountLimit: getNumberFromEnv('OTEL_SPAN_LINK_COUNT_LIMIT'),
    attributePerEventCountLimit: getNumberFromEnv('OTEL_SPAN_ATTRIBUTE_PER_EVENT_COUNT_LIMIT'),
    attributePerLinkCountLimit: getNumberFromEnv('OTEL_SPAN_ATTRIBUTE_PER_LINK_COUNT_LIMIT'),
  };
}

/**
 * Metrics and logs through NodeSDK, only when OTEL_METRICS_EXPORTER / OTEL_LOGS_EXPORTER ask for them.
 * Traces, context and propagation stay ours (no span processors, context manager or propagator given).
 */
function startMetricsAndLogs(config: AgentConfig, resource: Resource): Tracing | undefined {
  if (!config.metricsExporterSet && !config.logsExporterSet) return undefined;
  const { NodeSDK } = require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node');
  // NodeSDK installs its own console logger when OTEL_LOG_LEVEL is set (unprefixed, unredacted, with an
  // "overwritten" stack): hide the variable from its constructor so the agent's logger stays in place.
  const logLevel = process.env.OTEL_LOG_LEVEL;
  delete process.env.OTEL_LOG_LEVEL;
  let sdk: InstanceType<typeof NodeSDK>;
  try {
    sdk = new NodeSDK({
    resource,
    autoDetectResources: false,
    contextManager: null as never,
    textMapPropagator: null,
    spanProcessors: [],
    instrumentations: [],
    ...(config.metricsExporterSet ? {} : { metricReaders: [] }),
      ...(config.logsExporterSet ? {} : { logRecordProcessors: [] }),
    });
  } finally {
    if (logLevel !== undefined) process.env.OTEL_LOG_LEVEL = logLevel;
  }
  sdk.start();
  return { forceFlush: async () => undefined, shutdown: () => sdk.shutdown() };
}

/** Registers the global tracer provider, context manager and propagator, then the instrumentations. */
export function startTracing(options: {
  config: AgentConfig;
  resource: Resource;
  spanProcessors: SpanProcessor[];
  instrumentations: InstrumentationSet;
  /** `eager`: build every instrumentation now; `imports`: ES module imports are instrumented in this thread. */
  instrumentationMode: { eager: boolean; imports: boolean };
  contextManager: AsyncLocalStorageContextManager;
}): Tracing {
  const { config, resource, spanProcessors, instrumentations, contextManager } = options;
  const others = startMetricsAndLogs(config, resource);

  context.setGlobalContextManager(contextManager.enable());
  const propagator = buildPropagator(config.traces.propagators);
  if (propagator) propagation.setGlobalPropagator(propagator);

  // No processor at all (OTEL_TRACES_EXPORTER=none, profiling off): instrumentations make no-op spans.
  let provider: TracerProvider | undefined;
  if (spanProcessors.length > 0) {
    provider = new TracerProvider({
      resource,
      sampler: buildSampler(config.traces),
      spanLimits: spanLimitsFromEnv(),
      spanProcessors,
    });
    trace.setGlobalTracerProvider(provider);
  }
  // Each instrumentation is registered as it is built, as registerInstrumentations would have at start;
  // @opentelemetry/instrumentation is loaded with the first one.
  instrumentations.start((instrumentation: Instrumentation) => {
    const { registerInstrumentations } = require('@opentelemetry/instrumentation') as typeof import('@opentelemetry/instrumentation');
    registerInstrumentations({ instrumentations: [instrumentation], tracerProvider: provider });
  }, options.instrumentationMode);

  return {
    forceFlush: async () => {
      await Promise.all([provider?.forceFlush(), others?.forceFlush()]);
    },
    shutdown: async () => {
      await Promise.all([provider?.shutdown().catch(() => undefined), others?.shutdown().catch(() => undefined)]);
      instrumentations.stop();
    },
  };
}
