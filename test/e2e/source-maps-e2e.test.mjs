// A TypeScript service compiled three ways (tsc with .js.map files, tsc with
// inline maps, an esbuild bundle) runs under the agent; the CPU-heavy functions of hot.ts show up in the
// profile uploaded to Pyroscope and in the one stored locally with their .ts file and a line inside the
// function's .ts body. Decoded with `go tool pprof -raw`. With SPAN_PROFILES_SOURCE_MAPS=false the .js
// locations come back; under `node --enable-source-maps` the result is the same as without.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../helpers/cli-run.mjs';
import { goPprofRaw, goPprofSkipReason } from '../helpers/go-pprof.mjs';
import { readPprofFile } from '../helpers/pprof-samples.mjs';
import { startPyroscopeReceiver } from '../helpers/pyroscope-receiver.mjs';
import { killAllApps, spawnApp } from '../helpers/spawn-app.mjs';
import { buildTsFixture, cleanup, markedFunction, TS_BUILDS } from '../helpers/ts-fixture.mjs';
import { storeHoldsLoad, waitUntil } from '../helpers/wait-for.mjs';
import { WORK_FUNCTION_LINE, writeManyModulesApp } from '../../bench/workload/many-modules.mjs';

/**
 * The lines (from 1) of a compiled file that its source map (`<file>.map`, or inline) maps to no source at all:
 * code the compiler wrote, such as tsc's module helpers at the top of the file.
 */
function linesWithoutSource(file) {
  const text = readFileSync(file, 'utf8');
  const inline = /\/\/# sourceMappingURL=data:application\/json;(?:charset=utf-8;)?base64,(\S+)/.exec(text);
  const map = inline ? JSON.parse(Buffer.from(inline[1], 'base64').toString('utf8')) : existsSync(`${file}.map`) ? JSON.parse(readFileSync(`${file}.map`, 'utf8')) : undefined;
  const lines = new Set();
  if (map === undefined) return lines;
  map.mappings.split(';').forEach((segments, i) => {
    if (segments === '') lines.add(i + 1);
  });
  return lines;
}

after(killAllApps);

const skip = goPprofSkipReason();
const HOT = ['computeFibonacci', 'spinChecksum'];

/** Every frame of the profile's samples named `name`: [{name, file, line}]. */
function framesNamed(raw, name) {
  const frames = [];
  for (const location of raw.locations.values()) for (const frame of location) if (frame.name === name) frames.push(frame);
  return frames;
}

/**
 * Runs `build` under the agent with both destinations, loads it until an upload and a stored profile hold
 * both hot functions, and returns both decoded by go tool pprof: { uploaded, stored, stderr }.
 */
async function profileOf(build, { env = {}, args = [] } = {}) {
  const receiver = await startPyroscopeReceiver();
  try {
    const app = await spawnApp({
      app: build.entry,
      args,
      env: {
        PYROSCOPE_SERVER_ADDRESS: receiver.url,
        SPAN_PROFILES_STORE: 'always',
        PYROSCOPE_UPLOAD_INTERVAL: '2s',
        OTEL_TRACES_EXPORTER: 'none',
        OTEL_LOG_LEVEL: 'debug',
        ...env,
      },
    });
    const hasHot = (upload) => HOT.every((name) => upload.samples.some((s) => s.stack.includes(name)));
    const load = setInterval(() => void app.request('/?ms=100').catch(() => undefined), 150);
    let upload;
    try {
      upload = await receiver.waitForUploads((all) => all.find(hasHot), 30_000);
    } finally {
      clearInterval(load);
    }
    const serviceDir = path.join(app.storeDir, 'fixture-ts-app');
    const storedFile = await waitUntil(
      () => {
        if (!existsSync(serviceDir)) return undefined;
        const names = readdirSync(serviceDir).filter((n) => n.endsWith('.cpu.pb.gz')).sort();
        const found = names.map((n) => path.join(serviceDir, n)).find((file) => hasHot(readPprofFile(file)));
        return found;
      },
      { timeoutMs: 20_000, what: `a stored profile with ${HOT.join(' and ')} in ${serviceDir}` },
    );
    const uploadFile = path.join(build.dir, 'upload.pb.gz');
    writeFileSync(uploadFile, upload.body);
    const [uploaded, stored] = await Promise.all([goPprofRaw(uploadFile), goPprofRaw(storedFile)]);
    // The command reads the store as a user would, before the test's store directory goes away.
    const report = await runCli(['report', '--details', '1', app.storeDir]);
    await app.dispose?.();
    return { uploaded, stored, stderr: app.stderr(), report };
  } finally {
    await receiver.close();
  }
}

