// The /autoinstrumentation tree of the container image, built by the same script the Dockerfile runs
// (autoinstrumentation/build.mjs) into a temp dir: its size against the Operator's default volume,
// its native prebuilds, its permissions, and fixture apps run from another directory with only
// NODE_OPTIONS=--require <tree>/autoinstrumentation.js, as the Operator injects it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { startOtlpReceiver } from '../helpers/otlp-receiver.mjs';
import { startPyroscopeReceiver } from '../helpers/pyroscope-receiver.mjs';
import { fixturePath, nodeBinary, pinnedNode, repoRoot, spawnApp } from '../helpers/spawn-app.mjs';
import { buildTsFixture, cleanup, markedFunction } from '../helpers/ts-fixture.mjs';

const run = promisify(execFile);
const MIB = 1024 * 1024;
/** The OpenTelemetry Operator's default emptyDir sizeLimit for the copied tree. */
const OPERATOR_VOLUME_LIMIT = 200 * MIB;
/** Our own budget: half the Operator's volume, so a bloating dependency is noticed long before pods fail. */
const TREE_BUDGET = 100 * MIB;
const WANTED_PREBUILD_DIRS = ['linux-arm64', 'linux-x64'];
/** Node 22, 24 and 26 (the supported majors) by their NODE_MODULE_VERSION. */
const SUPPORTED_ABIS = { 22: 127, 24: 137, 26: 147 };
const ENTRY = 'autoinstrumentation.js';

let workDir;
let treeDir;
let buildLog = '';

/** A server span's request path, by the stable (url.path) or the older (http.target) convention. */
function requestPathOf(span) {
  return span.attributes['url.path'] ?? String(span.attributes['http.target'] ?? '').split('?')[0];
}

/**
 * The profile type Pyroscope stores an /ingest pprof upload under (name:sampleType:unit:periodType:unit):
 * a profile with a cpu/nanoseconds period and no wall sample type is `process_cpu`, its value the
 * cpu/nanoseconds sample type (research/pyroscope.md).
 */
function pyroscopeProfileTypeId(upload) {
  const hasWall = upload.sampleTypes.some((type) => type.startsWith('wall/'));
  const name = upload.periodType === 'cpu/nanoseconds' && !hasWall ? 'process_cpu' : upload.periodType.split('/')[0];
  const value = upload.sampleTypes.find((type) => type !== 'samples/count') ?? upload.sampleTypes[0];
  return [name, ...value.split('/'), ...upload.periodType.split('/')].join(':');
}

/** Every entry under `dir`: { path, stat } with lstat (links are not followed). */
function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    const stat = lstatSync(full);
    out.push({ path: full, stat });
    if (stat.isDirectory()) walk(full, out);
  }
  return out;
}

before(async () => {
  workDir = mkdtempSync(path.join(os.tmpdir(), 'span-profiles-image-test-'));
  treeDir = path.join(workDir, 'autoinstrumentation');
  // --skip-build: `npm test` has just built dist/; the build script packs it as it is.
  const { stdout, stderr } = await run(
    pinnedNode(),
    [path.join(repoRoot, 'autoinstrumentation', 'build.mjs'), treeDir, '--skip-build'],
    { cwd: repoRoot, maxBuffer: 16 * MIB, timeout: 8 * 60 * 1000 },
  );
  buildLog = `${stdout}${stderr}`;
});

after(() => {
  if (workDir && !process.env.KEEP_TEST_ARTIFACTS) rmSync(workDir, { recursive: true, force: true });
});

