/**
 * What the register entry loads: the build bundles this file, with every agent module it requires, into
 * dist/agent-bundle.js (one file instead of ~60; scripts/bundle.mjs). The vendored OpenTelemetry packages
 * go into `require.cache` first, so that the agent's own `require('@opentelemetry/...')` calls, and the
 * instrumentations' later ones, find them there.
 */
import type { Agent, LoadedVia } from './agent';
import { readConfig } from './config';
import { programNames, shouldStartIn } from './process-filter';
import { useVendoredOpenTelemetry } from './vendored-opentelemetry';

export type { Agent, LoadedVia } from './agent';

/** {@link import('./agent').startAgent}, with the vendored packages in place when the agent is to run. */
export function startBundledAgent(loadedVia: LoadedVia, env: NodeJS.ProcessEnv = process.env): Agent | undefined {
  const report = readConfig(env);
  const { config } = report;
  // Only for an agent that runs: a disabled one (OTEL_SDK_DISABLED), or one not meant for this program,
  // leaves require.cache as it found it.
  if (!config.disabled && shouldStartIn(programNames(), config.process.allow, config.process.deny).start) useVendoredOpenTelemetry();
  const agent = require('./agent') as typeof import('./agent');
  return agent.startAgent(loadedVia, env, report);
}
