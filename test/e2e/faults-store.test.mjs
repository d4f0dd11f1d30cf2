// The local store unwritable, read-only or full, end to end under load (the default setup: no backend,
// profiles and spans both go to SPAN_PROFILES_DIR). The app keeps serving, nothing reaches it, writes
// that fail are dropped and counted (nothing piles up in memory), one rate-limited warning names the
// directory and the cause, and once the directory is usable again profiles and spans are written.
//
// The tests run as root, which ignores file modes, so "unwritable" is a path under a regular file
// (ENOTDIR), or the directory replaced by a file. Read-only (EROFS) and full (ENOSPC) are real: the app
// runs in its own user + mount namespace (`unshare --user --map-root-user --mount`) where the store is a
// tmpfs of 512 KiB, remounted read-only or filled up before Node starts; the test reaches into it through
// /proc/<pid>/root and `nsenter`. Where namespaces are not allowed those two tests skip, saying why.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { pinnedNode, spawnApp } from '../helpers/spawn-app.mjs';
import { waitUntil } from '../helpers/wait-for.mjs';
import {
  GUARDED_APP,
  RETAINED_GROWTH_LIMIT,
  agentLines,
  assertAllServed,
  assertNoFaultsReachedApp,
  retainedBytesOf,
  startLoad,
  waitForAgentStats,
} from '../helpers/reliability-harness.mjs';

const MIB = 1024 * 1024;
const SERVICE_DIR = 'fixture-guarded-app';
/** MAX_PENDING_WRITES in src/store/write/profile-store-exporter.ts: profiles waiting for the disk. */
const MAX_PENDING_WRITES = 8;

const storeEnv = (dir) => ({ SPAN_PROFILES_DIR: dir, PYROSCOPE_UPLOAD_INTERVAL: '1s', OTEL_BSP_SCHEDULE_DELAY: '200' });

function scratchDir(t) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'span-profiles-store-fault-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Store files under `<storeDir>/<service>`: { profiles: [...cpu.pb.gz], spans: [{name, bytes}] }. */
function storeFiles(storeDir) {
  const dir = path.join(storeDir, SERVICE_DIR);
  let names = [];
  try {
    if (statSync(dir).isDirectory()) names = readdirSync(dir);
  } catch {
    names = [];
  }
  return {
    profiles: names.filter((n) => n.endsWith('.cpu.pb.gz')),
    spans: names.filter((n) => n.endsWith('.spans.jsonl.zst')).map((name) => ({ name, bytes: statSync(path.join(dir, name)).size })),
  };
}

const spanBytes = (files) => files.spans.reduce((sum, f) => sum + f.bytes, 0);

/**
 * Lives through a store fault with the app under load: waits until `dropped` profiles were dropped,
 * checks memory and the queue, calls `recover()`, then waits for new profiles and new span lines in
 * `storeDirSeenByTest`. Returns { lines, result, stats }.
 */
