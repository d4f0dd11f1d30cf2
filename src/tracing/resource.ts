/**
 * The one Resource shared by traces and profiles, so both carry the same service identity. Detectors are
 * cheap by default (no cloud metadata probes, which are slow and print warnings off-cloud).
 */
import { defaultResource, detectResources, resourceFromAttributes, type Resource, type ResourceDetector } from '@opentelemetry/resources';
import type { AgentConfig } from '../config';
import { describeError, getLogger } from '../logger';
import { AGENT_VERSION } from '../version';

type DetectorFactory = () => ResourceDetector | ResourceDetector[];

// Required only when named: each cloud detector package costs start-up time.
const DETECTORS: Record<string, DetectorFactory> = {
  host: () => (require('@opentelemetry/resources') as typeof import('@opentelemetry/resources')).hostDetector,
  os: () => (require('@opentelemetry/resources') as typeof import('@opentelemetry/resources')).osDetector,
  process: () => (require('@opentelemetry/resources') as typeof import('@opentelemetry/resources')).processDetector,
  serviceinstance: () => (require('@opentelemetry/resources') as typeof import('@opentelemetry/resources')).serviceInstanceIdDetector,
  container: () => (require('@opentelemetry/resource-detector-container') as typeof import('@opentelemetry/resource-detector-container')).containerDetector,
  alibaba: () =>
    (require('@opentelemetry/resource-detector-alibaba-cloud') as typeof import('@opentelemetry/resource-detector-alibaba-cloud')).alibabaCloudEcsDetector,
  gcp: () => (require('@opentelemetry/resource-detector-gcp') as typeof import('@opentelemetry/resource-detector-gcp')).gcpDetector,
  aws: () => {
    const aws = require('@opentelemetry/resource-detector-aws') as typeof import('@opentelemetry/resource-detector-aws');
    return [aws.awsEc2Detector, aws.awsEcsDetector, aws.awsEksDetector, aws.awsBeanstalkDetector, aws.awsLambdaDetector];
  },
  azure: () => {
    const azure = require('@opentelemetry/resource-detector-azure') as typeof import('@opentelemetry/resource-detector-azure');
    return [azure.azureAppServiceDetector, azure.azureFunctionsDetector, azure.azureVmDetector];
  },
};

/** Builds the Resource: SDK defaults, then detectors, then the resolved service name (which wins). */
export function buildResource(config: AgentConfig): Resource {
  const detectors: ResourceDetector[] = [];
  for (const name of config.resourceDetectors) {
    const factory = DETECTORS[name];
    if (!factory) continue;
    try {
      const detector = factory();
      detectors.push(...(Array.isArray(detector) ? detector : [detector]));
    } catch (err) {
      getLogger().warn(`resource detector ${name} could not be loaded and is skipped: ${describeError(err).split('\n')[0]}`);
    }
  }
  // The env detector's job is done from the validated configuration: a malformed OTEL_RESOURCE_ATTRIBUTES
  // entry is reported once and skipped, instead of the SDK dropping the whole variable.
  const fromEnv = config.resourceDetectors.includes('env') ? config.resourceAttributes : {};
  return defaultResource()
    .merge(detectResources({ detectors }))
    .merge(resourceFromAttributes(fromEnv))
    .merge(
      resourceFromAttributes({
        'service.name': config.serviceName,
        'telemetry.distro.name': '@acme/span-profiles',
        'telemetry.distro.version': AGENT_VERSION,
      }),
    );
}