describe('the /autoinstrumentation tree', () => {
  test('has the CJS entry, pinned to CommonJS, requiring the register from its own node_modules', () => {
    const entry = readFileSync(path.join(treeDir, ENTRY), 'utf8');
    assert.match(entry, /require\('@acme\/span-profiles\/register'\)/);
    assert.equal(JSON.parse(readFileSync(path.join(treeDir, 'package.json'), 'utf8')).type, 'commonjs');
    const register = createRequire(path.join(treeDir, ENTRY)).resolve('@acme/span-profiles/register');
    assert.equal(register, path.join(treeDir, 'node_modules', '@acme', 'span-profiles', 'dist', 'register.js'));
  });

  test('holds the package, and its production dependencies at the lockfile versions, without dev-only ones', () => {
    const ours = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
    const packed = JSON.parse(
      readFileSync(path.join(treeDir, 'node_modules', '@acme', 'span-profiles', 'package.json'), 'utf8'),
    );
    assert.equal(packed.version, ours.version);
    // The build hoists `npm ci` of the packed package into the tree, so lockfile paths are tree paths.
    const lock = JSON.parse(readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8'));
    const wrong = [];
    for (const [lockPath, entry] of Object.entries(lock.packages)) {
      // @types packages are runtime dependencies of some instrumentations, pruned on purpose.
      if (!lockPath.startsWith('node_modules/') || lockPath.includes('@types/')) continue;
      const manifest = path.join(treeDir, lockPath, 'package.json');
      if (entry.dev) {
        if (existsSync(manifest)) wrong.push(`${lockPath}: dev-only, yet in the tree`);
      } else if (!existsSync(manifest)) {
        if (!entry.optional) wrong.push(`${lockPath}: missing`);
      } else {
        const { version } = JSON.parse(readFileSync(manifest, 'utf8'));
        if (version !== entry.version) wrong.push(`${lockPath}: ${version}, locked ${entry.version}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  test("is well under the Operator's default 200 MiB volume", (t) => {
    let diskBytes = 0;
    let bytes = 0;
    let files = 0;
    for (const { stat } of walk(treeDir)) {
      diskBytes += stat.blocks * 512;
      if (!stat.isDirectory()) {
        bytes += stat.size;
        files += 1;
      }
    }
    t.diagnostic(`tree: ${(diskBytes / MIB).toFixed(1)} MiB on disk, ${(bytes / MIB).toFixed(1)} MiB in ${files} files`);
    assert.match(buildLog, /MiB on disk/, 'the build script prints the tree size');
    assert.ok(diskBytes < OPERATOR_VOLUME_LIMIT, `${diskBytes} bytes fit the Operator's ${OPERATOR_VOLUME_LIMIT}`);
    assert.ok(diskBytes < TREE_BUDGET, `${(diskBytes / MIB).toFixed(1)} MiB is within the ${TREE_BUDGET / MIB} MiB budget`);
  });

  test('keeps native prebuilds for linux x64 and arm64 only, glibc and musl, for Node 22, 24 and 26', () => {
    const prebuildDirs = walk(treeDir).filter((e) => e.stat.isDirectory() && path.basename(e.path) === 'prebuilds');
    assert.ok(prebuildDirs.length > 0, 'the tree has the native profiler prebuilds');
    for (const { path: dir } of prebuildDirs) {
      assert.deepEqual(readdirSync(dir).sort(), WANTED_PREBUILD_DIRS, `platforms in ${path.relative(treeDir, dir)}`);
    }
    const pprofPrebuilds = path.join(treeDir, 'node_modules', '@datadog', 'pprof', 'prebuilds');
    for (const platform of WANTED_PREBUILD_DIRS) {
      const names = readdirSync(path.join(pprofPrebuilds, platform));
      for (const [major, abi] of Object.entries(SUPPORTED_ABIS)) {
        assert.ok(names.includes(`dd_pprof.node.abi${abi}.node`), `${platform} glibc build for Node ${major}`);
        assert.ok(names.includes(`dd_pprof.musl.node.abi${abi}.node`), `${platform} musl build for Node ${major}`);
      }
    }
  });

  test('has no source maps, TypeScript, @types, docs or links', () => {
    const unwanted = walk(treeDir)
      .filter(({ path: p, stat }) =>
        stat.isSymbolicLink() ||
        (stat.isDirectory() && ['@types', '.bin'].includes(path.basename(p))) ||
        (!stat.isDirectory() && /\.(?:map|ts|mts|cts|md)$/.test(p) && !/licen[cs]e/i.test(path.basename(p))),
      )
      .map(({ path: p }) => path.relative(treeDir, p));
    assert.deepEqual(unwanted.slice(0, 20), []);
  });

  test('is readable by any user: files o+r, folders o+rx', () => {
    const closed = walk(treeDir)
      .filter(({ stat }) => (stat.isDirectory() ? (stat.mode & 0o005) !== 0o005 : (stat.mode & 0o004) === 0))
      .map(({ path: p, stat }) => `${path.relative(treeDir, p)} ${(stat.mode & 0o777).toString(8)}`);
    assert.deepEqual(closed.slice(0, 20), []);
    assert.equal(lstatSync(treeDir).mode & 0o005, 0o005);
  });

  test('still loads every OpenTelemetry instrumentation after pruning', async () => {
    const probe = `
      const r = require('node:module').createRequire(${JSON.stringify(path.join(treeDir, 'node_modules', '@acme', 'span-profiles', 'package.json'))});
      const all = r('@opentelemetry/auto-instrumentations-node').getNodeAutoInstrumentations();
      r('@opentelemetry/sdk-node'); r('@datadog/pprof'); r('import-in-the-middle');
      console.log(all.length);`;
    const { stdout } = await run(pinnedNode(), ['-e', probe], { cwd: workDir, env: { PATH: process.env.PATH } });
    assert.ok(Number(stdout.trim()) > 20, `instrumentations loaded: ${stdout.trim()}`);
  });
});

describe('the Dockerfile', () => {
  const dockerfile = readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
  const stages = dockerfile.split(/^FROM\s+/m).slice(1);

  test('builds the tree with this script in a Node stage and copies it into a small final stage', () => {
    assert.ok(stages.length >= 2, 'multi-stage');
    assert.match(stages[0], /^(?:--platform=\S+\s+)?\$\{NODE_IMAGE\}|^(?:--platform=\S+\s+)?node:/);
    assert.match(stages[0], /^RUN node autoinstrumentation\/build\.mjs \/autoinstrumentation$/m);
    const final = stages.at(-1);
    assert.match(dockerfile, /^ARG RUNTIME_IMAGE=busybox:/m, 'the final stage has a cp (busybox)');
    assert.match(final, /^COPY --from=build \/autoinstrumentation \/autoinstrumentation$/m);
    const user = final.match(/^USER\s+(\d+)/m);
    assert.ok(user && Number(user[1]) !== 0, 'the final stage runs as a non-root user');
  });

  test('documents the COPY --from way and sends the build script its inputs', () => {
    assert.match(dockerfile, /COPY --from=\S+ \/autoinstrumentation \/autoinstrumentation/);
    const dockerignore = readFileSync(path.join(repoRoot, '.dockerignore'), 'utf8');
    for (const needed of ['package.json', 'package-lock.json', 'tsconfig.json', 'src', 'autoinstrumentation']) {
      assert.ok(dockerignore.split('\n').includes(`!${needed}`), `.dockerignore lets ${needed} in`);
    }
    // What npm pack ships, except dist/ (built in the image), must reach the build too.
    const { files } = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
    for (const shipped of files.filter((entry) => entry !== 'dist')) {
      assert.ok(dockerignore.split('\n').includes(`!${shipped}`), `.dockerignore lets ${shipped} (package.json files) in`);
    }
  });
});

describe('apps run with only NODE_OPTIONS=--require <tree>/autoinstrumentation.js', () => {
  let otlp;
  let pyroscope;
  let appsDir;

  before(async () => {
    [otlp, pyroscope] = await Promise.all([startOtlpReceiver(), startPyroscopeReceiver()]);
    appsDir = path.join(workDir, 'apps');
  });
  after(async () => {
    await Promise.all([otlp?.close(), pyroscope?.close()]);
  });

  /** Copies a fixture to a directory from which none of the agent's packages resolve. */
  function isolatedFixture(name, copyName = name) {
    const dir = path.join(appsDir, copyName);
    cpSync(fixturePath(name), dir, { recursive: true, filter: (src) => path.basename(src) !== 'node_modules' });
    assert.throws(
      () => createRequire(path.join(dir, 'package.json')).resolve('@opentelemetry/api'),
      { code: 'MODULE_NOT_FOUND' },
      `no node_modules with the agent's dependencies is reachable from ${dir}`,
    );
    return dir;
  }

  async function runUnderImageTree({ fixture, entry, serviceName, cpuFunction, requests, node = pinnedNode() }) {
    const appDir = isolatedFixture(fixture, serviceName);
    const entryPath = path.join(treeDir, ENTRY);
    assert.doesNotMatch(entryPath, /\s/, 'the Operator puts the path in NODE_OPTIONS unquoted');
    const app = await spawnApp({
      app: path.join(appDir, entry),
      loader: 'none',
      nodeBinary: node,
      env: {
        NODE_OPTIONS: `--require ${entryPath}`,
        NODE_PATH: undefined,
        OTEL_SERVICE_NAME: serviceName,
        OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
        OTEL_BSP_SCHEDULE_DELAY: '200',
        PYROSCOPE_SERVER_ADDRESS: pyroscope.url,
        PYROSCOPE_UPLOAD_INTERVAL: '1s',
      },
    });
    for (const requestPath of requests) {
      const response = await app.request(requestPath);
      assert.equal(response.status, 200, `${requestPath} answered`);
    }

    // Root server spans of the CPU route, with the attribute Grafana follows to the profile.
    const cpuRoots = await otlp.waitForSpans((spans) => {
      const roots = spans.filter(
        (s) => s.resource['service.name'] === serviceName && s.kind === 'SERVER' && requestPathOf(s) === '/cpu',
      );
      return roots.length === requests.filter((r) => r.startsWith('/cpu')).length ? roots : undefined;
    });
    for (const span of cpuRoots) assert.equal(span.attributes['pyroscope.profile.id'], span.spanId);
    const rootsById = new Map(cpuRoots.map((span) => [span.spanId, span]));

    // CPU samples labelled with those spans, burned in the route's own function.
    const linked = await pyroscope.waitForUploads((uploads) => {
      const samples = uploads
        .filter((u) => u.appName === serviceName)
        .flatMap((u) => u.samples)
        .filter((s) => rootsById.has(s.labels.span_id));
      return samples.some((s) => s.stack.includes(cpuFunction)) ? samples : undefined;
    });
    for (const sample of linked) {
      const span = rootsById.get(sample.labels.span_id);
      assert.equal(sample.labels.trace_id, span.traceId);
      assert.equal(sample.labels.span_name, span.name);
    }
    assert.doesNotMatch(app.stderr(), /could not be loaded|agent failed to start/);
    const linkedUploads = pyroscope.uploads.filter((u) => u.samples.some((s) => rootsById.has(s.labels.span_id)));
    return { app, cpuRoots, linked, linkedUploads };
  }

  test('a CommonJS http server: spans at the OTLP receiver, linked CPU profiles at Pyroscope', async () => {
    const { linkedUploads } = await runUnderImageTree({
      fixture: 'http-server',
      entry: 'index.js',
      serviceName: 'image-tree-cjs',
      cpuFunction: 'burnHttpCpu',
      requests: ['/', '/cpu?ms=150', '/cpu?ms=150', '/cpu?ms=150'],
    });
    // Grafana's Tempo data source in the example asks Pyroscope for this profile type: it must be
    // the type the linked samples are stored under.
    const { datasources } = parseYaml(
      readFileSync(path.join(repoRoot, 'examples/grafana/grafana/provisioning/datasources/datasources.yaml'), 'utf8'),
    );
    const configured = datasources.find((ds) => ds.type === 'tempo').jsonData.tracesToProfiles.profileTypeId;
    assert.deepEqual([...new Set(linkedUploads.map(pyroscopeProfileTypeId))], [configured]);
  });

  test('an ES module app (the ESM hook comes from the tree too): nested spans and linked profiles', async () => {
    const { cpuRoots } = await runUnderImageTree({
      fixture: 'esm-app',
      entry: 'index.mjs',
      serviceName: 'image-tree-esm',
      cpuFunction: 'burnEsmCpu',
      requests: ['/outgoing', '/cpu?ms=150', '/cpu?ms=150', '/cpu?ms=150'],
    });
    assert.ok(cpuRoots.length > 0);
    const client = await otlp.waitForSpans((spans) =>
      spans.find((s) => s.resource['service.name'] === 'image-tree-esm' && s.kind === 'CLIENT'),
    );
    const parent = otlp.spans.find((s) => s.spanId === client.parentSpanId);
    assert.equal(parent && requestPathOf(parent), '/outgoing', 'the outgoing call is a child of its request');
  });

  // The same tree serves every app image: Node 22 (no AsyncContextFrame by default) and 26 load
  // their own ABI's prebuild from it.
  for (const major of [22, 26]) {
    test(`the same tree under Node ${major}: spans and linked CPU profiles`, async () => {
      await runUnderImageTree({
        fixture: 'http-server',
        entry: 'index.js',
        serviceName: `image-tree-node${major}`,
        cpuFunction: 'burnHttpCpu',
        requests: ['/cpu?ms=150', '/cpu?ms=150', '/cpu?ms=150'],
        node: await nodeBinary(major),
      });
    });
  }

  // The source mapper and the heap profiler come from the same tree (the heap profiler is in
  // the native addon): a TypeScript app's frames at its .ts lines, heap profiles as Pyroscope memory types.
  test('a TypeScript app from the tree: CPU frames at their .ts lines, heap profiles on by default', async () => {
    const build = await buildTsFixture('tsc-maps');
    try {
      const app = await spawnApp({
        app: build.entry,
        loader: 'none',
        env: {
          NODE_OPTIONS: `--require ${path.join(treeDir, ENTRY)}`,
          NODE_PATH: undefined,
          OTEL_SERVICE_NAME: 'image-tree-ts',
          OTEL_TRACES_EXPORTER: 'none',
          PYROSCOPE_SERVER_ADDRESS: pyroscope.url,
          PYROSCOPE_UPLOAD_INTERVAL: '1s',
          SPAN_PROFILES_HEAP: undefined, // the default
        },
      });
      for (let i = 0; i < 4; i++) assert.equal((await app.request('/retain?count=20000')).status, 200);
      for (let i = 0; i < 4; i++) assert.equal((await app.request('/?ms=100')).status, 200);
      const mine = () => pyroscope.uploads.filter((u) => u.appName === 'image-tree-ts');
      // The CPU profile of /retain also holds retainRecords: look for the heap upload only.
      const heap = await pyroscope.waitForUploads(() =>
        mine().find((u) => u.periodType === 'space/bytes' && u.samples.some((s) => s.stack.includes('retainRecords'))),
      );
      // Pyroscope names these memory:inuse_objects:count:space:bytes and memory:inuse_space:bytes:space:bytes (heap-e2e).
      assert.deepEqual(heap.sampleTypes, ['inuse_objects/count', 'inuse_space/bytes']);
      assert.equal(heap.periodType, 'space/bytes');
      // A heap upload can hold computeFibonacci too (V8 charges what it allocates for the running function,
      // feedback vectors and code, to it): wait for a CPU upload with it.
      const cpuUploads = () => mine().filter((u) => u.sampleTypes.includes('cpu/nanoseconds'));
      await pyroscope.waitForUploads(() => cpuUploads().some((u) => u.samples.some((s) => s.stack.includes('computeFibonacci'))));
      const { file, first, last } = markedFunction('computeFibonacci');
      const frames = cpuUploads()
        .flatMap((u) => {
          const strings = u.profile.stringTable.strings;
          const fns = new Map(u.profile.function.map((f) => [Number(f.id), f]));
          return u.profile.location.flatMap((l) => l.line.map((line) => ({ fn: fns.get(Number(line.functionId)), line: Number(line.line), strings })));
        })
        .filter(({ fn, strings }) => strings[Number(fn.name)] === 'computeFibonacci');
      assert.ok(frames.length > 0);
      for (const { fn, line, strings } of frames) {
        assert.equal(strings[Number(fn.filename)], file);
        assert.ok(line >= first && line <= last, `line ${line} outside ${first}..${last}`);
      }
      assert.doesNotMatch(app.stderr(), /could not be loaded|agent failed to start|heap profiling is off/);
    } finally {
      cleanup(build);
    }
  });
});
