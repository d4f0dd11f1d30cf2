/**
 * What the register entry loads: the build bundles this file, with every agent module it requires, into
 * dist/agent-bundle.js (one file instead of ~60; scripts/bundle.mjs). The vendored OpenTelemetry packages
 * go into `require.cache` first, so that the agent's own `require('@opentelemetry/...')` calls below, and
 * the instrumentations' later ones, find them there.
 */
import { useVendoredOpenTelemetry } from './vendored-opentelemetry';

useVendoredOpenTelemetry();

const agent = require('./agent') as typeof import('./agent');

export const startAgent: typeof agent.startAgent = agent.startAgent;
export type { Agent, LoadedVia } from './agent';
