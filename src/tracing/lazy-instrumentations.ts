/**
 * Instrumentations built when their library is first loaded, not at start-up. A short-lived process (a
 * job, a CLI, `node -e`) that never loads `pg` or `express` then never pays for their instrumentation
 * packages, `@opentelemetry/instrumentation` and its require hook.
 *
 * It must stay exactly as complete as building them all up front, so the trigger fires BEFORE the first
 * load of a target, and that load goes through the instrumentation's own hooks:
 * - `require()` (and `process.getBuiltinModule`, which require-in-the-middle also patches): one wrapper
 *   sees every request; on the first one naming a target it builds the instrumentation, whose
 *   construction installs require-in-the-middle over this wrapper, then re-dispatches the same request
 *   through that hook so the first load is patched. When that hook was already installed above this
 *   wrapper (a second instrumentation), the outer hook patches on return, as it would have anyway.
 * - `import` (when the import-in-the-middle hook runs in this thread): a resolve hook builds the
 *   instrumentation before the module is linked and evaluated, which is when import-in-the-middle
 *   calls the instrumentation's hook.
 * - diagnostics channels (undici and `fetch` publish no module load): the first message on the
 *   channel builds the instrumentation, and the handler it subscribed to that channel gets that message.
 */
import * as diagnosticsChannel from 'node:diagnostics_channel';
import Module = require('node:module');
import { pathToFileURL } from 'node:url';

/** One instrumentation that is built on first need. */
export interface LazyInstrumentation {
  /** Catalog name, for messages. */
  readonly name: string;
  /** Package names (`pg`, `@redis/client`) and core modules (`http`) whose first load builds it. */
  readonly modules: readonly string[];
  /** Diagnostics channels whose first message builds it. */
  readonly channels: readonly string[];
  /** Builds and enables it. Called at most once; must not throw. */
  activate(): void;
}

/**
 * The package a `require`/`import` request names, for matching against targets: `node:fs/promises` →
 * `fs`, `@redis/client/dist/x` → `@redis/client`, `/app/node_modules/pg/lib/client.js` → `pg`,
 * `file:///app/node_modules/pg/esm/index.mjs` → `pg`; undefined for the app's own files.
 */
export function packageNameOf(request: unknown): string | undefined {
  if (typeof request !== 'string' || request.length === 0) return undefined;
  let id = request.includes('\\') ? request.replace(/\\/g, '/') : request;
  if (id.startsWith('node:')) id = id.slice(5);
  const inModules = id.lastIndexOf('node_modules/');
  if (inModules >= 0) id = id.slice(inModules + 'node_modules/'.length);
  else if (id.startsWith('.') || id.startsWith('/') || id.includes(':')) return undefined;
  const first = id.indexOf('/');
  if (id.startsWith('@')) {
    if (first < 0) return undefined;
    const second = id.indexOf('/', first + 1);
    return second < 0 ? id : id.slice(0, second);
  }
  return first < 0 ? id : id.slice(0, first);
}

type RequireFn = (this: unknown, id: string) => unknown;
type GetBuiltinModule = (id: string) => unknown;

/** Installs the triggers; `uninstall` stops them (wrappers others installed above stay, inert). */
export class LazyInstrumentations {
  private readonly byModule = new Map<string, LazyInstrumentation[]>();
  private readonly done = new Set<LazyInstrumentation>();
  private readonly undo: Array<() => void> = [];

  /**
   * `ownDirs`: requests from files under these directories (the agent's own, and the OpenTelemetry
   * exporters it runs) build nothing while nothing else hooks require: the agent's upload over `http` is
   * not the app using `http`, and would load the http instrumentation into every process. The app's
   * first use still builds it.
   */
  constructor(
    entries: readonly LazyInstrumentation[],
    private readonly ownDirs: readonly string[] = [],
  ) {
    for (const entry of entries) {
      for (const name of entry.modules) {
        const list = this.byModule.get(name);
        if (list === undefined) this.byModule.set(name, [entry]);
        else if (!list.includes(entry)) list.push(entry);
      }
    }
  }

  /** Builds the instrumentation targeting `request`'s package, if one is waiting; true when it did. */
  activateFor(request: unknown): boolean {
    if (this.byModule.size === 0) return false;
    const name = packageNameOf(request);
    const entries = name === undefined ? undefined : this.byModule.get(name);
    if (entries === undefined) return false;
    // Every instrumentation of this library (pg has upstream's and the connection-context one).
    for (const entry of [...entries]) this.activate(entry);
    return true;
  }

  /** Builds `entry` now (once). */
  activate(entry: LazyInstrumentation): void {
    if (this.done.has(entry)) return;
    this.done.add(entry);
    for (const name of entry.modules) {
      const list = this.byModule.get(name);
      if (list === undefined) continue;
      const rest = list.filter((other) => other !== entry);
      if (rest.length === 0) this.byModule.delete(name);
      else this.byModule.set(name, rest);
    }
    try {
      entry.activate();
    } catch {
      // activate() reports its own failures; nothing may reach the app's require or import.
    }
  }

  private isOwn(requester: unknown): boolean {
    if (this.ownDirs.length === 0) return false;
    const filename = (requester as { filename?: unknown } | undefined)?.filename;
    return typeof filename === 'string' && this.ownDirs.some((dir) => filename.startsWith(dir));
  }