async function throughStoreFault(t, app, { storeDirSeenByTest, cause, recover, dropped = 3 }) {
  const load = startLoad(app);
  try {
    const memoryBefore = await retainedBytesOf(app);
    let mostPending = 0;
    const stats = await waitForAgentStats(
      app,
      (s) => {
        const store = s.exporters?.[0];
        mostPending = Math.max(mostPending, store?.pending ?? 0);
        return store?.stats?.dropped >= dropped;
      },
      { timeoutMs: 20000, what: `${dropped} profiles dropped by the store` },
    );
    await app.waitForOutput(/cannot write to the local store/, { timeoutMs: 15000 });
    const memoryDuring = await retainedBytesOf(app);
    const growth = memoryDuring.retained - memoryBefore.retained;
    assert.ok(growth < RETAINED_GROWTH_LIMIT, `retained memory grew ${(growth / MIB).toFixed(1)} MiB during the fault`);
    assert.ok(mostPending <= MAX_PENDING_WRITES, `at most ${MAX_PENDING_WRITES} writes pending (saw ${mostPending})`);

    const before = storeFiles(storeDirSeenByTest());
    await recover();
    await waitUntil(
      () => {
        const now = storeFiles(storeDirSeenByTest());
        return now.profiles.some((p) => !before.profiles.includes(p)) && spanBytes(now) > spanBytes(before);
      },
      { timeoutMs: 20000, what: `new profiles and spans in the store after it recovered from ${cause}` },
    );
    const result = await load.stop();
    assertAllServed(result);
    await assertNoFaultsReachedApp(app);
    const lines = agentLines(app.stderr());
    t.diagnostic(
      `${cause}: ${result.total} requests, store ${JSON.stringify(stats.exporters[0].stats)}, most pending ${mostPending}, ` +
        `retained ${(memoryBefore.retained / MIB).toFixed(1)} -> ${(memoryDuring.retained / MIB).toFixed(1)} MiB; ${lines.map((l) => l.slice(0, 160)).join(' | ')}`,
    );
    const kinds = lines.map((line) => line.replace(/\d+/g, 'N'));
    assert.ok(lines.length >= 1 && lines.length <= 3, `one rate-limited warning, not a flood (${lines.length}):\n${lines.join('\n')}`);
    assert.equal(new Set(kinds).size, kinds.length, `no warning repeats within a minute:\n${lines.join('\n')}`);
    for (const line of lines) assert.doesNotMatch(line, /\\n\s+at /, `a warning carries no stack trace: ${line}`);
    assert.ok(
      lines.some((line) => line.includes(`cannot write to the local store`) && line.includes(`(${cause}`)),
      `the warning gives the cause, ${cause}:\n${lines.join('\n')}`,
    );
    return { lines, result, stats };
  } finally {
    await load.stop();
  }
}

test('store directory under a regular file (ENOTDIR): app unaffected, drops counted, writes resume when it becomes a directory', async (t) => {
  const base = scratchDir(t);
  const blocker = path.join(base, 'blocker');
  writeFileSync(blocker, 'a regular file where the store should be\n');
  const storeDir = path.join(blocker, 'store');
  const app = await spawnApp({ app: GUARDED_APP, args: ['--expose-gc'], env: storeEnv(storeDir) });
  const { lines } = await throughStoreFault(t, app, {
    storeDirSeenByTest: () => storeDir,
    cause: 'ENOTDIR',
    recover: () => {
      rmSync(blocker);
      mkdirSync(blocker);
    },
  });
  assert.ok(lines.some((line) => line.includes(storeDir) && /SPAN_PROFILES_DIR/.test(line)), 'the warning names the directory and the fix');
});

test('store directory replaced by a file while running: app unaffected, profiles and spans written again once it is back', async (t) => {
  const base = scratchDir(t);
  const storeDir = path.join(base, 'store');
  const app = await spawnApp({ app: GUARDED_APP, args: ['--expose-gc'], env: storeEnv(storeDir) });
  const warmup = startLoad(app);
  await waitUntil(() => {
    const files = storeFiles(storeDir);
    return files.profiles.length > 0 && spanBytes(files) > 0;
  }, { timeoutMs: 15000, what: 'the first profile and spans in the store' });
  await warmup.stop();
  rmSync(storeDir, { recursive: true, force: true });
  writeFileSync(storeDir, 'the store directory, replaced by a file\n');
  await throughStoreFault(t, app, {
    storeDirSeenByTest: () => storeDir,
    cause: 'ENOTDIR',
    recover: () => rmSync(storeDir),
  });
});

// ---- Read-only and full: a tmpfs store in the app's own mount namespace ----

/** Why namespaces can't be used here, or undefined when they can. */
function namespaceSkipReason() {
  const probe = spawnSync(
    'unshare',
    ['--user', '--map-root-user', '--mount', 'sh', '-c', 'd=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs "$d" && mount -o remount,ro "$d"'],
    { encoding: 'utf8', timeout: 10000 },
  );
  if (probe.error) return `unshare is not available (${probe.error.message})`;
  if (probe.status !== 0) return `user + mount namespaces are not allowed here: ${probe.stderr.trim() || `exit ${probe.status}`}`;
  const nsenter = spawnSync('nsenter', ['--version'], { encoding: 'utf8' });
  if (nsenter.error) return 'nsenter is not available';
  return undefined;
}
const namespaceSkip = namespaceSkipReason();

