/**
 * The profile destinations OTEL_PROFILES_EXPORTER asks for (OTLP profiles, Pyroscope, the local store),
 * built here as tracing/span-processors.ts builds the span exporters. Each destination's module is
 * required only when chosen; one that cannot be built is reported and skipped.
 */
import type { Resource } from '@opentelemetry/resources';
import type { AgentConfig } from '../config';
import { describeError, getLogger } from '../logger';
import { redactSecrets } from '../redact';
import { sanitizeAppName } from './app-name';
import type { ProfileExporter } from './profile-exporter';

/**
 * One exporter per configured profile destination. `resource`: the Resource the traces carry, for OTLP
 * (built from the configuration when not given); `serviceNamespace`: added to Pyroscope's tags.
 */
export function buildProfileExporters(config: AgentConfig, resource?: Resource, serviceNamespace?: string): ProfileExporter[] {
  const exporters: ProfileExporter[] = [];
  const logger = getLogger();
  const appName = sanitizeAppName(config.pyroscope.applicationName);
  const chosen = config.profiles.exporters;
  if (chosen.includes('otlp')) {
    try {
      // Required only when used, like the Pyroscope uploader.
      const { OtlpProfilesExporter } = require('./otlp-profiles') as typeof import('./otlp-profiles');
      const otlpResource = resource ?? (require('../tracing/resource') as typeof import('../tracing/resource')).buildResource(config);
      exporters.push(
        new OtlpProfilesExporter({
          url: config.profiles.otlp.url,
          protocol: config.profiles.otlp.protocol,
          headers: config.profiles.otlp.headers,
          compression: config.profiles.otlp.compression,
          timeoutMs: config.profiles.otlp.timeoutMs,
          queueSize: config.pyroscope.queueSize,
          resource: otlpResource,
          maxSpanNames: config.pyroscope.maxSpanNames,
        }),
      );
    } catch (err) {
      logger.warn(`the OTLP profiles exporter could not be created: ${describeError(err)}`);
    }
  }
  if (chosen.includes('pyroscope') && config.pyroscope.serverAddress) {
    // An unnamed service (unknown_service:node) is sanitized silently: nobody chose that name.
    if (appName !== config.pyroscope.applicationName && config.serviceNameSource !== 'default') {
      logger.warnOnce(
        'app-name',
        `the Pyroscope application name "${redactSecrets(config.pyroscope.applicationName, [])}" has characters Pyroscope rejects; ` +
          `using "${sanitizeAppName(redactSecrets(config.pyroscope.applicationName, []))}". Grafana matches profiles to traces by service name: set OTEL_SERVICE_NAME to a name ` +
          'made of letters, digits and _ . - / so both agree',
      );
    }
    const tags: Record<string, string> = { ...config.pyroscope.labels };
    // Grafana's default traces-to-profiles query includes service_namespace when the span has one.
    if (serviceNamespace && tags.service_namespace === undefined) tags.service_namespace = serviceNamespace;
    try {
      // Required only when used: the local-store-only setup never loads the HTTP uploader.
      const { PyroscopeExporter } = require('./pyroscope') as typeof import('./pyroscope');
      exporters.push(
        new PyroscopeExporter({
          serverAddress: config.pyroscope.serverAddress,
          appName,
          tags,
          basicAuth: config.pyroscope.basicAuth,
          authToken: config.pyroscope.authToken,
          tenantId: config.pyroscope.tenantId,
          headers: config.pyroscope.headers,
          timeoutMs: config.pyroscope.timeoutMs,
          queueSize: config.pyroscope.queueSize,
          traceId: config.pyroscope.traceId,
          maxSpanNames: config.pyroscope.maxSpanNames,
          maxUploadBytes: config.pyroscope.maxUploadBytes,
        }),
      );
    } catch (err) {
      logger.warn(`the Pyroscope exporter could not be created: ${describeError(err)}`);
    }
  }
  if (chosen.includes('store')) {
    try {
      const { ProfileStoreExporter } = require('../store/write/profile-store-exporter') as typeof import('../store/write/profile-store-exporter');
      exporters.push(
        new ProfileStoreExporter({ dir: config.store.dir, serviceName: config.serviceName, maxBytes: config.store.maxBytes }),
      );
    } catch (err) {
      logger.warn(`the local profile store could not be created: ${describeError(err)}`);
    }
  }
  return exporters;
}
