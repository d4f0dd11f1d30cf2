// The lazy instrumentation loader: an instrumentation is built at the first load of its library, and that
// very first load is patched (through the real @opentelemetry/instrumentation and require-in-the-middle),
// for require, process.getBuiltinModule, import and diagnostics channels.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { InstrumentationBase, InstrumentationNodeModuleDefinition } from '@opentelemetry/instrumentation';

const require = createRequire(import.meta.url);
const { LazyInstrumentations, packageNameOf } = require('../../../dist/tracing/lazy-instrumentations.js');

// Packages the app would have installed, made for this test (node_modules is not kept in git).
const appDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lazy-instr-'));
after(() => fs.rmSync(appDir, { recursive: true, force: true }));
function writePackage(name, files) {
  const dir = path.join(appDir, 'node_modules', name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version: '1.2.3', main: 'index.js' }));
  for (const [file, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, file), text);
}
writePackage('lazy-target-one', { 'index.js': 'exports.hello = () => "original";' });
writePackage('lazy-target-two', { 'index.js': 'exports.hello = () => "original";' });
writePackage('lazy-target-own', { 'index.js': 'exports.hello = () => "original";' });
writePackage('lazy-target-own-late', { 'index.js': 'exports.hello = () => "original";' });
writePackage('lazy-target-broken', { 'index.js': 'exports.hello = () => "original";' });
writePackage('lazy-target-esm', { 'index.mjs': 'export const seenActivated = globalThis.__lazyActivated === true;' });
fs.writeFileSync(path.join(appDir, 'app.js'), 'module.exports = (id) => require(id);');
fs.mkdirSync(path.join(appDir, 'agent'));
fs.writeFileSync(path.join(appDir, 'agent', 'own.js'), 'module.exports = (id) => require(id);');
const appRequire = require(path.join(appDir, 'app.js'));
const ownRequire = require(path.join(appDir, 'agent', 'own.js'));

/** A real instrumentation: its patch marks the exports of `moduleName` (a package or a core module). */
class MarkingInstrumentation extends InstrumentationBase {
  constructor(moduleName) {
    super(`lazy-test-${moduleName}`, '1.0.0', { moduleName });
  }
  init() {
    const moduleName = this.getConfig().moduleName;
    return [
      new InstrumentationNodeModuleDefinition(moduleName, ['*'], (exports) => {
        exports.__lazyPatched = (exports.__lazyPatched ?? 0) + 1;
        return exports;
      }),
    ];
  }
}

/** A second instrumentation of the same library (as pg has upstream's and the connection-context one). */
class SecondMarking extends InstrumentationBase {
  constructor(moduleName) {
    super(`lazy-test-second-${moduleName}`, '1.0.0', { moduleName });
  }
  init() {
    return [
      new InstrumentationNodeModuleDefinition(this.getConfig().moduleName, ['*'], (exports) => {
        exports.__secondPatched = true;
        return exports;
      }),
    ];
  }
}

const activations = [];
function entry(name, modules, channels = [], build = () => new MarkingInstrumentation(modules[0])) {
  return {
    name,
    modules,
    channels,
    activate() {
      activations.push(name);
      build();
    },
  };
}

const entries = [
  entry('one', ['lazy-target-one']),
  entry('two', ['lazy-target-two']),
  entry('two, second instrumentation', ['lazy-target-two'], [], () => new SecondMarking('lazy-target-two')),
  entry('own', ['lazy-target-own']),
  entry('own-late', ['lazy-target-own-late']),
  entry('querystring', ['querystring']),
  entry('broken', ['lazy-target-broken'], [], () => {
    throw new Error('an instrumentation that throws while being built');
  }),
  entry('punycode-free core', ['string_decoder']),
  entry('channel', [], ['lazy-test:create'], () => diagnosticsChannel.subscribe('lazy-test:create', (message) => message.seenBy.push('instrumentation'))),
  entry('esm', ['lazy-target-esm'], [], () => {
    globalThis.__lazyActivated = true;
  }),
];
const lazy = new LazyInstrumentations(entries, [path.join(appDir, 'agent') + path.sep]);
lazy.installRequireTrigger();
const importTrigger = lazy.installImportTrigger();
lazy.installChannelTriggers(entries.filter((e) => e.channels.length > 0));
after(() => lazy.uninstall());