/**
 * A launcher for spawnApp's nodeBinary: enters a new user + mount namespace, mounts a tmpfs of
 * STORE_SIZE on STORE_MOUNT, fills it (STORE_FILL=1) or remounts it read-only (STORE_RO=1), then execs
 * Node with the arguments. Every step execs, so the app's pid is the launcher's.
 */
function namespaceLauncher(dir) {
  const launcher = path.join(dir, 'node-in-namespace.sh');
  writeFileSync(
    launcher,
    `#!/bin/sh
exec unshare --user --map-root-user --mount sh -c '
  mount -t tmpfs -o size="$STORE_SIZE" tmpfs "$STORE_MOUNT" || exit 97
  if [ "$STORE_FILL" = 1 ]; then dd if=/dev/zero of="$STORE_MOUNT/filler" bs=4096 2>/dev/null; fi
  if [ "$STORE_RO" = 1 ]; then mount -o remount,ro "$STORE_MOUNT" || exit 98; fi
  exec "$NODE_BINARY" "$@"' launcher "$@"
`,
  );
  chmodSync(launcher, 0o755);
  return launcher;
}

/** Runs `command` inside the app's namespaces. */
function inAppNamespace(pid, command) {
  const result = spawnSync('nsenter', ['--target', String(pid), '--user', '--mount', '--preserve-credentials', 'sh', '-c', command], {
    encoding: 'utf8',
    timeout: 10000,
  });
  assert.equal(result.status, 0, `nsenter ${command}: ${result.stderr}`);
}

async function spawnInNamespace(t, { fill, readOnly }) {
  const base = scratchDir(t);
  const storeDir = path.join(base, 'store');
  mkdirSync(storeDir);
  const app = await spawnApp({
    app: GUARDED_APP,
    nodeBinary: namespaceLauncher(base),
    args: ['--expose-gc'],
    env: {
      ...storeEnv(storeDir),
      NODE_BINARY: pinnedNode(),
      STORE_MOUNT: storeDir,
      STORE_SIZE: '512k',
      STORE_FILL: fill ? '1' : '0',
      STORE_RO: readOnly ? '1' : '0',
    },
  });
  // The store as the app sees it, from outside its mount namespace.
  const seenByTest = () => `/proc/${app.pid}/root${storeDir}`;
  assert.ok(existsSync(seenByTest()), 'the app\'s view of the store is reachable through /proc/<pid>/root');
  return { app, storeDir, seenByTest };
}

test('store on a read-only file system (EROFS): app unaffected, drops counted, writes resume once it is writable', { skip: namespaceSkip }, async (t) => {
  const { app, storeDir, seenByTest } = await spawnInNamespace(t, { readOnly: true });
  await throughStoreFault(t, app, {
    storeDirSeenByTest: seenByTest,
    cause: 'EROFS',
    recover: () => inAppNamespace(app.pid, `mount -o remount,rw '${storeDir}'`),
  });
});

test('store on a full disk (ENOSPC): app unaffected, drops counted, no partial files, writes resume once space is freed', { skip: namespaceSkip }, async (t) => {
  const { app, seenByTest } = await spawnInNamespace(t, { fill: true });
  const { lines } = await throughStoreFault(t, app, {
    storeDirSeenByTest: seenByTest,
    cause: 'ENOSPC',
    recover: () => rmSync(path.join(seenByTest(), 'filler')),
  });
  assert.ok(lines.some((line) => /the disk is full/.test(line)), 'the warning says the disk is full');
  const leftovers = readdirSync(path.join(seenByTest(), SERVICE_DIR)).filter((name) => name.endsWith('.tmp'));
  assert.deepEqual(leftovers, [], 'no half-written temp files are left behind');
});
