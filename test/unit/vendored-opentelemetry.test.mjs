// The vendored OpenTelemetry copies go into require.cache only when they are interchangeable with the
// installed packages (all or nothing), under the paths Node resolves; anything else loads from disk as
// before. Real module resolution on package trees written to a temp dir: a "vendor" file built like the
// build's (one loader per package), packages whose files mark in a global when they are evaluated.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);
const { useVendoredOpenTelemetry, vendoredPackage } = require('../../dist/vendored-opentelemetry.js');

const root = mkdtempSync(path.join(os.tmpdir(), 'vendored-otel-'));
after(() => rmSync(root, { recursive: true, force: true }));
const evaluated = (globalThis.__vendoredTestEvaluated = []);

let trees = 0;
/**
 * A tree: <dir>/node_modules/<scope>/{a,b} on disk (b requires a), the agent at <dir>/agent/dist, and its
 * vendor dir with copies of a and b at `vendored` versions. Returns the names and paths.
 */
function tree({ installed = { a: '1.0.0', b: '2.0.0' }, vendored = { a: '1.0.0', b: '2.0.0' }, nested } = {}) {
  const scope = `@vt${++trees}`;
  const dir = path.join(root, `tree${trees}`);
  const pkg = (at, name, version, body) => {
    const pkgDir = path.join(at, 'node_modules', ...name.split('/'));
    mkdirSync(path.join(pkgDir, 'dist'), { recursive: true });
    writeFileSync(path.join(pkgDir, 'package.json'), JSON.stringify({ name, version, exports: { '.': { require: './dist/index.cjs' } } }));
    writeFileSync(path.join(pkgDir, 'dist', 'index.cjs'), `globalThis.__vendoredTestEvaluated.push(${JSON.stringify(`${name}@${version} ${pkgDir}`)});\n${body}`);
    return pkgDir;
  };
  const a = `${scope}/a`;
  const b = `${scope}/b`;
  const aDir = pkg(dir, a, installed.a, `exports.origin = 'disk'; exports.version = ${JSON.stringify(installed.a)};\n`);
  const bDir = pkg(dir, b, installed.b, `exports.a = require(${JSON.stringify(a)});\n`);
  if (nested) pkg(bDir, a, installed.a, `exports.origin = 'nested';\n`);
  const dist = path.join(dir, 'agent', 'dist');
  const vendorDir = path.join(dist, 'vendor');
  mkdirSync(vendorDir, { recursive: true });
  writeFileSync(
    path.join(vendorDir, 'opentelemetry.js'),
    `const a = { origin: 'vendor' }; const b = { a };
module.exports = { ${JSON.stringify(a)}: () => { globalThis.__vendoredTestEvaluated.push('vendor ${a}'); return a; }, ${JSON.stringify(b)}: () => b };\n`,
  );
  writeFileSync(
    path.join(vendorDir, 'opentelemetry.json'),
    JSON.stringify({
      packages: {
        [a]: { version: vendored.a, entry: 'dist/index.cjs', requires: [] },
        [b]: { version: vendored.b, entry: 'dist/index.cjs', requires: [a] },
      },
    }),
  );
  const resolve = (name, fromDir) => require.resolve(name, { paths: [fromDir ?? dist] });
  return { a, b, dir, aDir, bDir, vendorDir, resolve, requireFrom: (from) => createRequire(path.join(from, 'x.js')) };
}

test('matching versions: every require that resolves the installed file gets the bundled copy, evaluated at its first require', () => {
  const t = tree();
  evaluated.length = 0;
  const state = useVendoredOpenTelemetry(t.vendorDir, t.resolve);
  assert.deepEqual(state, { used: true, packages: [`${t.a} 1.0.0`, `${t.b} 2.0.0`] });
  assert.deepEqual(evaluated, [], 'nothing evaluated yet');
  // A package beside them (an instrumentation) and the app resolve the same files: the same objects.
  const fromApp = t.requireFrom(t.dir)(t.a);
  assert.equal(fromApp.origin, 'vendor');
  assert.deepEqual(evaluated, [`vendor ${t.a}`]);
  assert.equal(t.requireFrom(path.join(t.dir, 'node_modules', 'inst'))(t.a), fromApp);
  assert.equal(vendoredPackage(t.a), fromApp, "the agent bundle's own import is the same object");
  assert.equal(t.requireFrom(t.dir)(t.b).a, fromApp, 'b holds the same a');
  assert.equal(evaluated.filter((e) => e.includes(t.dir)).length, 0, 'no installed file was evaluated');
});

test('one installed version differs: nothing is seeded, every package loads from disk', () => {
  const t = tree({ installed: { a: '1.0.0', b: '2.0.1' } });
  const state = useVendoredOpenTelemetry(t.vendorDir, t.resolve);
  assert.equal(state.used, false);
  assert.match(state.reason, new RegExp(`${t.b} 2\\.0\\.1 is installed; the bundle holds 2\\.0\\.0`));
  assert.equal(t.requireFrom(t.dir)(t.a).origin, 'disk', 'a matched, but it is all or nothing');
});