function assertMappedToTs(raw, where) {
  for (const name of HOT) {
    const { file, first, last } = markedFunction(name);
    const frames = framesNamed(raw, name);
    assert.ok(frames.length > 0, `${where}: no ${name} frame`);
    for (const frame of frames) {
      assert.equal(frame.file, file, `${where}: ${name} at ${frame.file}:${frame.line}, expected ${file}`);
      assert.ok(frame.line >= first && frame.line <= last, `${where}: ${name} at line ${frame.line}, outside its .ts body ${first}..${last}`);
    }
  }
}

for (const kind of TS_BUILDS) {
  describe(`source maps, ${kind}`, { skip }, () => {
    let build;
    let run;
    before(async () => {
      build = await buildTsFixture(kind);
      run = await profileOf(build);
    });
    after(() => build && cleanup(build));

    test('the uploaded profile names the .ts file and a line inside each hot function', () => {
      assertMappedToTs(run.uploaded, 'upload');
    });

    test('the stored profile does too', () => {
      assertMappedToTs(run.stored, 'store');
    });

    test('no function of the app points at its compiled .js any more', () => {
      for (const raw of [run.uploaded, run.stored]) {
        for (const location of raw.locations.values()) {
          for (const frame of location) {
            // A module's top-level code runs at line 1 of the compiled file (pprof's `(anonymous:L#1:C#1)`
            // when a cut catches the app loading), which tsc's maps do not cover: it stays compiled.
            if (frame.name === '(anonymous:L#1:C#1)' && frame.line === 1) continue;
            // esbuild's runtime helpers (`__toESM`, `__commonJS`, ...) are code it writes, with no source in
            // its map: a sample in one while the app loads its modules stays compiled. The app has no `__` names.
            if (kind === 'esbuild' && /^__[A-Za-z]+$/.test(frame.name)) continue;
            // tsc's helpers (`__createBinding`, `__importStar`, ...: anonymous functions on the lines above the
            // app's code) have no source either: a line the map maps to nothing has nothing to point at.
            if (frame.file.startsWith(build.outDir) && linesWithoutSource(frame.file).has(frame.line)) continue;
            assert.ok(!frame.file.startsWith(build.outDir), `${frame.name} still at ${frame.file}:${frame.line}`);
          }
        }
      }
    });

    test('span-profiles report shows the hot functions at their .ts lines', () => {
      const out = run.report;
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, /(computeFib|spinChecks)\S*\s+\S*hot\.ts:\d+/, out.stdout); // names may be cut to fit 80 columns
      assert.doesNotMatch(out.stdout, /dist\/(hot|main)\.js/);
    });

    test('nothing was reported as a broken or missing map', () => {
      assert.doesNotMatch(run.stderr, /source maps: /);
    });
  });
}

