/**
 * Service identity: the service name and where it came from, the namespace and the resource attributes.
 * OTEL_SERVICE_NAME wins over service.name in OTEL_RESOURCE_ATTRIBUTES (spec), then the app's
 * package.json, then the SDK default.
 */
import { percentDecoded } from '../redact';
import type { AgentConfig } from './types';
import type { Values } from './variables';

export type ServiceIdentity = Pick<AgentConfig, 'serviceName' | 'serviceNamespace' | 'resourceAttributes' | 'serviceNameSource'>;

/**
 * The service identity from the variables. `appPackageName` is asked only when neither variable names
 * the service: it is the one file-system read of the configuration (the app's package.json).
 */
export function serviceIdentity(values: Values, appPackageName: () => string | undefined): ServiceIdentity {
  const resourceAttributes = decodeValues(values.OTEL_RESOURCE_ATTRIBUTES);
  const explicitName = values.OTEL_SERVICE_NAME;
  const fromAttributes = resourceAttributes['service.name'];
  const fromPackage = explicitName || fromAttributes ? undefined : appPackageName();
  let serviceName: string;
  let serviceNameSource: AgentConfig['serviceNameSource'];
  if (explicitName) {
    serviceName = explicitName;
    serviceNameSource = 'OTEL_SERVICE_NAME';
  } else if (fromAttributes) {
    serviceName = fromAttributes;
    serviceNameSource = 'OTEL_RESOURCE_ATTRIBUTES';
  } else if (fromPackage) {
    serviceName = fromPackage;
    serviceNameSource = 'package.json';
  } else {
    serviceName = 'unknown_service:node';
    serviceNameSource = 'default';
  }
  return { serviceName, serviceNamespace: resourceAttributes['service.namespace'], resourceAttributes, serviceNameSource };
}

/** Percent-decodes attribute values, as the spec says OTEL_RESOURCE_ATTRIBUTES values are encoded. */
function decodeValues(pairs: Record<string, string>): Record<string, string> {
  const decoded: Record<string, string> = {};
  for (const [key, value] of Object.entries(pairs)) decoded[key] = percentDecoded(value);
  return decoded;
}
