#!/usr/bin/env node
// Builds the self-contained /autoinstrumentation tree of the span-profiles image:
//
//   <out>/autoinstrumentation.js              CJS entry: require('@acme/span-profiles/register')
//   <out>/package.json                        pins "type": "commonjs" wherever the tree is copied
//   <out>/node_modules/@acme/span-profiles    this package, as `npm pack` ships it
//   <out>/node_modules/...                    its production dependencies, at the lockfile's versions
//
// The Dockerfile runs this script, and so does test/e2e/autoinstrumentation.test.mjs: what goes into the
// image is tested on machines without a Docker engine.
//
//   node autoinstrumentation/build.mjs <out-dir> [--skip-build]
//
// --skip-build packs the dist/ already built instead of running `npm run build` first (the tests
// use it: `npm test` has just built dist/). <out-dir> must be empty or absent.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PACKAGE_DIR = path.resolve(HERE, '..');
const ENTRY_FILE = 'autoinstrumentation.js';

/** The OpenTelemetry Operator's default emptyDir size limit for the copied tree. */
export const OPERATOR_VOLUME_LIMIT_BYTES = 200 * 1024 * 1024;

/** Native prebuild directories kept: Linux on x64 and arm64 (each holds the glibc and the musl builds). */
export const KEPT_PREBUILD_PLATFORMS = Object.freeze(['linux-x64', 'linux-arm64']);

// Package-root folders that no code loads. Only at a package's root: deeper down, names like `doc`
// can be runtime code (yaml/dist/doc).
const PACKAGE_ROOT_JUNK_DIRS = new Set([
  'test', 'tests', '__tests__', 'docs', 'doc', 'example', 'examples', 'benchmark', 'benchmarks',
  'coverage', '.nyc_output', '.github', '.vscode', '.idea',
]);
// Files no code loads: source maps, TypeScript sources and declarations, docs, tool configs.
const JUNK_FILE_PATTERNS = [
  /\.map$/i,
  /\.(?:ts|mts|cts)$/i, // .d.ts, .d.mts, .d.cts and TypeScript sources
  /\.(?:md|markdown)$/i, // licence texts are kept, see LICENSE_LIKE
  /\.tsbuildinfo$/i,
  /^\.(?:npmignore|jshintrc|editorconfig|travis\.yml|gitattributes|gitmodules|eslintignore|prettierignore)$/i,
  /^\.(?:eslintrc|prettierrc|babelrc|nycrc|mocharc)(?:\..*)?$/i,
];
const LICENSE_LIKE = /^(?:licen[cs]e|notice|copying|authors|third[-_]party)/i;

function log(message) {
  process.stdout.write(`[build-autoinstrumentation] ${message}\n`);
}

function fail(message) {
  throw new Error(message);
}

/**
 * The environment for child npm runs: this Node first on PATH (so npm and the build run on the Node
 * that runs this script), and no npm_* variables inherited from an enclosing `npm run` (a parent's
 * npm_config_prefix or _omit would redirect or change the install). Registry, cache and proxy settings
 * are kept.
 */
function childEnv() {
  const keep = /^npm_config_(?:cache|registry|userconfig|globalconfig|.*proxy|strict_ssl|cafile|ca|offline|prefer_offline|prefer_online|fetch_.*|@.*:registry|\/\/.*)$/i;
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^npm_/i.test(key) && !keep.test(key)) continue;
    env[key] = value;
  }
  env.PATH = [path.dirname(process.execPath), process.env.PATH ?? ''].join(path.delimiter);
  env.npm_config_update_notifier = 'false';
  env.npm_config_fund = 'false';
  env.npm_config_audit = 'false';
  return env;
}