describe('source maps turned off, and under node --enable-source-maps', { skip }, () => {
  let build;
  before(async () => {
    build = await buildTsFixture('tsc-maps');
  });
  after(() => build && cleanup(build));

  test('SPAN_PROFILES_SOURCE_MAPS=false brings the compiled .js locations back', async () => {
    const { uploaded, stored } = await profileOf(build, { env: { SPAN_PROFILES_SOURCE_MAPS: 'false' } });
    for (const raw of [uploaded, stored]) {
      for (const name of HOT) {
        const frames = framesNamed(raw, name);
        assert.ok(frames.length > 0, `no ${name} frame`);
        for (const frame of frames) assert.equal(frame.file, path.join(build.outDir, 'hot.js'));
      }
    }
  });

  test('node --enable-source-maps gives the same .ts locations', async () => {
    const plain = await profileOf(build);
    const withNodeMaps = await profileOf(build, { args: ['--enable-source-maps'] });
    assertMappedToTs(withNodeMaps.uploaded, 'upload under --enable-source-maps');
    assertMappedToTs(withNodeMaps.stored, 'store under --enable-source-maps');
    const locationsOf = (raw) =>
      HOT.flatMap((name) => framesNamed(raw, name).map((f) => `${f.name} ${f.file}:${f.line}`)).sort();
    assert.deepEqual(locationsOf(withNodeMaps.stored), locationsOf(plain.stored));
  });
});


describe('an app of 2,000 compiled modules, each with its map', { skip }, () => {
  const MODULES = 2000;
  let dir;
  let app;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'span-profiles-many-maps-'));
    app = await writeManyModulesApp(dir, MODULES);
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  test('every module function the profile names is reported at its .ts line, none at its .js', async () => {
    const running = await spawnApp({
      app: app.entry,
      env: { PYROSCOPE_UPLOAD_INTERVAL: '1s', PYROSCOPE_PROFILING_INTERVAL: '1ms', OTEL_TRACES_EXPORTER: 'none', OTEL_LOG_LEVEL: 'debug' },
    });
    // Each request runs every module's function once (~14 ms of CPU): 120 requests give ~1,700 samples at 1 ms,
    // which name ~1,100 of the 2,000 modules (40 gave ~560 samples and ~490 modules: at the threshold below).
    for (let i = 0; i < 120; i++) await running.request('/?n=5000');
    const serviceDir = path.join(running.storeDir, `many-modules-${MODULES}`);
    // Wait for the cut after the load (a file whose interval ends after it), symbolized and stored.
    const loadEnd = Date.now();
    const files = await waitUntil(
      () => {
        if (!existsSync(serviceDir)) return undefined;
        const names = readdirSync(serviceDir).filter((n) => n.endsWith('.cpu.pb.gz')).sort();
        if (names.length === 0) return undefined;
        // The latest cut is the last file.
        const { profile } = readPprofFile(path.join(serviceDir, names.at(-1)));
        return storeHoldsLoad((Number(profile.timeNanos) + Number(profile.durationNanos)) / 1e6, loadEnd, 1000) && names;
      },
      { timeoutMs: 30_000, what: `a profile cut after the load in ${serviceDir}` },
    );
    const ts = new Set();
    const js = [];
    for (const name of files) {
      const { profile } = readPprofFile(path.join(serviceDir, name));
      const str = (i) => profile.stringTable.strings[Number(i)];
      const fns = new Map(profile.function.map((f) => [Number(f.id), f]));
      for (const location of profile.location) {
        for (const line of location.line) {
          const fn = fns.get(Number(line.functionId));
          const file = str(fn.filename);
          // A module's top-level code (pprof's `(anonymous:L#1:C#1)`) runs at line 1 of the compiled file,
          // which tsc's map does not cover: it keeps its compiled location, as in Node's stack traces.
          if (/\/m\d+\.js$/.test(file) && /^work\d+$/.test(str(fn.name))) js.push(`${str(fn.name)} ${file}:${line.line}`);
          if (/\/m\d+\.ts$/.test(file)) {
            ts.add(file);
            assert.equal(Number(line.line), WORK_FUNCTION_LINE, `${str(fn.name)} at ${file}:${line.line}`);
          }
        }
      }
    }
    assert.deepEqual(js, []);
    assert.ok(ts.size >= MODULES / 4, `only ${ts.size} modules in the profiles`);
    assert.doesNotMatch(running.stderr(), /source maps: |\[span-profiles\] (warn|error)/);
  });
});