test('packageNameOf: the package a request names, nothing for the app\'s own files', () => {
  const cases = {
    http: 'http',
    'node:fs/promises': 'fs',
    'pg/lib/client.js': 'pg',
    '@redis/client': '@redis/client',
    '@redis/client/dist/lib/client.js': '@redis/client',
    '/app/node_modules/pg/lib/client.js': 'pg',
    '/app/node_modules/a/node_modules/@scope/pkg/x.js': '@scope/pkg',
    'file:///app/node_modules/express/index.js': 'express',
    'C:\\app\\node_modules\\mysql2\\index.js': 'mysql2',
    './lib/pg.js': undefined,
    '/app/pg.js': undefined,
    'file:///app/pg.mjs': undefined,
    '@scope': undefined,
  };
  for (const [request, name] of Object.entries(cases)) assert.equal(packageNameOf(request), name, request);
});

test('nothing is built before its library is loaded', () => {
  assert.deepEqual(activations, []);
});

test("the agent's own request builds nothing while no hook sits above; the app's first one does, patched (require-in-the-middle installed by that very activation)", () => {
  const own = ownRequire('lazy-target-own');
  assert.equal(own.__lazyPatched, undefined);
  assert.deepEqual(activations, []);
  assert.equal(appRequire('lazy-target-own').__lazyPatched, 1);
  assert.deepEqual(activations, ['own']);
  activations.length = 0;
});

test('the first require of another package is patched', () => {
  const exports = appRequire('lazy-target-one');
  assert.equal(exports.__lazyPatched, 1, 'the first load went through the instrumentation');
  assert.deepEqual(activations, ['one']);
  assert.equal(appRequire('lazy-target-one').__lazyPatched, 1, 'patched once');
  assert.deepEqual(activations, ['one']);
});

test('the first require of a second package is patched (require-in-the-middle already above the trigger)', () => {
  const exports = appRequire('lazy-target-two');
  assert.equal(exports.__lazyPatched, 1);
  assert.equal(exports.__secondPatched, true, 'both instrumentations of the library patched its first load');
  assert.deepEqual(activations, ['one', 'two', 'two, second instrumentation']);
});

test('a core module: the first require, and process.getBuiltinModule', () => {
  assert.equal(appRequire('node:querystring').__lazyPatched, 1);
  assert.ok(activations.includes('querystring'));
  assert.equal(process.getBuiltinModule('node:string_decoder').__lazyPatched, 1);
  assert.ok(activations.includes('punycode-free core'));
});

test("with require-in-the-middle above, the agent's own request builds it: the hook's cache would keep the app unpatched", () => {
  assert.equal(ownRequire('lazy-target-own-late').__lazyPatched, 1);
  assert.equal(appRequire('lazy-target-own-late').__lazyPatched, 1);
  assert.ok(activations.includes('own-late'));
});

test("an instrumentation that throws while being built does not reach the app's require", () => {
  assert.equal(appRequire('lazy-target-broken').hello(), 'original');
  assert.ok(activations.includes('broken'));
});

test('a diagnostics channel: the first message builds the instrumentation, which gets that message', () => {
  const channel = diagnosticsChannel.channel('lazy-test:create');
  const first = { seenBy: [] };
  channel.publish(first);
  assert.deepEqual(first.seenBy, ['instrumentation']);
  const second = { seenBy: [] };
  channel.publish(second);
  assert.deepEqual(second.seenBy, ['instrumentation'], 'once, by the instrumentation only');
  assert.equal(activations.filter((a) => a === 'channel').length, 1);
});

test('an import: built before the module is evaluated', { skip: !importTrigger && 'no module.registerHooks on this Node' }, async () => {
  const url = pathToFileURL(path.join(appDir, 'node_modules', 'lazy-target-esm', 'index.mjs')).href;
  const ns = await import(url);
  assert.equal(ns.seenActivated, true);
  assert.ok(activations.includes('esm'));
});