test('one of the packages is loaded already: nothing is seeded', () => {
  const t = tree();
  const loaded = t.requireFrom(t.dir)(t.a);
  const state = useVendoredOpenTelemetry(t.vendorDir, t.resolve);
  assert.equal(state.used, false);
  assert.match(state.reason, new RegExp(`${t.a} is loaded already`));
  assert.equal(t.requireFrom(t.dir)(t.b).a, loaded);
});

test('a package has its own nested copy of another: nothing is seeded (the bundle joins them to one copy)', () => {
  const t = tree({ nested: true });
  const state = useVendoredOpenTelemetry(t.vendorDir, t.resolve);
  assert.equal(state.used, false);
  assert.match(state.reason, new RegExp(`${t.b} requires its own ${t.a}`));
  assert.equal(t.requireFrom(t.dir)(t.b).a.origin, 'nested');
});

test("the app's own copy of another version resolves to itself; the agent's packages are the bundled ones", () => {
  // The app at <dir> has a 9.0.0 at its top level; the agent's 1.0.0 is nested under the agent package.
  const t = tree({ installed: { a: '9.0.0', b: '2.0.0' }, vendored: { a: '1.0.0', b: '2.0.0' } });
  const agentPkg = path.join(t.dir, 'agent');
  const ownA = path.join(agentPkg, 'node_modules', ...t.a.split('/'));
  mkdirSync(path.join(ownA, 'dist'), { recursive: true });
  writeFileSync(path.join(ownA, 'package.json'), JSON.stringify({ name: t.a, version: '1.0.0', exports: { '.': { require: './dist/index.cjs' } } }));
  writeFileSync(path.join(ownA, 'dist', 'index.cjs'), "exports.origin = 'agent disk';\n");
  // b (top level) requires a: it resolves the app's 9.0.0, not the agent's, so the bundle cannot be used.
  const state = useVendoredOpenTelemetry(t.vendorDir, t.resolve);
  assert.equal(state.used, false);
  assert.match(state.reason, new RegExp(`${t.b} requires its own ${t.a}`));
  assert.equal(t.requireFrom(t.dir)(t.a).version, '9.0.0');

  // With b nested beside the agent's a too (what npm does when the app pins another a), it is used,
  // and the app still gets its own 9.0.0 from disk.
  const u = tree({ installed: { a: '9.0.0', b: '2.0.0' }, vendored: { a: '1.0.0', b: '2.0.0' } });
  for (const [name, version, body] of [
    [u.a, '1.0.0', "exports.origin = 'agent disk';\n"],
    [u.b, '2.0.0', `exports.a = require(${JSON.stringify(u.a)});\n`],
  ]) {
    const pkgDir = path.join(u.dir, 'agent', 'node_modules', ...name.split('/'));
    mkdirSync(path.join(pkgDir, 'dist'), { recursive: true });
    writeFileSync(path.join(pkgDir, 'package.json'), JSON.stringify({ name, version, exports: { '.': { require: './dist/index.cjs' } } }));
    writeFileSync(path.join(pkgDir, 'dist', 'index.cjs'), body);
  }
  const used = useVendoredOpenTelemetry(u.vendorDir, u.resolve);
  assert.equal(used.used, true, JSON.stringify(used));
  assert.equal(u.requireFrom(path.join(u.dir, 'agent', 'dist'))(u.a).origin, 'vendor');
  const appA = u.requireFrom(u.dir)(u.a);
  assert.equal(appA.origin, 'disk');
  assert.equal(appA.version, '9.0.0');
});

test('a package checked but not shared (its constants inlined) loads from disk; the others are the bundled ones', () => {
  const t = tree();
  const manifestFile = path.join(t.vendorDir, 'opentelemetry.json');
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
  manifest.packages[t.a].shared = false;
  writeFileSync(manifestFile, JSON.stringify(manifest));
  const state = useVendoredOpenTelemetry(t.vendorDir, t.resolve);
  assert.deepEqual(state, { used: true, packages: [`${t.a} 1.0.0 (constants)`, `${t.b} 2.0.0`] });
  assert.equal(t.requireFrom(t.dir)(t.a).origin, 'disk');
  assert.equal(t.requireFrom(t.dir)(t.b).a.origin, 'vendor', "b is the bundled copy, with the a it was bundled with");
  // Checked like the others: another installed version of it and nothing is used.
  const u = tree({ installed: { a: '1.0.1', b: '2.0.0' } });
  const uManifest = path.join(u.vendorDir, 'opentelemetry.json');
  const m = JSON.parse(readFileSync(uManifest, 'utf8'));
  m.packages[u.a].shared = false;
  writeFileSync(uManifest, JSON.stringify(m));
  assert.equal(useVendoredOpenTelemetry(u.vendorDir, u.resolve).used, false);
});

test('no manifest (a build without the bundle step): not used, and says why', () => {
  const state = useVendoredOpenTelemetry(path.join(root, 'nowhere'));
  assert.equal(state.used, false);
  assert.match(state.reason, /no readable opentelemetry\.json/);
});
