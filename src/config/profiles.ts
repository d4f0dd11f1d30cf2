/**
 * Where profiles go (OTEL_PROFILES_EXPORTER) and the OTLP profiles exporter's settings. The
 * OpenTelemetry specification has no profiles variables yet; these are the names it gives every other
 * signal, with PROFILES for the signal. Unset, the destinations are Pyroscope when PYROSCOPE_SERVER_ADDRESS
 * is set and the local store when nothing else takes profiles (or SPAN_PROFILES_STORE=always).
 */
import { stripUrlCredentials } from '../redact';
import type { Warnings } from './parse';
import type { AgentConfig, ProfileExporterName } from './types';
import { OTLP_PROFILES_PATH, defaultProfileExporters, type Values } from './variables';

/** Where profiles go, and the OTLP profiles exporter's settings; `pyroscope` without a server is left out, with a warning. */
export function profileDestinations(values: Values, warnings: Warnings): AgentConfig['profiles'] {
  const serverSet = values.PYROSCOPE_SERVER_ADDRESS !== undefined;
  const names = values.OTEL_PROFILES_EXPORTER;
  let exporters: ProfileExporterName[];
  let none = false;
  if (names === undefined || names.length === 0) exporters = defaultProfileExporters(values);
  else if (names.includes('none')) {
    exporters = [];
    none = true;
  } else {
    exporters = [...new Set(names)] as ProfileExporterName[];
    if (exporters.includes('pyroscope') && !serverSet) {
      warnings.add('OTEL_PROFILES_EXPORTER', 'OTEL_PROFILES_EXPORTER names pyroscope but PYROSCOPE_SERVER_ADDRESS is not set; leaving pyroscope out');
      exporters = exporters.filter((name) => name !== 'pyroscope');
    }
  }
  if (!none && values.SPAN_PROFILES_STORE === 'always' && !exporters.includes('store')) exporters.push('store');
  return { exporters, none, otlp: otlpProfiles(values) };
}

/** The OTLP profiles exporter: the signal URL, protocol, headers, compression and timeout. */
function otlpProfiles(values: Values): AgentConfig['profiles']['otlp'] {
  const protocol = values.OTEL_EXPORTER_OTLP_PROFILES_PROTOCOL;
  const signalEndpoint = values.OTEL_EXPORTER_OTLP_PROFILES_ENDPOINT;
  const baseEndpoint = values.OTEL_EXPORTER_OTLP_ENDPOINT;
  // gRPC has no signal path: the base endpoint is the server, as for traces.
  let url: string;
  if (signalEndpoint) url = signalEndpoint.href;
  else if (baseEndpoint) {
    const base = baseEndpoint.href.replace(/\/+$/u, '');
    url = protocol === 'grpc' ? base : `${base}${OTLP_PROFILES_PATH}`;
  } else url = protocol === 'grpc' ? 'http://localhost:4317' : `http://localhost:4318${OTLP_PROFILES_PATH}`;
  return {
    url,
    displayUrl: protocol === 'grpc' ? new URL(url).origin : stripUrlCredentials(url),
    protocol,
    headers: { ...values.OTEL_EXPORTER_OTLP_HEADERS, ...values.OTEL_EXPORTER_OTLP_PROFILES_HEADERS },
    compression: values.OTEL_EXPORTER_OTLP_PROFILES_COMPRESSION,
    timeoutMs: values.OTEL_EXPORTER_OTLP_PROFILES_TIMEOUT,
  };
}
