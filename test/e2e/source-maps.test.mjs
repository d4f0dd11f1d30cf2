// The source-map reader and the symbolization step on their own. The decoder is checked
// against Node's own (module.SourceMap, which --enable-source-maps uses) on real tsc and esbuild maps;
// then broken maps, maps whose sources are missing, huge maps and thousands of maps.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire, SourceMap as NodeSourceMap } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildTsFixture, cleanup } from '../helpers/ts-fixture.mjs';

const require = createRequire(import.meta.url);
const { SourceMap } = require('../../dist/profiler/source-map.js');
const { Symbolizer } = require('../../dist/profiler/symbolizer.js');
const { getLogger } = require('../../dist/logger.js');
const { Function: PprofFunction, Line, Location, Profile, StringTable } = require('pprof-format');

const tmp = mkdtempSync(path.join(os.tmpdir(), 'span-profiles-maps-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

// --- A tiny map writer for synthetic maps (the reader is checked against Node's decoder below). ---
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
function vlq(value) {
  let v = value < 0 ? (-value << 1) | 1 : value << 1;
  let out = '';
  do {
    let digit = v & 31;
    v >>>= 5;
    if (v > 0) digit |= 32;
    out += B64[digit];
  } while (v > 0);
  return out;
}

/**
 * A map where generated line i (0-based) column `column` maps to original line i + `shift`, column 0 of
 * source 0, for `lines` lines; names the segment `name` when given.
 */
function syntheticMap({ lines, sources = ['../src/app.ts'], column = 9, shift = 2, name, sourcesContent }) {
  const parts = [];
  for (let i = 0; i < lines; i++) {
    // Fields: generated column (reset per line), source delta, original line delta, original column delta.
    const seg = vlq(column) + vlq(0) + vlq(i === 0 ? shift : 1) + vlq(0) + (name !== undefined ? vlq(0) : '');
    parts.push(seg);
  }
  return JSON.stringify({ version: 3, sources, names: name !== undefined ? [name] : [], mappings: parts.join(';'), sourcesContent });
}

/** A one-sample profile with a frame per [file, line, column, name]. */
function profileOf(frames) {
  const strings = new StringTable();
  const functions = [];
  const locations = [];
  frames.forEach(([file, line, column, name], i) => {
    functions.push(new PprofFunction({ id: i + 1, name: strings.dedup(name), systemName: strings.dedup(name), filename: strings.dedup(file) }));
    locations.push(new Location({ id: i + 1, line: [new Line({ functionId: i + 1, line, column })] }));
  });
  return new Profile({ stringTable: strings, function: functions, location: locations, sample: [] });
}

/** The frames of a symbolized profile: [{file, line, name}]. */
function framesOf(profile) {
  const str = (i) => profile.stringTable.strings[Number(i)];
  const fns = new Map(profile.function.map((f) => [Number(f.id), f]));
  return profile.location.map((loc) => {
    const line = loc.line[0];
    const fn = fns.get(Number(line.functionId));
    return { file: str(fn.filename), line: Number(line.line), name: str(fn.name), column: Number(line.column) };
  });
}

/** Captures the agent's debug lines while `fn` runs. */
async function debugLinesOf(fn) {
  const logger = getLogger();
  const lines = [];
  logger.setLevel('debug');
  logger.setSink((line) => lines.push(line));
  try {
    await fn();
  } finally {
    logger.setLevel('warn');
    logger.setSink((line) => process.stderr.write(line + '\n'));
  }
  return lines;
}

describe('the decoder agrees with Node’s module.SourceMap', () => {
  const builds = [];
  after(() => builds.forEach(cleanup));
  for (const kind of ['tsc-maps', 'esbuild', 'esbuild-min']) {
    test(`every mapped position of the ${kind} build`, async () => {
      const build = await buildTsFixture(kind);
      builds.push(build);
      const maps = readdirSync(build.outDir).filter((n) => n.endsWith('.js.map'));
      assert.ok(maps.length > 0);
      let compared = 0;
      for (const name of maps) {
        const file = path.join(build.outDir, name);
        const text = readFileSync(file, 'utf8');
        const ours = new SourceMap(text, file);
        const theirs = new NodeSourceMap(JSON.parse(text));
        const js = readFileSync(file.slice(0, -4), 'utf8').split('\n');
        js.forEach((lineText, line0) => {
          for (let col0 = 0; col0 <= lineText.length; col0++) {
            const entry = theirs.findEntry(line0, col0);
            // Node looks across lines; ours stays on the line (a frame's function starts on it).
            if (entry.generatedLine !== line0) continue;
            const mine = ours.originalPositionFor(line0 + 1, col0 + 1);
            assert.ok(mine, `${name} ${line0 + 1}:${col0 + 1}: Node maps it, we do not`);
            assert.equal(mine.line, entry.originalLine + 1, `${name} ${line0 + 1}:${col0 + 1} line`);
            assert.equal(mine.column, entry.originalColumn + 1, `${name} ${line0 + 1}:${col0 + 1} column`);
            assert.equal(mine.file, path.resolve(path.dirname(file), entry.originalSource.replace(/^file:\/\//, '')));
            compared++;
          }
        });
      }
      assert.ok(compared > 100, `only ${compared} positions compared`);
    });
  }
});

describe('broken and missing maps', () => {
  const cases = {
    'not JSON': { map: '{"version":3,"sources":[', why: /not JSON/ },
    'version 2': { map: JSON.stringify({ version: 2, sources: ['a.ts'], mappings: 'AAAA' }), why: /version 2/ },
    'a bad character in mappings': { map: JSON.stringify({ version: 3, sources: ['a.ts'], names: [], mappings: 'AA!A' }), why: /bad character/ },
    'a source index out of range': { map: JSON.stringify({ version: 3, sources: ['a.ts'], names: [], mappings: 'ACAA' }), why: /source index 1 out of range/ },
    'a name index out of range': { map: JSON.stringify({ version: 3, sources: ['a.ts'], names: [], mappings: 'AAAAC' }), why: /name index 1 out of range/ },
    'a VLQ cut short': { map: JSON.stringify({ version: 3, sources: ['a.ts'], names: [], mappings: 'AAg' }), why: /ends inside a VLQ value/ },
    'an index map': { map: JSON.stringify({ version: 3, sections: [] }), why: /index map/ },
  };
  for (const [label, { map, why }] of Object.entries(cases)) {
    test(`${label}: the compiled location stays, one debug line saying why, no retry`, async () => {
      const dir = mkdtempSync(path.join(tmp, 'broken-'));
      const js = path.join(dir, 'app.js');
      writeFileSync(js, 'function work() {}\n//# sourceMappingURL=app.js.map\n');
      writeFileSync(`${js}.map`, map);
      const symbolizer = new Symbolizer();
      const profile = profileOf([[js, 1, 14, 'work']]);
      const lines = await debugLinesOf(async () => {
        await symbolizer.symbolize(profile);
        await symbolizer.symbolize(profileOf([[js, 1, 14, 'work']]));
      });
      assert.deepEqual(framesOf(profile), [{ file: js, line: 1, name: 'work', column: 0 }]);
      const about = lines.filter((l) => l.includes(js));
      assert.equal(about.length, 1, about.join('\n'));
      assert.match(about[0], /^\[span-profiles\] debug: source maps: /);
      assert.match(about[0], why);
      assert.equal(symbolizer.stats.mapsRejected, 1);
    });
  }

  test('a comment naming a map that does not exist: one debug line', async () => {
    const dir = mkdtempSync(path.join(tmp, 'missing-'));
    const js = path.join(dir, 'app.js');
    writeFileSync(js, 'function work() {}\n//# sourceMappingURL=gone/app.js.map\n');
    const profile = profileOf([[js, 1, 14, 'work']]);
    const lines = await debugLinesOf(() => new Symbolizer().symbolize(profile));
    assert.equal(framesOf(profile)[0].file, js);
    assert.equal(lines.length, 1);
    assert.match(lines[0], /names the map .*gone\/app\.js\.map, which does not exist/);
  });

  test('an inline data: URL that does not decode to a map: one debug line', async () => {
    const dir = mkdtempSync(path.join(tmp, 'inline-'));
    const js = path.join(dir, 'app.js');
    writeFileSync(js, `function work() {}\n//# sourceMappingURL=data:application/json;base64,${Buffer.from('{{{').toString('base64')}\n`);
    const profile = profileOf([[js, 1, 14, 'work']]);
    const lines = await debugLinesOf(() => new Symbolizer().symbolize(profile));
    assert.equal(framesOf(profile)[0].file, js);
    assert.equal(lines.length, 1);
    assert.match(lines[0], /not JSON/);
  });

  test('a compiled file with no map at all: unchanged, and nothing said', async () => {
    const dir = mkdtempSync(path.join(tmp, 'plain-'));
    const js = path.join(dir, 'app.js');
    writeFileSync(js, 'function work() {}\n');
    const profile = profileOf([[js, 1, 14, 'work'], ['node:internal/timers', 3, 1, 'listOnTimeout']]);
    const lines = await debugLinesOf(() => new Symbolizer().symbolize(profile));
    assert.deepEqual(framesOf(profile).map((f) => `${f.file}:${f.line}`), [`${js}:1`, 'node:internal/timers:3']);
    assert.deepEqual(lines, []);
  });

  test('a compiled file that vanished (deleted after loading): unchanged, one debug line at most', async () => {
    const js = path.join(tmp, 'never-there', 'app.js');
    const profile = profileOf([[js, 1, 14, 'work']]);
    const lines = await debugLinesOf(() => new Symbolizer().symbolize(profile));
    assert.equal(framesOf(profile)[0].file, js);
    assert.ok(lines.length <= 1);
  });

  test('dependencies under node_modules are left as published', async () => {
    const dir = path.join(tmp, 'node_modules', 'lib');
    mkdirSync(dir, { recursive: true });
    const js = path.join(dir, 'index.js');
    writeFileSync(js, 'function work() {}\n');
    writeFileSync(`${js}.map`, syntheticMap({ lines: 1 }));
    const profile = profileOf([[js, 1, 10, 'work']]);
    await new Symbolizer().symbolize(profile);
    assert.equal(framesOf(profile)[0].file, js);
  });
});

test('a map whose sources are not on disk still names them (they are on the developer’s machine, not in the image)', async () => {
  const dir = mkdtempSync(path.join(tmp, 'nosources-'));
  const js = path.join(dir, 'dist', 'app.js');
  mkdirSync(path.dirname(js));
  writeFileSync(js, 'function work() {}\n');
  writeFileSync(`${js}.map`, syntheticMap({ lines: 1, sources: ['../src/app.ts'] }));
  const profile = profileOf([[js, 1, 10, 'work']]);
  const lines = await debugLinesOf(() => new Symbolizer().symbolize(profile));
  assert.deepEqual(framesOf(profile), [{ file: path.join(dir, 'src', 'app.ts'), line: 3, name: 'work', column: 0 }]);
  assert.deepEqual(lines, []);
});

test('a name in the map replaces the compiled one; an anonymous function is named by its original position', async () => {
  const dir = mkdtempSync(path.join(tmp, 'names-'));
  const js = path.join(dir, 'bundle.js');
  writeFileSync(js, 'function fib2() {}\n(() => {})\n');
  writeFileSync(`${js}.map`, JSON.stringify({ version: 3, sources: ['src/fib.ts'], names: ['fib'], mappings: 'SAEAA;SACA' }));
  const profile = profileOf([[js, 1, 10, 'fib2'], [js, 2, 10, '(anonymous:L#2:C#10)']]);
  await new Symbolizer().symbolize(profile);
  assert.deepEqual(framesOf(profile), [
    { file: path.join(dir, 'src', 'fib.ts'), line: 3, name: 'fib', column: 0 },
    { file: path.join(dir, 'src', 'fib.ts'), line: 4, name: '(anonymous:L#4:C#1)', column: 0 },
  ]);
});

describe('huge maps', () => {
  const LINES = 400_000;
  let js;
  before(() => {
    const dir = mkdtempSync(path.join(tmp, 'huge-'));
    js = path.join(dir, 'bundle.js');
    writeFileSync(js, 'x\n');
    // 400,000 mapped lines and 40 MB of sourcesContent, like a big bundle with sources embedded.
    writeFileSync(`${js}.map`, syntheticMap({ lines: LINES, sourcesContent: ['/* source */\n'.repeat(3_000_000)] }));
  });

  test('are read, kept at about the size of their mappings text, and looked up right anywhere', async () => {
    const symbolizer = new Symbolizer();
    const probes = [1, 2, 1000, 123_457, LINES - 1, LINES];
    const profile = profileOf(probes.map((line) => [js, line, 10, `f${line}`]));
    await symbolizer.symbolize(profile);
    assert.deepEqual(framesOf(profile).map((f) => f.line), probes.map((line) => line + 2));
    const held = symbolizer.stats.mapBytes;
    // The text is ~2.4 MB of mappings; the 40 MB of sourcesContent is not kept.
    assert.ok(held < 12 * 1024 * 1024, `holds ${held} bytes`);
  });

  test('a map over the memory budget is refused with one debug line, not half-used', async () => {
    const symbolizer = new Symbolizer({ maxMapBytes: 1024 * 1024 });
    const profile = profileOf([[js, 5, 10, 'f']]);
    const lines = await debugLinesOf(() => symbolizer.symbolize(profile));
    assert.equal(framesOf(profile)[0].file, js);
    assert.equal(lines.length, 1);
    assert.match(lines[0], /over the 1048576-byte budget/);
    assert.equal(symbolizer.stats.mapBytes, 0);
  });

  test('a map file over the size limit is not even read', async () => {
    const symbolizer = new Symbolizer({ maxMapFileBytes: 1024 * 1024 });
    const profile = profileOf([[js, 5, 10, 'f']]);
    const lines = await debugLinesOf(() => symbolizer.symbolize(profile));
    assert.equal(framesOf(profile)[0].file, js);
    assert.match(lines.join('\n'), /MiB, over the 1 MiB a map may have/);
  });
});

describe('thousands of maps', () => {
  const FILES = 3000;
  const files = [];
  before(() => {
    const dir = mkdtempSync(path.join(tmp, 'many-'));
    for (let i = 0; i < FILES; i++) {
      const js = path.join(dir, `m${i}.js`);
      writeFileSync(js, `function f${i}() {}\n//# sourceMappingURL=m${i}.js.map\n`);
      writeFileSync(`${js}.map`, syntheticMap({ lines: 1, sources: [`src/m${i}.ts`], shift: i % 50 }));
      files.push(js);
    }
  });

  test('are all mapped within a small memory budget, least recently used dropped first', async () => {
    const symbolizer = new Symbolizer({ maxMapBytes: 64 * 1024 });
    const profile = profileOf(files.map((js, i) => [js, 1, 10, `f${i}`]));
    await symbolizer.symbolize(profile);
    const frames = framesOf(profile);
    frames.forEach((frame, i) => {
      assert.equal(frame.file, path.join(path.dirname(files[i]), 'src', `m${i}.ts`));
      assert.equal(frame.line, (i % 50) + 1);
    });
    assert.equal(symbolizer.stats.mapsRead, FILES);
    assert.ok(symbolizer.stats.mapBytes <= 64 * 1024, `${symbolizer.stats.mapBytes} bytes held`);
    assert.ok(symbolizer.stats.mapsEvicted > 0);
  });

  test('a later cut with the same frames reads no map again', async () => {
    const symbolizer = new Symbolizer({ maxMapBytes: 64 * 1024 });
    await symbolizer.symbolize(profileOf(files.map((js, i) => [js, 1, 10, `f${i}`])));
    const read = symbolizer.stats.mapsRead;
    const again = profileOf(files.map((js, i) => [js, 1, 10, `f${i}`]));
    await symbolizer.symbolize(again);
    assert.equal(symbolizer.stats.mapsRead, read);
    assert.equal(framesOf(again)[7].file, path.join(path.dirname(files[7]), 'src', 'm7.ts'));
  });

  test('past the deadline, maps not yet read are left for the next cut; frames keep the compiled location', async () => {
    const symbolizer = new Symbolizer();
    const profile = profileOf(files.slice(0, 10).map((js, i) => [js, 1, 10, `f${i}`]));
    await symbolizer.symbolize(profile, Date.now() - 1);
    assert.deepEqual(framesOf(profile).map((f) => f.file), files.slice(0, 10));
    assert.equal(symbolizer.stats.mapsRead, 0);
  });
});

test('sources: sourceRoot, file: URLs, and webpack:// URLs (shown as the map names them, as Node does)', async () => {
  const dir = mkdtempSync(path.join(tmp, 'sources-'));
  const cases = [
    [{ sourceRoot: '/build/', sources: ['src/a.ts'] }, '/build/src/a.ts'],
    [{ sourceRoot: '../lib', sources: ['b.ts'] }, path.join(path.dirname(dir), 'lib', 'b.ts')],
    [{ sources: ['file:///opt/app/src/c.ts'] }, '/opt/app/src/c.ts'],
    [{ sources: ['webpack://shop/./src/d.ts'] }, 'webpack://shop/./src/d.ts'],
  ];
  for (const [i, [fields, expected]] of cases.entries()) {
    const js = path.join(dir, `f${i}.js`);
    writeFileSync(js, 'function work() {}\n');
    writeFileSync(`${js}.map`, JSON.stringify({ version: 3, names: [], mappings: 'SAEA', ...fields }));
    const profile = profileOf([[js, 1, 10, 'work']]);
    await new Symbolizer().symbolize(profile);
    assert.deepEqual(framesOf(profile)[0], { file: expected, line: 3, name: 'work', column: 0 }, JSON.stringify(fields));
  }
});
