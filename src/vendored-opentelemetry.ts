/**
 * The OpenTelemetry packages the agent loads at start (api, core, sdk-trace, ...), bundled by the build into
 * one file, dist/vendor/opentelemetry.js, beside a manifest of what it was built from. Loading ~140 small
 * modules one by one is most of the agent's start-up time and memory; one file costs a fraction.
 *
 * The instrumentations and the app require these packages too, and `@opentelemetry/api` must stay one
 * module per resolved path (its global registration is what makes the app's `trace.getTracer()` see the
 * agent's provider). So the bundle's copies are put into `require.cache` under the very paths Node
 * resolves them to from the agent's directory: whoever resolves the same file gets the same module object,
 * and whoever resolves another file (the app's own `@opentelemetry/api` of another version, a package with
 * its own nested copy) loads that one from disk, exactly as without the bundle.
 *
 * All or nothing: the copies are used only when none of these packages is loaded yet, and every installed
 * package the agent would load is the version the bundle was built from, depending on the same installed
 * files the bundle joined it to. Otherwise nothing is seeded and the packages load from node_modules.
 *
 * Semantic conventions are checked like the others but not shared: inside the bundle, core, resources and
 * sdk-trace read their dozen constants (plain strings) from a tree-shaken copy, and whoever else requires
 * the package (~400 KB of constants) loads it from node_modules, as before.
 */
import * as fs from 'node:fs';
import Module from 'node:module';
import * as path from 'node:path';
import { describeError } from './logger';
import { VENDOR_DIR } from './package-layout';

/** dist/vendor/opentelemetry.json, written by the build (scripts/bundle.mjs). */
export interface VendorManifest {
  readonly packages: Readonly<Record<string, VendoredPackage>>;
}

export interface VendoredPackage {
  readonly version: string;
  /** The entry file the bundle took, relative to the package's directory (what `require` resolves to). */
  readonly entry: string;
  /** The other vendored packages it requires (dependencies and peer dependencies). */
  readonly requires: readonly string[];
  /**
   * In the bundle for everyone (put in `require.cache`). False: only its constants are inlined into the
   * others (semantic conventions); it is checked like the rest and loads from node_modules when required.
   */
  readonly shared?: boolean;
}

/** Whether the vendored copies are in use, and why not. */
export type VendoredState = { readonly used: true; readonly packages: readonly string[] } | { readonly used: false; readonly reason: string };

export const VENDOR_FILE = 'opentelemetry.js';
export const MANIFEST_FILE = 'opentelemetry.json';

interface ModuleInternals {
  _cache: Record<string, Module | undefined>;
  _nodeModulePaths(dir: string): string[];
}

let state: VendoredState = { used: false, reason: 'not attempted (the agent was not loaded through its bundle)' };
/** The bundled copies in use, by package name (empty while they are not). */
const inUse = new Map<string, () => unknown>();

/** What {@link useVendoredOpenTelemetry} decided in this process, for the agent's debug log. */
export function vendoredOpenTelemetryState(): VendoredState {
  return state;
}

/**
 * A vendored package, for the agent bundle's own imports (scripts/bundle.mjs routes them here): the
 * bundled copy when it is in use, the same object `require.cache` holds, else the installed package.
 */
export function vendoredPackage(name: string): unknown {
  const load = inUse.get(name);
  return load !== undefined ? load() : require(name);
}

/**
 * Seeds `require.cache` with the vendored copies when they are interchangeable with the installed
 * packages (see the module comment). Never throws. `resolve` resolves a package name from a directory
 * (`undefined`: from the agent's own); `vendorDir` holds the bundle and its manifest.
 */
export function useVendoredOpenTelemetry(
  vendorDir: string = VENDOR_DIR,
  resolve: (name: string, fromDir?: string) => string = resolveFrom,
): VendoredState {
  try {
    state = seed(vendorDir, resolve);
  } catch (err) {
    state = { used: false, reason: describeError(err) };
  }
  return state;
}

function resolveFrom(name: string, fromDir?: string): string {
  return fromDir === undefined ? require.resolve(name) : require.resolve(name, { paths: [fromDir] });
}