  private ownUrls: string[] | undefined;
  private isOwnUrl(parentURL: unknown): boolean {
    if (typeof parentURL !== 'string' || this.ownDirs.length === 0) return false;
    this.ownUrls ??= this.ownDirs.map((dir) => pathToFileURL(dir).href);
    return this.ownUrls.some((url) => parentURL.startsWith(url));
  }

  /** Triggers on `require` and `process.getBuiltinModule` (CommonJS and core modules). */
  installRequireTrigger(): void {
    const proto = Module.prototype as unknown as { require: RequireFn };
    const originalRequire = proto.require;
    const self = this;
    const lazyRequire: RequireFn = function (this: unknown, id: string) {
      // The agent's own request builds nothing while no hook sits above this wrapper; with one above
      // (require-in-the-middle, once anything was built) it must: that hook would cache the unpatched
      // exports and hand them to the app's later requests without asking here again.
      if (self.byModule.size !== 0 && !(proto.require === lazyRequire && self.isOwn(this))) {
        const before = proto.require;
        // The instrumentation's construction installs require-in-the-middle on top of this wrapper: this
        // very request must go through it, or the first load would stay unpatched.
        if (self.activateFor(id) && proto.require !== before) return proto.require.apply(this, arguments as unknown as [string]);
      }
      return originalRequire.apply(this, arguments as unknown as [string]);
    };
    proto.require = lazyRequire;
    this.undo.push(() => {
      if (proto.require === lazyRequire) proto.require = originalRequire;
    });

    const originalGetBuiltin = (process as { getBuiltinModule?: GetBuiltinModule }).getBuiltinModule;
    if (typeof originalGetBuiltin === 'function') {
      const lazyGetBuiltin: GetBuiltinModule = function (this: unknown, id: string) {
        if (self.byModule.size !== 0) {
          const before = process.getBuiltinModule;
          if (self.activateFor(id) && process.getBuiltinModule !== before) return process.getBuiltinModule.apply(this, arguments as unknown as [string]);
        }
        return originalGetBuiltin.apply(this, arguments as unknown as [string]);
      };
      process.getBuiltinModule = lazyGetBuiltin as typeof process.getBuiltinModule;
      this.undo.push(() => {
        if (process.getBuiltinModule === (lazyGetBuiltin as unknown)) process.getBuiltinModule = originalGetBuiltin as typeof process.getBuiltinModule;
      });
    }
  }

  /**
   * Triggers on `import` through an in-thread resolve hook; false where this Node has no
   * `module.registerHooks` (the caller then builds everything up front).
   */
  installImportTrigger(): boolean {
    const registerHooks = (Module as unknown as { registerHooks?: (hooks: object) => { deregister(): void } }).registerHooks;
    if (typeof registerHooks !== 'function') return false;
    const self = this;
    const handle = registerHooks({
      resolve(specifier: string, context: unknown, nextResolve: (specifier: string, context: unknown) => unknown) {
        // Imports only: a require() was seen by the require trigger already, and a require.resolve()
        // (require-in-the-middle makes some) loads nothing.
        const { parentURL, conditions } = (context ?? {}) as { parentURL?: unknown; conditions?: unknown };
        const isImport = !Array.isArray(conditions) || conditions.includes('import');
        if (self.byModule.size !== 0 && isImport && !self.isOwnUrl(parentURL)) self.activateFor(specifier);
        return nextResolve(specifier, context);
      },
    });
    this.undo.push(() => handle.deregister());
    return true;
  }

  /**
   * Triggers on the first message of each entry's diagnostics channels. The handler the instrumentation
   * subscribes to that channel while being built gets the message that triggered it (a channel's
   * publish only calls the subscribers it had when it started).
   */
  installChannelTriggers(entries: readonly LazyInstrumentation[]): void {
    for (const entry of entries) {
      for (const name of entry.channels) {
        const trigger = (message: unknown, channelName: string | symbol) => {
          diagnosticsChannel.unsubscribe(name, trigger);
          if (this.done.has(entry)) return;
          const subscribed = this.recordSubscriptions(() => this.activate(entry));
          for (const [subscribedName, handler] of subscribed) {
            if (subscribedName !== name) continue;
            try {
              handler(message, channelName);
            } catch {
              // An instrumentation's failure must not reach the app's request.
            }
          }
        };
        diagnosticsChannel.subscribe(name, trigger);
        this.undo.push(() => diagnosticsChannel.unsubscribe(name, trigger));
      }
    }
  }

  /** Runs `build`, returning what it subscribed through `diagnostics_channel.subscribe`. */
  private recordSubscriptions(build: () => void): Array<[string | symbol, diagnosticsChannel.ChannelListener]> {
    const dc = require('node:diagnostics_channel') as { subscribe: typeof diagnosticsChannel.subscribe };
    const original = dc.subscribe;
    const seen: Array<[string | symbol, diagnosticsChannel.ChannelListener]> = [];
    dc.subscribe = (name, handler) => {
      seen.push([name, handler]);
      return original(name, handler);
    };
    try {
      build();
    } finally {
      dc.subscribe = original;
    }
    return seen;
  }

  /** Stops triggering (at shutdown). Instrumentations already built stay until disabled. */
  uninstall(): void {
    this.byModule.clear();
    for (const undo of this.undo.splice(0)) {
      try {
        undo();
      } catch {
        // Nothing to restore.
      }
    }
  }
}
