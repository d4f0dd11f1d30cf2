// The compiled agent is free of a known TypeScript 7 emit bug: `new (require('x') as T).Class()` is emitted
// as `new require('x').Class()`, which calls `require` as a constructor and throws when that line runs
// (the type checker says nothing). The source takes such classes into a const first; this keeps it so.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../../dist/', import.meta.url));

function* jsFiles(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* jsFiles(full);
    else if (entry.name.endsWith('.js')) yield full;
  }
}

test('no `new require(...)` in the compiled agent', () => {
  const files = [...jsFiles(dist)];
  assert.ok(files.length > 50, `dist/ holds the build (${files.length} files)`);
  const bad = files.filter((file) => /\bnew\s+require\s*\(/.test(readFileSync(file, 'utf8'))).map((f) => path.relative(dist, f));
  assert.deepEqual(bad, []);
});

// dist/agent-bundle.js is what runs: its functions and classes must carry the names of the source (esbuild
// renames clashing names, e.g. `Foo` → `Foo2`; stack traces and profiles would then name what no source
// file names). tsc's output keeps each module in its own closure, so nothing should clash.
test('the agent bundle names its functions and classes as the compiled modules do', () => {
  const declared = (text) => new Set([...text.matchAll(/\b(?:function\*?|class)\s+(?!extends\b)([A-Za-z_$][\w$]*)/g)].map((m) => m[1]));
  const bundle = path.join(dist, 'agent-bundle.js');
  const inModules = new Set();
  for (const file of jsFiles(dist)) {
    if (file === bundle || file.startsWith(path.join(dist, 'vendor') + path.sep)) continue;
    for (const name of declared(readFileSync(file, 'utf8'))) inModules.add(name);
  }
  const inBundle = [...declared(readFileSync(bundle, 'utf8'))];
  assert.ok(inBundle.length > 200, `the bundle declares the agent's functions (${inBundle.length})`);
  // `class Foo { … new Foo() }` becomes `var Foo = class _Foo { … }` (the inner binding of a class that
  // refers to itself): the variable keeps the name; only that inner one is prefixed.
  const known = (name) => inModules.has(name) || name.startsWith('__') || (name.startsWith('_') && inModules.has(name.slice(1)));
  assert.deepEqual(inBundle.filter((name) => !known(name)), []);
});

// dist/vendor/opentelemetry.js gives the vendored packages only the semantic-conventions constants they
// read (scripts/bundle.mjs), with the package's values; the package itself is not in the file (whoever else
// requires it loads it from node_modules), and the manifest says so.
test('the vendored packages read the semantic conventions the package defines; the package itself is not shared', async () => {
  const { createRequire } = await import('node:module');
  const require = createRequire(import.meta.url);
  const vendored = require(path.join(dist, 'vendor', 'opentelemetry.js'));
  const manifest = JSON.parse(readFileSync(path.join(dist, 'vendor', 'opentelemetry.json'), 'utf8'));
  const installed = require('@opentelemetry/semantic-conventions');
  const sdkInfo = vendored['@opentelemetry/core']().SDK_INFO;
  assert.equal(sdkInfo[installed.ATTR_TELEMETRY_SDK_LANGUAGE], installed.TELEMETRY_SDK_LANGUAGE_VALUE_NODEJS);
  assert.equal(sdkInfo[installed.ATTR_TELEMETRY_SDK_NAME], 'opentelemetry');
  const resource = vendored['@opentelemetry/resources']().resourceFromAttributes({ [installed.ATTR_SERVICE_NAME]: 'x' });
  assert.equal(resource.attributes[installed.ATTR_SERVICE_NAME], 'x');
  assert.equal(vendored['@opentelemetry/semantic-conventions'], undefined);
  assert.equal(manifest.packages['@opentelemetry/semantic-conventions'].shared, false);
  for (const [name, entry] of Object.entries(manifest.packages)) {
    if (entry.shared) assert.equal(typeof vendored[name], 'function', `${name} is in the file`);
  }
});

// dist/vendor/opentelemetry.js is built without esbuild's keepNames, whose __name() helper redefined `name` on
// each function expression every time it ran (the context manager's bind wrapper runs per callback). Names
// come from JavaScript's own inference, and the classes esbuild renames (`class ContextAPI2`) get the
// source's name back, because OpenTelemetry prints constructor names in its diagnostics.
test('the vendored packages keep their names without a per-call __name()', async () => {
  const { createRequire } = await import('node:module');
  const require = createRequire(import.meta.url);
  const file = path.join(dist, 'vendor', 'opentelemetry.js');
  assert.doesNotMatch(readFileSync(file, 'utf8'), /__name\(/);
  const vendored = require(file);
  const api = vendored['@opentelemetry/api']();
  assert.deepEqual([api.context, api.trace, api.propagation, api.diag].map((o) => o.constructor.name), ['ContextAPI', 'TraceAPI', 'PropagationAPI', 'DiagAPI']);
  assert.equal(vendored['@opentelemetry/resource-detector-container']().containerDetector.constructor.name, 'ContainerDetector');
  assert.equal(new (vendored['@opentelemetry/core']().TimeoutError)('late').constructor.name, 'TimeoutError');
  const { AsyncLocalStorageContextManager } = vendored['@opentelemetry/context-async-hooks']();
  assert.equal(new AsyncLocalStorageContextManager().bind(api.ROOT_CONTEXT, () => undefined).name, 'contextWrapper');
});
