/**
 * Loads the enabled OpenTelemetry instrumentations, and only those. Upstream's register requires all
 * ~40 instrumentation packages up front; we skip the ones whose library the app does not have installed
 * (a module lookup on disk costs far less than loading the instrumentation), unless the user named them
 * in OTEL_NODE_ENABLED_INSTRUMENTATIONS, and build the others only when the app first loads their
 * library (lazy-instrumentations.ts).
 */
import * as fs from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import * as path from 'node:path';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import type { AgentConfig } from '../config';
import { describeError, getLogger } from '../logger';
import { DIST_DIR } from '../package-layout';
import { CONNECTION_CONTEXT_INSTRUMENTATION, CONNECTION_CONTEXT_TARGETS, INSTRUMENTATIONS, type InstrumentationEntry } from './instrumentation-catalog';
import { webFrameworkCoverage, type FrameworkCoverage } from './web-frameworks';
import { LazyInstrumentations, type LazyInstrumentation } from './lazy-instrumentations';

export interface LoadedInstrumentations {
  /** The selected instrumentations, built at start or when first needed. */
  set: InstrumentationSet;
  /** Short names of those selected (loaded at start or when their library is first loaded). */
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

/** Resolves instrumentation packages the way the metapackage does, wherever npm placed them. */
let catalogRequire: NodeJS.Require | undefined;
function requireFromCatalog(): NodeJS.Require {
  if (catalogRequire) return catalogRequire;
  try {
    catalogRequire = createRequire(require.resolve('@opentelemetry/auto-instrumentations-node/package.json'));
  } catch {
    catalogRequire = require; // Hoisted layout: our own require finds them.
  }
  return catalogRequire;
}

/** Requires and constructs one catalog entry; throws what the package throws. */
function createInstrumentation(entry: InstrumentationEntry): Instrumentation {
  const exports = requireInstrumentation(entry, requireFromCatalog());
  const Constructor = exports[entry.className] as (new (config?: object) => Instrumentation) | undefined;
  if (typeof Constructor !== 'function') throw new Error(`it does not export ${entry.className}`);
  return new Constructor({ ...entry.options });
}

/**
 * The selected instrumentations, built when first needed (tracing/lazy-instrumentations.ts): a library's
 * instrumentation when the app first loads that library, undici's at the first request on its
 * diagnostics channel. `start` hands each to `register` as it is built; `eager` builds them all at once
 * (where an import could not be seen before it is evaluated).
 */
export class InstrumentationSet {
  /** The instances built so far, for shutdown. */
  readonly instances: Instrumentation[] = [];
  private triggers: LazyInstrumentations | undefined;

  constructor(
    private readonly entries: readonly LazyInstrumentation[],
    private readonly build: Map<LazyInstrumentation, () => Instrumentation | undefined>,
  ) {}

  /**
   * Starts building: those without a module or channel trigger now, the rest on first need (or all now
   * when `mode` is `eager`). `imports`: also watch `import` (the in-thread ESM hook is on).
   */
  start(register: (instrumentation: Instrumentation) => void, mode: { eager: boolean; imports: boolean }): void {
    const activateInto = (entry: LazyInstrumentation) => {
      const instance = this.build.get(entry)?.();
      if (instance === undefined) return;
      this.instances.push(instance);
      register(instance);
    };
    const lazy: LazyInstrumentation[] = [];
    const now: LazyInstrumentation[] = [];
    for (const entry of this.entries) {
      const bound: LazyInstrumentation = { ...entry, activate: () => activateInto(entry) };
      (mode.eager || (entry.modules.length === 0 && entry.channels.length === 0) ? now : lazy).push(bound);
    }
    for (const entry of now) entry.activate();
    if (lazy.length === 0) return;
    const triggers = new LazyInstrumentations(lazy, ownDirectories());
    triggers.installRequireTrigger();
    if (mode.imports && !triggers.installImportTrigger()) {
      // No in-thread resolve hook on this Node: an import would be evaluated before it could be seen.
      triggers.uninstall();
      for (const entry of lazy) entry.activate();
      return;
    }
    triggers.installChannelTriggers(lazy.filter((entry) => entry.channels.length > 0));
    this.triggers = triggers;
  }

  /** Stops building more and disables those built. */
  stop(): void {
    this.triggers?.uninstall();
    for (const instrumentation of this.instances) instrumentation.disable();
  }
}

/** Where the agent's own code and the exporters it runs live: their requests build no instrumentation. */
function ownDirectories(): string[] {
  const dirs = [DIST_DIR + path.sep];
  for (const exporter of ['@opentelemetry/otlp-exporter-base/package.json']) {
    try {
      dirs.push(path.dirname(require.resolve(exporter)) + path.sep);
    } catch {
      // Not installed here: nothing to exclude.
    }
  }
  return dirs;
}

/** The modules and channels whose first use builds a catalog entry; empty when it is built at start. */
function triggersOf(entry: InstrumentationEntry): { modules: readonly string[]; channels: readonly string[] } {
  if (Array.isArray(entry.targets)) return { modules: entry.targets, channels: [] };
  // undici (and Node's fetch, which is undici) announce each request on diagnostics channels.
  if (entry.name === 'undici') return { modules: ['undici'], channels: ['undici:request:create'] };
  return { modules: [], channels: [] };
}

/** Selects the enabled instrumentations; none is required or built here (see {@link InstrumentationSet}). */
export function loadInstrumentations(config: AgentConfig, metricsEnabled: boolean): LoadedInstrumentations {
  const dirs = appModuleDirectories();
  const { load, absent } = selectInstrumentations(config.instrumentations, {
    metricsEnabled,
    inLambda: process.env.AWS_LAMBDA_FUNCTION_NAME !== undefined,
    isInstalled: (m) => isInstalled(m, dirs),
  });
  const entries: LazyInstrumentation[] = [];
  const build = new Map<LazyInstrumentation, () => Instrumentation | undefined>();
  const add = (name: string, triggers: { modules: readonly string[]; channels: readonly string[] }, create: () => Instrumentation, failure: string) => {
    const entry: LazyInstrumentation = { name, ...triggers, activate: () => undefined };
    entries.push(entry);
    build.set(entry, () => {
      try {
        return create();
      } catch (err) {
        getLogger().warn(`${failure}: ${describeError(err).split('\n')[0]}`);
        return undefined;
      }
    });
  };
  const loaded: string[] = [];
  for (const entry of load) {
    add(entry.name, triggersOf(entry), () => createInstrumentation(entry), `instrumentation ${entry.name} could not be loaded and is skipped`);
    loaded.push(entry.name);
  }
  // Only the profiler cares which request a reply's CPU is charged to.
  if (config.profiling.enabled && CONNECTION_CONTEXT_TARGETS.some((m) => isInstalled(m, dirs))) {
    add(
      CONNECTION_CONTEXT_INSTRUMENTATION,
      { modules: CONNECTION_CONTEXT_TARGETS, channels: [] },
      () => {
        const { ConnectionContextInstrumentation } = require('./instrumentation-connection-context') as typeof import('./instrumentation-connection-context');
        return new ConnectionContextInstrumentation();
      },
      'the pooled-connection context binding could not be loaded',
    );
    loaded.push(CONNECTION_CONTEXT_INSTRUMENTATION);
  }
  const frameworks = webFrameworkCoverage(dirs, (name) => isInstrumentationEnabled(config.instrumentations, name));
  return { set: new InstrumentationSet(entries, build), loaded, absent: absent.map((e) => e.name), frameworks };
}