function run(command, args, cwd) {
  log(`$ ${[command, ...args].join(' ')}   (in ${cwd})`);
  const result = spawnSync(command, args, { cwd, env: childEnv(), stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (result.error) fail(`${command} could not run: ${result.error.message}`);
  if (result.status !== 0) {
    process.stdout.write(result.stdout ?? '');
    fail(`${command} ${args.join(' ')} exited with ${result.status ?? result.signal}`);
  }
  return result.stdout;
}

function parseArgs(argv) {
  const options = { outDir: undefined, skipBuild: false };
  for (const arg of argv) {
    if (arg === '--skip-build') options.skipBuild = true;
    else if (arg === '--help' || arg === '-h') options.help = true;
    else if (arg.startsWith('-')) fail(`unknown option ${arg}`);
    else if (options.outDir === undefined) options.outDir = path.resolve(arg);
    else fail(`unexpected argument ${arg}`);
  }
  return options;
}

function ensureEmptyDir(dir) {
  if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0) {
    fail(`the output directory ${dir} is not empty; give an empty or new directory`);
  }
  fs.mkdirSync(dir, { recursive: true });
}

/** `npm pack` of this package into a scratch dir; returns the tarball's path. */
function packPackage(scratchDir) {
  const register = path.join(PACKAGE_DIR, 'dist', 'register.js');
  if (!fs.existsSync(register)) fail(`${register} does not exist: build the package first (npm run build)`);
  const json = run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', scratchDir], PACKAGE_DIR);
  const [packed] = JSON.parse(json.slice(json.indexOf('[')));
  return path.join(scratchDir, packed.filename);
}

/**
 * Unpacks the tarball into <out>/node_modules/<name> and installs its production dependencies there,
 * with `npm ci` from the package's lockfile when there is one (the exact versions the tests ran), then
 * hoists them to <out>/node_modules: the layout `npm install <tarball>` gives, at pinned versions.
 */
function installPackage(tarball, outDir) {
  const modulesDir = path.join(outDir, 'node_modules');
  const staging = path.join(modulesDir, '.staging-span-profiles');
  fs.mkdirSync(staging, { recursive: true });
  run('tar', ['-xzf', tarball, '-C', staging, '--strip-components=1', '--no-same-owner'], outDir);
  const manifest = JSON.parse(fs.readFileSync(path.join(staging, 'package.json'), 'utf8'));

  const installFlags = ['--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=warn'];
  const lockfile = path.join(PACKAGE_DIR, 'package-lock.json');
  if (fs.existsSync(lockfile)) {
    fs.copyFileSync(lockfile, path.join(staging, 'package-lock.json'));
    run('npm', ['ci', ...installFlags], staging);
  } else {
    log('no package-lock.json: installing with the ranges in package.json');
    run('npm', ['install', '--no-package-lock', ...installFlags], staging);
  }
  fs.rmSync(path.join(staging, 'package-lock.json'), { force: true });

  const nested = path.join(staging, 'node_modules');
  if (fs.existsSync(nested)) {
    // npm's hidden lockfile describes the staging layout, not the hoisted one.
    fs.rmSync(path.join(nested, '.package-lock.json'), { force: true });
    for (const entry of fs.readdirSync(nested)) moveInto(path.join(nested, entry), path.join(modulesDir, entry));
    fs.rmSync(nested, { recursive: true, force: true });
  }
  const packageHome = path.join(modulesDir, ...manifest.name.split('/'));
  fs.mkdirSync(path.dirname(packageHome), { recursive: true });
  fs.renameSync(staging, packageHome);
  return manifest;
}

/** Moves a node_modules entry; scope folders (@x) are merged entry by entry. */
function moveInto(from, to) {
  if (!fs.existsSync(to)) {
    fs.renameSync(from, to);
    return;
  }
  if (path.basename(from).startsWith('@') && fs.statSync(to).isDirectory()) {
    for (const entry of fs.readdirSync(from)) moveInto(path.join(from, entry), path.join(to, entry));
    fs.rmdirSync(from);
    return;
  }
  fail(`cannot hoist ${from}: ${to} already exists`);
}

function writeEntry(outDir, manifest) {
  fs.copyFileSync(path.join(HERE, ENTRY_FILE), path.join(outDir, ENTRY_FILE));
  // Copied under an app whose package.json says "type": "module", a bare .js would load as ESM and
  // the CJS entry would fail; this manifest keeps it CJS wherever the tree lands.
  const treeManifest = {
    name: 'span-profiles-autoinstrumentation',
    version: manifest.version,
    private: true,
    type: 'commonjs',
    description: `Self-contained ${manifest.name} for NODE_OPTIONS="--require <this dir>/${ENTRY_FILE}"`,
  };
  fs.writeFileSync(path.join(outDir, 'package.json'), `${JSON.stringify(treeManifest, null, 2)}\n`);
}

function isPackageRoot(dir) {
  const parent = path.basename(path.dirname(dir));
  const grandParent = path.basename(path.dirname(path.dirname(dir)));
  return parent === 'node_modules' || (parent.startsWith('@') && grandParent === 'node_modules');
}

/** Removes what no code loads; returns the bytes removed. */
function prune(dir, stats = { removedBytes: 0, removedFiles: 0 }) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) {
      // Only node_modules/.bin holds links and it goes; a link elsewhere could point out of the tree.
      removeCounted(full, stats);
    } else if (entry.isDirectory()) {
      const junk =
        entry.name === '.bin' ||
        entry.name === '@types' ||
        (isPackageRoot(dir) && PACKAGE_ROOT_JUNK_DIRS.has(entry.name));
      if (junk) removeCounted(full, stats);
      else if (entry.name === 'prebuilds') prunePrebuilds(full, stats);
      else prune(full, stats);
      if (!junk && fs.existsSync(full) && fs.readdirSync(full).length === 0) fs.rmdirSync(full);
    } else if (!LICENSE_LIKE.test(entry.name) && JUNK_FILE_PATTERNS.some((pattern) => pattern.test(entry.name))) {
      removeCounted(full, stats);
    }
  }
  return stats;
}

