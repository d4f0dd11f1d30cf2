#!/usr/bin/env node
// The build's last step, after tsc: what the register entry loads at start, in two files instead of ~200.
//
//   dist/agent-bundle.js            the agent's own code (dist/agent-entry.js and every dist module it
//                                   requires); packages stay `require`d by name
//   dist/vendor/opentelemetry.js    the OpenTelemetry packages the agent loads at start, one lazy loader
//                                   each (semantic conventions: only the constants the others read), and
//                                   beside it opentelemetry.json: the version, entry file and vendored
//                                   dependencies of each, which src/vendored-opentelemetry.ts checks
//                                   against the installed packages before using any of it
//
// Two files, not one: the profiler tells the agent's own frames (dist/, except dist/vendor/) from the
// OpenTelemetry code that runs inside every request (src/package-layout.ts).
//
//   node scripts/bundle.mjs
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist');
const VENDOR = path.join(DIST, 'vendor');

/**
 * Bundled but not shared: the vendored packages get the few constants they read inlined (see
 * semanticConventionsUsed), and whoever else requires the package loads it from node_modules, as before.
 */
const INLINED = '@opentelemetry/semantic-conventions';

/** Loaded by the agent at start; everything else (instrumentations, exporters) loads when first used. */
export const VENDORED = Object.freeze([
  '@opentelemetry/api',
  '@opentelemetry/semantic-conventions',
  '@opentelemetry/core',
  '@opentelemetry/resources',
  '@opentelemetry/sdk-trace',
  '@opentelemetry/context-async-hooks',
  '@opentelemetry/resource-detector-container',
]);
/** The vendored packages in `require.cache` for everyone: all but the inlined one. */
const SHARED = VENDORED.filter((name) => name !== INLINED);

const COMMON = { bundle: true, platform: 'node', format: 'cjs', target: 'node22', logLevel: 'warning', metafile: true };

function fail(message) {
  process.stderr.write(`[bundle] ${message}\n`);
  process.exit(1);
}

/** Each vendored package as the agent resolves it from dist/, as the manifest records it. */
function describePackages() {
  const fromDist = createRequire(path.join(DIST, 'agent-entry.js'));
  const packages = {};
  const dirs = {};
  for (const name of VENDORED) {
    const entry = fromDist.resolve(name);
    const segment = `${path.sep}${name.split('/').join(path.sep)}${path.sep}`;
    const dir = entry.slice(0, entry.lastIndexOf(segment) + segment.length - 1);
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    const requires = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})].filter((d) => VENDORED.includes(d));
    packages[name] = { version: pkg.version, entry: path.relative(dir, entry).split(path.sep).join('/'), requires, shared: SHARED.includes(name) };
    dirs[name] = dir + path.sep;
  }
  return { packages, dirs };
}

const { packages, dirs } = describePackages();

/**
 * The semantic-conventions constants the other vendored packages use. The package is ~400 KB of string
 * constants (evaluating it costs ~8 ms and ~3 MB at start) of which they read a dozen, each file through
 * one `require` binding (`x = require("@opentelemetry/semantic-conventions")`, then only `x.NAME`). Any
 * other use of such a binding fails the build: then the whole package would have to be theirs again.
 */
