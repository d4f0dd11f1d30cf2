// The three ways the bench runs an app: bare, under OpenTelemetry's own zero-code register, and
// under this agent. Both instrumented configurations get the same environment: spans by OTLP/HTTP
// protobuf to the same receiver, the same resource detectors, no metrics, no logs; so the only
// difference left is the agent itself (its lean instrumentation set-up and the profiler).
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const AGENT_REGISTER = path.join(REPO_ROOT, 'dist', 'register.js');
const OTEL_REGISTER = createRequire(path.join(REPO_ROOT, 'package.json')).resolve('@opentelemetry/auto-instrumentations-node/register');

/** This process's environment without anything that would configure an agent in the child. */
export function cleanEnv(extra = {}) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(OTEL_|PYROSCOPE_|SPAN_PROFILES_)/.test(key) || key === 'NODE_OPTIONS') continue;
    env[key] = value;
  }
  for (const [key, value] of Object.entries(extra)) if (value !== undefined) env[key] = String(value);
  return env;
}

let storeDir;
/**
 * A private local-store directory, so the agent's default destination stays out of /tmp/span-profiles;
 * removed when the bench exits.
 */
export function benchStoreDir() {
  if (!storeDir) {
    storeDir = mkdtempSync(path.join(os.tmpdir(), 'span-profiles-bench-'));
    process.once('exit', () => rmSync(storeDir, { recursive: true, force: true }));
  }
  return storeDir;
}

const RESOURCE_DETECTORS = { OTEL_NODE_RESOURCE_DETECTORS: 'env,host,os,process' };
const NO_METRICS_NO_LOGS = { OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none' };
const otlpEnv = (otlpUrl) => ({
  OTEL_TRACES_EXPORTER: 'otlp',
  OTEL_EXPORTER_OTLP_ENDPOINT: otlpUrl,
  OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
});

/**
 * Each configuration: { id, label, nodeArgs, env({ otlpUrl, pyroscopeUrl, serviceName, extra }) }.
 * `otlpUrl`/`pyroscopeUrl` undefined for the agent means its defaults (the local store).
 */
export const CONFIGURATIONS = {
  bare: {
    id: 'bare',
    label: 'bare',
    nodeArgs: [],
    env: ({ extra } = {}) => cleanEnv(extra),
  },
  otel: {
    id: 'otel',
    label: 'OpenTelemetry alone',
    nodeArgs: ['--require', OTEL_REGISTER],
    env: ({ otlpUrl, serviceName = 'bench-app', extra } = {}) =>
      cleanEnv({ OTEL_SERVICE_NAME: serviceName, ...RESOURCE_DETECTORS, ...otlpEnv(otlpUrl), ...NO_METRICS_NO_LOGS, ...extra }),
  },
  agent: {
    id: 'agent',
    label: 'span-profiles',
    nodeArgs: ['--require', AGENT_REGISTER],
    env: ({ otlpUrl, pyroscopeUrl, serviceName = 'bench-app', extra } = {}) =>
      cleanEnv({
        OTEL_SERVICE_NAME: serviceName,
        SPAN_PROFILES_DIR: benchStoreDir(),
        ...RESOURCE_DETECTORS,
        ...NO_METRICS_NO_LOGS,
        ...(otlpUrl ? otlpEnv(otlpUrl) : {}),
        PYROSCOPE_SERVER_ADDRESS: pyroscopeUrl,
        ...extra,
      }),
  },
};
