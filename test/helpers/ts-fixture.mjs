// Builds the TypeScript fixture (fixtures/ts-app) the way users ship TypeScript: `tsc --sourceMap`
// (a .js.map beside each .js), `tsc --inlineSourceMap` (data: URL comments) or an esbuild bundle (one
// file and its map; also minified). Each build goes to its own temp directory with the fixture's package.json, so
// the service name is the fixture's; the maps point back at fixtures/ts-app/src/*.ts.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fixturePath, repoRoot } from './spawn-app.mjs';

const run = promisify(execFile);

export const TS_APP_DIR = fixturePath('ts-app');
export const TS_SOURCES = path.join(TS_APP_DIR, 'src');

/** The builds tests can ask for; esbuild-min is one minified line (names mangled, only the map has them). */
export const TS_BUILDS = ['tsc-maps', 'tsc-inline', 'esbuild', 'esbuild-min'];

/**
 * Compiles the fixture; returns { dir, entry, outDir } (dir: the temp root to remove with `cleanup`).
 */
export async function buildTsFixture(kind, { sourcesDir = TS_SOURCES } = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), `span-profiles-${kind}-`));
  copyFileSync(path.join(TS_APP_DIR, 'package.json'), path.join(dir, 'package.json'));
  const outDir = path.join(dir, 'dist');
  mkdirSync(outDir);
  if (kind === 'esbuild' || kind === 'esbuild-min') {
    const esbuild = path.join(repoRoot, 'node_modules', '.bin', 'esbuild');
    await run(esbuild, [
      path.join(sourcesDir, 'main.ts'),
      '--bundle',
      '--platform=node',
      '--format=cjs',
      '--target=node22',
      '--sourcemap',
      `--outfile=${path.join(outDir, 'main.js')}`,
      '--log-level=warning',
      ...(kind === 'esbuild-min' ? ['--minify'] : []),
    ]);
  } else {
    const tsc = path.join(repoRoot, 'node_modules', '.bin', 'tsc');
    await run(tsc, [
      ...tscOptions(),
      kind === 'tsc-inline' ? '--inlineSourceMap' : '--sourceMap',
      '--rootDir',
      sourcesDir,
      '--outDir',
      outDir,
      ...['main.ts', 'hot.ts'].map((f) => path.join(sourcesDir, f)),
    ], { cwd: dir }); // away from the repository's tsconfig.json
  }
  return { dir, entry: path.join(outDir, 'main.js'), outDir };
}

/** tsc options for a Node service in CommonJS, types from this repository. */
export function tscOptions() {
  return [
    '--module', 'commonjs',
    '--target', 'es2022',
    '--strict',
    '--skipLibCheck',
    '--typeRoots', path.join(repoRoot, 'node_modules', '@types'),
    '--types', 'node',
  ];
}

export function cleanup(build) {
  rmSync(build.dir, { recursive: true, force: true });
}

/**
 * The line range of a function in a .ts file, from its `// hot:<name>:start` and `:end` markers:
 * { file, first, last } (1-based, the function's own lines).
 */
export function markedFunction(name, file = path.join(TS_SOURCES, 'hot.ts')) {
  const lines = readFileSync(file, 'utf8').split('\n');
  const start = lines.findIndex((l) => l.includes(`hot:${name}:start`));
  const end = lines.findIndex((l) => l.includes(`hot:${name}:end`));
  if (start < 0 || end < 0) throw new Error(`no markers for ${name} in ${file}`);
  return { file, first: start + 2, last: end };
}
