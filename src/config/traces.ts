/** Traces: where spans go, the OTLP URL shown for them, sampling, propagation and the batch processor. */
import { stripUrlCredentials } from '../redact';
import type { Warnings } from './parse';
import type { AgentConfig, PropagatorName, TraceExporterName } from './types';
import { defaultTraceExporters, type Values } from './variables';

/** The traces part of the config; a batch size above the queue size is cut to it, with a warning. */
export function traces(values: Values, warnings: Warnings): AgentConfig['traces'] {
  const names = values.OTEL_TRACES_EXPORTER;
  let exporters: TraceExporterName[];
  if (names === undefined || names.length === 0) exporters = defaultTraceExporters(values);
  else if (names.includes('none')) exporters = [];
  else exporters = names as TraceExporterName[];
  if (values.SPAN_PROFILES_STORE === 'always' && !exporters.includes('store')) exporters = [...exporters, 'store'];

  const otlpProtocol = values.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL;
  // For display only: the exporter reads the endpoint variables itself.
  let otlpEndpoint: string | undefined;
  if (exporters.includes('otlp')) {
    const signalUrl = values.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
    const baseUrl = values.OTEL_EXPORTER_OTLP_ENDPOINT;
    if (signalUrl) otlpEndpoint = stripUrlCredentials(signalUrl);
    else if (baseUrl) {
      const base = stripUrlCredentials(baseUrl).replace(/\/$/, '');
      otlpEndpoint = otlpProtocol === 'grpc' ? base : `${base}/v1/traces`;
    } else otlpEndpoint = otlpProtocol === 'grpc' ? 'http://localhost:4317' : 'http://localhost:4318/v1/traces';
  }

  const propagatorNames = values.OTEL_PROPAGATORS;
  let propagators: PropagatorName[];
  if (propagatorNames === undefined || propagatorNames.length === 0) propagators = ['tracecontext', 'baggage'];
  else if (propagatorNames.includes('none')) propagators = [];
  else propagators = [...new Set(propagatorNames)] as PropagatorName[];

  const maxQueueSize = values.OTEL_BSP_MAX_QUEUE_SIZE;
  let maxExportBatchSize = values.OTEL_BSP_MAX_EXPORT_BATCH_SIZE;
  if (maxExportBatchSize > maxQueueSize) {
    warnings.add(
      'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
      `OTEL_BSP_MAX_EXPORT_BATCH_SIZE=${maxExportBatchSize} is larger than OTEL_BSP_MAX_QUEUE_SIZE=${maxQueueSize}; using ${maxQueueSize}`,
    );
    maxExportBatchSize = maxQueueSize;
  }

  return {
    exporters,
    otlpProtocol,
    otlpEndpoint,
    sampler: values.OTEL_TRACES_SAMPLER,
    samplerRatio: values.OTEL_TRACES_SAMPLER_ARG,
    propagators,
    batch: {
      scheduledDelayMillis: values.OTEL_BSP_SCHEDULE_DELAY,
      exportTimeoutMillis: values.OTEL_BSP_EXPORT_TIMEOUT,
      maxQueueSize,
      maxExportBatchSize,
    },
  };
}