function seed(vendorDir: string, resolve: (name: string, fromDir?: string) => string): VendoredState {
  let manifest: VendorManifest;
  try {
    manifest = JSON.parse(fs.readFileSync(path.join(vendorDir, MANIFEST_FILE), 'utf8')) as VendorManifest;
  } catch (err) {
    return { used: false, reason: `no readable ${MANIFEST_FILE} in ${vendorDir} (${describeError(err)})` };
  }
  const names = Object.keys(manifest.packages);
  const cache = (Module as unknown as ModuleInternals)._cache;
  const segments = names.map(packageSegment);
  for (const loaded of Object.keys(cache)) {
    const at = segments.findIndex((segment) => loaded.includes(segment));
    if (at >= 0) return { used: false, reason: `${names[at]} is loaded already (${loaded})` };
  }

  // Where each package resolves from the agent, and that it is the file and version the bundle holds.
  const resolved = new Map<string, { file: string; dir: string }>();
  for (const name of names) {
    const built = manifest.packages[name]!;
    let file: string;
    try {
      file = resolve(name);
    } catch {
      return { used: false, reason: `${name} is not installed where the agent resolves it` };
    }
    const dir = packageDirOf(file, name);
    if (dir === undefined || file !== path.join(dir, built.entry)) {
      return { used: false, reason: `${name} resolves to ${file}, not to the ${built.entry} the bundle was built from` };
    }
    let version: unknown;
    try {
      version = (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version?: unknown }).version;
    } catch (err) {
      return { used: false, reason: `cannot read ${name}'s package.json (${describeError(err)})` };
    }
    if (version !== built.version) return { used: false, reason: `${name} ${String(version)} is installed; the bundle holds ${built.version}` };
    resolved.set(name, { file, dir });
  }
  // The bundle joins each package to the others it requires; installed, they must resolve to the same files.
  for (const name of names) {
    const from = resolved.get(name)!;
    for (const dependency of manifest.packages[name]!.requires) {
      const expected = resolved.get(dependency);
      if (expected === undefined) return { used: false, reason: `the manifest names ${dependency}, which it does not hold` };
      const file = resolvesTo(dependency, from.dir, expected, resolve);
      if (file !== expected.file) {
        return { used: false, reason: `${name} requires its own ${dependency} (${file ?? 'none'}), not the one the agent resolves` };
      }
    }
  }

  const loaders = require(path.join(vendorDir, VENDOR_FILE)) as Record<string, (() => unknown) | undefined>;
  const shared = names.filter((name) => manifest.packages[name]!.shared !== false);
  const missing = shared.find((name) => typeof loaders[name] !== 'function');
  if (missing !== undefined) return { used: false, reason: `${VENDOR_FILE} does not hold ${missing}` };
  for (const name of shared) inUse.set(name, putInCache(resolved.get(name)!.file, loaders[name]!, cache));
  return { used: true, packages: names.map((name) => `${name} ${manifest.packages[name]!.version}${shared.includes(name) ? '' : ' (constants)'}`) };
}

/**
 * What `dependency` resolves to from `fromDir`. Node looks in each of `fromDir`'s node_modules lookup
 * directories in turn; when the expected copy sits in one of them, the answer is that copy unless an
 * earlier one holds the package (a nested copy): a few stat calls instead of a full resolution, which
 * matters here (each costs ~40 path operations, and enough of them make V8 optimise the path functions
 * at start, ~5 MB). Otherwise (symlinked layouts such as pnpm's), Node's own resolution.
 */
function resolvesTo(
  dependency: string,
  fromDir: string,
  expected: { file: string; dir: string },
  resolve: (name: string, fromDir?: string) => string,
): string | undefined {
  const lookups = (Module as unknown as ModuleInternals)._nodeModulePaths(fromDir);
  const home = lookups.indexOf(expected.dir.slice(0, expected.dir.length - dependency.length - 1));
  if (home >= 0) {
    const shadowed = lookups.slice(0, home).some((dir) => fs.existsSync(path.join(dir, dependency)));
    return shadowed ? undefined : expected.file;
  }
  try {
    return resolve(dependency, fromDir);
  } catch {
    return undefined;
  }
}

/** `@opentelemetry/api` → `/@opentelemetry/api/`: how the package's directory appears in a file's path. */
function packageSegment(name: string): string {
  return path.sep + name.split('/').join(path.sep) + path.sep;
}

/** `/x/node_modules/@opentelemetry/api/dist/index.cjs` → `/x/node_modules/@opentelemetry/api`. */
function packageDirOf(file: string, name: string): string | undefined {
  const segment = packageSegment(name);
  const at = file.lastIndexOf(segment);
  return at < 0 ? undefined : file.slice(0, at + segment.length - 1);
}

/**
 * A loaded CommonJS module at `file` whose exports are the bundle's copy. The copy is evaluated at the
 * first `require` of it (as the file would be), so a package nobody asks for costs nothing.
 */
function putInCache(file: string, load: () => unknown, cache: Record<string, Module | undefined>): () => unknown {
  const m = new Module(file);
  m.filename = file;
  m.paths = (Module as unknown as ModuleInternals)._nodeModulePaths(path.dirname(file));
  let exports: unknown;
  let evaluated = false;
  Object.defineProperty(m, 'exports', {
    configurable: true,
    enumerable: true,
    get() {
      if (!evaluated) {
        exports = load();
        evaluated = true;
      }
      return exports;
    },
    set(value: unknown) {
      exports = value;
      evaluated = true;
    },
  });
  m.loaded = true;
  cache[file] = m;
  return () => m.exports;
}
