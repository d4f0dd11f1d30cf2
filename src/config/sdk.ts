/**
 * What the OpenTelemetry SDK loads: instrumentations, resource detectors, and whether metrics and logs
 * are exported (not this agent's job: on only when asked for, then the SDK reads those variables itself).
 */
import type { AgentConfig } from './types';
import { DEFAULT_RESOURCE_DETECTORS, RESOURCE_DETECTOR_NAMES, type Values } from './variables';

/** Which instrumentations and resource detectors load, and whether metrics and logs are exported. */
export function sdkComponents(values: Values): Pick<AgentConfig, 'instrumentations' | 'resourceDetectors' | 'metricsExporterSet' | 'logsExporterSet'> {
  let resourceDetectors: string[] = values.OTEL_NODE_RESOURCE_DETECTORS ?? DEFAULT_RESOURCE_DETECTORS;
  if (resourceDetectors.includes('none')) resourceDetectors = [];
  else if (resourceDetectors.includes('all')) resourceDetectors = RESOURCE_DETECTOR_NAMES.filter((n) => n !== 'all' && n !== 'none');
  return {
    instrumentations: {
      enabled: values.OTEL_NODE_ENABLED_INSTRUMENTATIONS,
      disabled: values.OTEL_NODE_DISABLED_INSTRUMENTATIONS ?? [],
    },
    resourceDetectors,
    metricsExporterSet: (values.OTEL_METRICS_EXPORTER ?? []).some((n) => n !== 'none'),
    logsExporterSet: (values.OTEL_LOGS_EXPORTER ?? []).some((n) => n !== 'none'),
  };
}