function prunePrebuilds(dir, stats) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!KEPT_PREBUILD_PLATFORMS.includes(entry.name)) removeCounted(path.join(dir, entry.name), stats);
  }
}

function removeCounted(target, stats) {
  const measured = measure(target);
  stats.removedBytes += measured.bytes;
  stats.removedFiles += measured.files;
  fs.rmSync(target, { recursive: true, force: true });
}

/** Files readable (and folders traversable) by any user: the app container runs as any uid. */
function makeWorldReadable(dir) {
  fs.chmodSync(dir, 0o755);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) makeWorldReadable(full);
    else fs.chmodSync(full, fs.statSync(full).mode & 0o111 ? 0o755 : 0o644);
  }
}

/** Apparent bytes, disk bytes (what an emptyDir limit counts) and file count of a file or tree. */
export function measure(target) {
  const stat = fs.lstatSync(target);
  if (!stat.isDirectory()) return { bytes: stat.size, diskBytes: stat.blocks * 512, files: 1 };
  const total = { bytes: 0, diskBytes: stat.blocks * 512, files: 0 };
  for (const entry of fs.readdirSync(target)) {
    const sub = measure(path.join(target, entry));
    total.bytes += sub.bytes;
    total.diskBytes += sub.diskBytes;
    total.files += sub.files;
  }
  return total;
}

/** Loads the agent's register path and the native profiler from the tree, in a child Node. */
function smokeTest(outDir) {
  const probe = `
    const path = require('node:path');
    const tree = ${JSON.stringify(outDir)};
    const register = require.resolve('@acme/span-profiles/register', { paths: [tree] });
    if (!register.startsWith(tree + path.sep)) throw new Error('register resolved outside the tree: ' + register);
    const pprof = require.resolve('@datadog/pprof', { paths: [path.dirname(register)] });
    require(pprof);
    console.log('register ' + path.relative(tree, register) + '; native profiler loads on ' + process.platform + '-' + process.arch);`;
  const result = spawnSync(process.execPath, ['-e', probe], { cwd: os.tmpdir(), env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8' });
  if (result.status !== 0) fail(`the built tree does not load: ${result.stderr.trim()}`);
  log(result.stdout.trim());
}

function mib(bytes) {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** Builds the tree into `outDir`; returns its measurements. */
export function buildAutoinstrumentation(outDir, { skipBuild = false } = {}) {
  ensureEmptyDir(outDir);
  if (!skipBuild) run('npm', ['run', 'build'], PACKAGE_DIR);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'span-profiles-pack-'));
  try {
    const manifest = installPackage(packPackage(scratch), outDir);
    writeEntry(outDir, manifest);
    const pruned = prune(path.join(outDir, 'node_modules'));
    log(`pruned ${pruned.removedFiles} files (${mib(pruned.removedBytes)}): maps, TypeScript, docs, tests, non-Linux prebuilds`);
    makeWorldReadable(outDir);
    smokeTest(outDir);
    const size = measure(outDir);
    log(
      `tree ${outDir}: ${mib(size.diskBytes)} on disk, ${mib(size.bytes)} in ${size.files} files ` +
        `(the Operator's default volume: ${mib(OPERATOR_VOLUME_LIMIT_BYTES)})`,
    );
    if (size.diskBytes >= OPERATOR_VOLUME_LIMIT_BYTES) fail(`the tree is over the Operator's default volume limit`);
    return { ...size, version: manifest.version };
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const options = parseArgs(process.argv.slice(2));
    if (options.help || !options.outDir) {
      process.stdout.write('usage: node autoinstrumentation/build.mjs <out-dir> [--skip-build]\n');
      process.exitCode = options.help ? 0 : 2;
    } else {
      buildAutoinstrumentation(options.outDir, options);
    }
  } catch (error) {
    process.stderr.write(`[build-autoinstrumentation] error: ${error.message}\n`);
    process.exitCode = 1;
  }
}
