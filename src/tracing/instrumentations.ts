/**
 * Loads the enabled OpenTelemetry instrumentations, and only those. Upstream's register requires all
 * ~40 instrumentation packages up front; we skip the ones whose library the app does not have installed
 * (a module lookup on disk costs far less than loading the instrumentation), unless the user named them
 * in OTEL_NODE_ENABLED_INSTRUMENTATIONS.
 */
import * as fs from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import * as path from 'node:path';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import type { AgentConfig } from '../config';
import { describeError, getLogger } from '../logger';
import { INSTRUMENTATIONS, type InstrumentationEntry } from './instrumentation-catalog';
import { webFrameworkCoverage, type FrameworkCoverage } from './web-frameworks';
import { CONNECTION_CONTEXT_INSTRUMENTATION, ConnectionContextInstrumentation } from './instrumentation-connection-context';

/** Drivers whose replies the connection-context instrumentation binds to the query they answer. */
const CONNECTION_CONTEXT_TARGETS = ['pg', 'mysql2', 'ioredis', '@redis/client', 'amqplib', 'mysql'];

export interface LoadedInstrumentations {
  instances: Instrumentation[];
  /** Short names of those loaded. */
  loaded: string[];
  /** Short names enabled but not loaded because the app cannot load their library. */
  absent: string[];
  /** The web frameworks the app has installed, and whether an instrumentation covers each. */
  frameworks: FrameworkCoverage[];
}

/** Whether the instrumentation `name` is on under OTEL_NODE_ENABLED/DISABLED_INSTRUMENTATIONS. */
export function isInstrumentationEnabled(config: AgentConfig['instrumentations'], name: string): boolean {
  const entry = INSTRUMENTATIONS.find((e) => e.name === name);
  if (entry === undefined || config.disabled.includes(name)) return false;
  return config.enabled ? config.enabled.includes(name) : !entry.offByDefault;
}

/** Where the app resolves its packages from: beside the entry script, the working directory, NODE_PATH. */
export function appModuleDirectories(
  entry: string | undefined = process.argv[1],
  cwd: string = process.cwd(),
  nodePath: string | undefined = process.env.NODE_PATH,
): string[] {
  const dirs: string[] = [];
  const add = (dir: string) => {
    if (!dirs.includes(dir)) dirs.push(dir);
  };
  const walk = (start: string) => {
    let dir = start;
    for (;;) {
      add(path.basename(dir) === 'node_modules' ? dir : path.join(dir, 'node_modules'));
      const parent = path.dirname(dir);
      if (parent === dir) return;
      dir = parent;
    }
  };
  if (entry && path.isAbsolute(entry)) walk(path.dirname(entry));
  walk(cwd);
  for (const extra of (nodePath ?? '').split(path.delimiter)) if (extra) add(path.resolve(extra));
  return dirs.filter((dir) => {
    try {
      return fs.statSync(dir).isDirectory();
    } catch {
      return false;
    }
  });
}

function isInstalled(moduleName: string, dirs: readonly string[]): boolean {
  if (builtinModules.includes(moduleName)) return true;
  return dirs.some((dir) => fs.existsSync(path.join(dir, moduleName, 'package.json')));
}

/** Decides which catalog entries to load; pure, for tests. */
export function selectInstrumentations(
  config: AgentConfig['instrumentations'],
  context: { metricsEnabled: boolean; inLambda: boolean; isInstalled: (moduleName: string) => boolean },
): { load: InstrumentationEntry[]; absent: InstrumentationEntry[] } {
  const explicitlyEnabled = new Set(config.enabled ?? []);
  const disabled = new Set(config.disabled);
  const load: InstrumentationEntry[] = [];
  const absent: InstrumentationEntry[] = [];
  for (const entry of INSTRUMENTATIONS) {
    const enabled = config.enabled ? explicitlyEnabled.has(entry.name) : !entry.offByDefault;
    if (!enabled || disabled.has(entry.name)) continue;
    if (explicitlyEnabled.has(entry.name) || entry.targets === 'always') {
      load.push(entry);
      continue;
    }
    let useful: boolean;
    if (entry.targets === 'lambda') useful = context.inLambda;
    else if (entry.targets === 'metrics') useful = context.metricsEnabled;
    else useful = entry.targets.some((m) => context.isInstalled(m));
    (useful ? load : absent).push(entry);
  }
  const loading = new Set(load.map((entry) => entry.name));
  const kept = load.filter(
    (entry) => entry.supersededBy === undefined || !loading.has(entry.supersededBy) || explicitlyEnabled.has(entry.name),
  );
  return { load: kept, absent };
}

/** The instrumentation package's exports: beside the metapackage's, else ours (for our own dependencies). */
function requireInstrumentation(entry: InstrumentationEntry, requireFromCatalog: NodeJS.Require): Record<string, unknown> {
  const packageName = entry.packageName ?? `@opentelemetry/instrumentation-${entry.name}`;
  try {
    return requireFromCatalog(packageName) as Record<string, unknown>;
  } catch (err) {
    if (requireFromCatalog === require) throw err;
    return require(packageName) as Record<string, unknown>;
  }
}

/** Requires and constructs the selected instrumentations; one that fails is reported and skipped. */
export function loadInstrumentations(config: AgentConfig, metricsEnabled: boolean): LoadedInstrumentations {
  const dirs = appModuleDirectories();
  const { load, absent } = selectInstrumentations(config.instrumentations, {
    metricsEnabled,
    inLambda: process.env.AWS_LAMBDA_FUNCTION_NAME !== undefined,
    isInstalled: (m) => isInstalled(m, dirs),
  });
  // Resolve instrumentation packages the way the metapackage does, wherever npm placed them.
  let requireFromCatalog: NodeJS.Require = require;
  try {
    requireFromCatalog = createRequire(require.resolve('@opentelemetry/auto-instrumentations-node/package.json'));
  } catch {
    // Hoisted layout: our own require finds them.
  }
  const instances: Instrumentation[] = [];
  const loaded: string[] = [];
  for (const entry of load) {
    try {
      const exports = requireInstrumentation(entry, requireFromCatalog);
      const Constructor = exports[entry.className] as (new (config?: object) => Instrumentation) | undefined;
      if (typeof Constructor !== 'function') throw new Error(`it does not export ${entry.className}`);
      instances.push(new Constructor({ ...entry.options }));
      loaded.push(entry.name);
    } catch (err) {
      getLogger().warn(
        `instrumentation ${entry.name} could not be loaded and is skipped: ${describeError(err).split('\n')[0]}`,
      );
    }
  }
  // Only the profiler cares which request a reply's CPU is charged to.
  if (config.profiling.enabled && CONNECTION_CONTEXT_TARGETS.some((m) => isInstalled(m, dirs))) {
    try {
      instances.push(new ConnectionContextInstrumentation());
      loaded.push(CONNECTION_CONTEXT_INSTRUMENTATION);
    } catch (err) {
      getLogger().warn(`the pooled-connection context binding could not be loaded: ${describeError(err).split('\n')[0]}`);
    }
  }
  const frameworks = webFrameworkCoverage(dirs, (name) => isInstrumentationEnabled(config.instrumentations, name));
  return { instances, loaded, absent: absent.map((e) => e.name), frameworks };
}
