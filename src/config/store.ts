/** The local store: its mode, directory and size cap, and which signals it keeps. */
import * as path from 'node:path';
import { readVariables } from './parse';
import type { AgentConfig } from './types';
import { DEFAULT_STORE_DIR, type Values } from './variables';

/** The local store's part of the config: it keeps what the trace and profile destinations name `store`. */
export function store(values: Values, traces: AgentConfig['traces'], profiles: AgentConfig['profiles']): AgentConfig['store'] {
  return {
    mode: values.SPAN_PROFILES_STORE,
    dir: storeDirectory(values.SPAN_PROFILES_DIR),
    maxBytes: values.SPAN_PROFILES_STORE_MAX_SIZE,
    profiles: profiles.exporters.includes('store'),
    spans: traces.exporters.includes('store'),
  };
}

/** The store directory, absolute: SPAN_PROFILES_DIR's value resolved, or the default. */
function storeDirectory(given: string | undefined): string {
  return given ? path.resolve(given) : DEFAULT_STORE_DIR;
}

/** The store directory the agent in this environment writes to; the command reads the same by default. */
export function defaultStoreDir(env: NodeJS.ProcessEnv = process.env): string {
  return storeDirectory(readVariables(env).values.SPAN_PROFILES_DIR);
}