function semanticConventionsUsed() {
  const names = new Set();
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules') walk(full);
        continue;
      }
      if (!entry.name.endsWith('.cjs') && !entry.name.endsWith('.js')) continue;
      const text = fs.readFileSync(full, 'utf8');
      if (!text.includes(`require("${INLINED}")`) && !text.includes(`require('${INLINED}')`)) continue;
      const bindings = [...text.matchAll(/\b(?:let|const|var)\s+([\w$]+)\s*=\s*require\(["']@opentelemetry\/semantic-conventions["']\)/g)].map((m) => m[1]);
      const requires = text.split(INLINED).length - 1;
      if (bindings.length !== requires) fail(`${full} requires ${INLINED} other than as \`const x = require(...)\``);
      for (const binding of bindings) {
        for (const use of text.matchAll(new RegExp(`(?<![\\w$.])${binding.replace(/\$/g, '\\$')}(?![\\w$])(\\s*=|\\.[A-Za-z_$][\\w$]*)?`, 'g'))) {
          if (use[1] === undefined) fail(`${full} uses ${binding} (${INLINED}) other than as ${binding}.NAME`);
          if (use[1].startsWith('.')) names.add(use[1].slice(1));
        }
      }
    }
  };
  for (const name of SHARED) walk(dirs[name]);
  return [...names].sort();
}

/**
 * esbuild gives a class its own inner name when the source repeats the variable's (`var ContextAPI = class
 * ContextAPI {` becomes `class ContextAPI2`), and OpenTelemetry prints constructor names in its diagnostics
 * ("ContainerDetector found resource"). A static block sets the source's name back, once per class definition.
 * Fails the build if a renamed class is written in a form this does not handle.
 */
function restoreClassNames(file) {
  const renamed = /^(\s*var ([\w$]+) = class \2\d+(?: extends [\w$.]+)? \{)$/gm;
  let restored = 0;
  const text = fs.readFileSync(file, 'utf8').replace(renamed, (_, head, name) => {
    restored++;
    return `${head} static { Object.defineProperty(this, "name", { value: ${JSON.stringify(name)}, configurable: true }); }`;
  });
  const all = text.match(/\bvar ([\w$]+) = class \1\d+\b/g) ?? [];
  if (all.length !== restored) fail(`${path.relative(ROOT, file)}: ${all.length - restored} renamed classes not in the form restoreClassNames() handles`);
  fs.writeFileSync(file, text);
}

// The vendored packages: `module.exports[name]()` evaluates the package at its first call.
fs.mkdirSync(VENDOR, { recursive: true });
const semconvNames = semanticConventionsUsed();
// Inside the bundle, the packages get only those constants, from the package's ES module build (which
// esbuild tree-shakes). The whole package is not in the bundle (its 200 KB cost compile time even unused).
const semconvForPackages = {
  name: 'semantic-conventions-used',
  setup(build) {
    build.onResolve({ filter: /^@opentelemetry\/semantic-conventions$/ }, () => ({ path: 'used-constants', namespace: 'semconv' }));
    build.onLoad({ filter: /.*/, namespace: 'semconv' }, () => ({
      contents: `export { ${semconvNames.join(', ')} } from ${JSON.stringify(path.join(dirs[INLINED], 'dist', 'index.mjs'))};\n`,
      resolveDir: DIST,
      loader: 'js',
    }));
  },
};
const vendorEntry = `module.exports = {\n${SHARED.map((name) => `  ${JSON.stringify(name)}: () => require(${JSON.stringify(name)}),`).join('\n')}\n};\n`;
const vendor = await esbuild.build({
  ...COMMON,
  stdin: { contents: vendorEntry, resolveDir: DIST, sourcefile: 'vendor-entry.js', loader: 'js' },
  outfile: path.join(VENDOR, 'opentelemetry.js'),
  plugins: [semconvForPackages],
  // No keepNames: it wraps each named function expression in a __name() call that redefines `name` every
  // time the expression runs, and some run per request (the context manager's bind wrapper, the batch
  // processor's timer callback): 2-6 % of the CPU per request (README, "What it costs"). JavaScript names those
  // functions itself; what esbuild renames are the classes whose names OpenTelemetry prints, put back by
  // restoreClassNames().
  banner: {
    js: `// Bundled by scripts/bundle.mjs from ${VENDORED.map((n) => `${n} ${packages[n].version}`).join(', ')}.\n` +
      '// Copyright The OpenTelemetry Authors, Apache License 2.0 (https://github.com/open-telemetry/opentelemetry-js).',
  },
});
restoreClassNames(path.join(VENDOR, 'opentelemetry.js'));
// Every byte in it comes from the packages the manifest names, at the directories it was checked against:
// a nested second copy of one, or a dependency outside the list, would make the runtime check meaningless.
for (const input of Object.keys(vendor.metafile.inputs)) {
  if (path.basename(input) === 'vendor-entry.js' || input.startsWith('semconv:')) continue;
  const file = path.resolve(ROOT, input);
  if (!Object.values(dirs).some((dir) => file.startsWith(dir))) fail(`dist/vendor/opentelemetry.js would hold ${input}, which is not one of ${VENDORED.join(', ')} as resolved from dist/`);
}
fs.writeFileSync(path.join(VENDOR, 'opentelemetry.json'), `${JSON.stringify({ packages }, null, 2)}\n`);

// The agent's own `require('@opentelemetry/api')` and the like go to vendoredPackage(): the bundled copy
// when it is in use, with no resolution at all (Node resolves a request again each time when the module
// it finds was put in require.cache rather than loaded: ~50 resolutions, enough to make V8 optimise its
// path functions, ~5 MB), else a plain `require` of the installed package.
const vendoredRequires = {
  name: 'vendored-requires',
  setup(build) {
    const names = new Set(SHARED);
    build.onResolve({ filter: /^@opentelemetry\// }, (args) => (names.has(args.path) ? { path: args.path, namespace: 'vendored' } : undefined));
    build.onLoad({ filter: /.*/, namespace: 'vendored' }, (args) => ({
      contents: `module.exports = require('./vendored-opentelemetry.js').vendoredPackage(${JSON.stringify(args.path)});\n`,
      resolveDir: DIST,
      loader: 'js',
    }));
  },
};

// The agent's own code: every other package external.
const agent = await esbuild.build({
  ...COMMON,
  entryPoints: [path.join(DIST, 'agent-entry.js')],
  outfile: path.join(DIST, 'agent-bundle.js'),
  packages: 'external',
  plugins: [vendoredRequires],
});
for (const input of Object.keys(agent.metafile.inputs)) {
  if (input.startsWith('vendored:')) continue;
  if (!path.resolve(ROOT, input).startsWith(DIST + path.sep)) fail(`dist/agent-bundle.js would hold ${input}, which is not the agent's compiled code`);
}
const size = (file) => `${Math.round(fs.statSync(file).size / 1024)} KiB`;
process.stdout.write(`[bundle] dist/agent-bundle.js ${size(path.join(DIST, 'agent-bundle.js'))} (${Object.keys(agent.metafile.inputs).length} modules), ` +
  `dist/vendor/opentelemetry.js ${size(path.join(VENDOR, 'opentelemetry.js'))} (${Object.keys(vendor.metafile.inputs).length - 1} modules)\n`);
