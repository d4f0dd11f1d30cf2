// The pooled-connection scenario: the first requests open a driver's connections, later
// requests reuse them; then each request's CPU as the store reports it. Used by
// test/e2e/pooled-connections.test.mjs and runnable alone to print the distribution:
//   node test/helpers/pooled-connections.mjs pg|mysql2|mysql|redis|node-redis [requests]
import path from 'node:path';
import { createRequire } from 'node:module';
import { runConcurrently } from './span-linkage.mjs';
import { fixturePath, repoRoot, spawnApp } from './spawn-app.mjs';
import { startMariadb, startPostgres, startRedis } from './databases.mjs';

const require = createRequire(import.meta.url);

export const SCENARIOS = {
  pg: { app: 'pg-pool-app/index.js', service: 'fixture-pg-pool-app', path: '/rows?n=4000', start: startPostgres, env: (db) => ({ DATABASE_URL: db.url, POOL_SIZE: '4' }), openers: 4 },
  mysql2: { app: 'mysql2-pool-app/index.js', service: 'fixture-mysql2-pool-app', path: '/rows?n=4000', start: startMariadb, env: (db) => ({ MYSQL_URL: db.url, POOL_SIZE: '4' }), openers: 4 },
  mysql: { app: 'mysql-pool-app/index.js', service: 'fixture-mysql-pool-app', path: '/rows?n=4000', start: startMariadb, env: (db) => ({ MYSQL_URL: db.url, POOL_SIZE: '4' }), openers: 4 },
  redis: { app: 'redis-app/index.js', service: 'fixture-redis-app', path: '/values', start: startRedis, env: (db) => ({ REDIS_URL: db.url }), openers: 1 },
  'node-redis': { app: 'node-redis-app/index.js', service: 'fixture-node-redis-app', path: '/values', start: startRedis, env: (db) => ({ REDIS_URL: db.url }), openers: 1 },
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs the scenario against `db` (from startPostgres/startRedis): `openers` concurrent requests open the
 * connections, a pause longer than the upload interval, then `later` requests `openers` at a time.
 * Returns { openers: RootSpanCpu[], later: RootSpanCpu[], store, stderr, openersEndMs, uploadIntervalMs }.
 */
export async function runPooledScenario(name, db, { later = 40, uploadIntervalMs = 1000, distDir = path.join(repoRoot, 'dist'), env = {} } = {}) {
  const scenario = SCENARIOS[name];
  const app = await spawnApp({
    app: fixturePath(scenario.app),
    env: {
      ...scenario.env(db),
      PYROSCOPE_UPLOAD_INTERVAL: `${uploadIntervalMs}ms`,
      PYROSCOPE_PROFILING_INTERVAL: '2ms',
      OTEL_BSP_SCHEDULE_DELAY: '200',
      OTEL_LOG_LEVEL: 'info',
      ...env,
    },
  });
  const openerPaths = Array.from({ length: scenario.openers }, () => scenario.path);
  await runConcurrently(app, openerPaths, openerPaths.length);
  const openersEndMs = Date.now();
  // The connections stay open and idle across a whole cut: later CPU must not land on the openers.
  await sleep(uploadIntervalMs * 2);
  await runConcurrently(app, Array.from({ length: later }, () => scenario.path), scenario.openers);
  await sleep(uploadIntervalMs * 2);
  app.kill('SIGTERM');
  await app.waitForExit(20_000);

  const { loadStoreCpu } = require(path.join(distDir, 'store', 'read', 'span-cpu.js'));
  const store = await loadStoreCpu(app.storeDir, { service: scenario.service });
  const requests = store.contents.spans
    .filter((s) => s.kind === 2 && s.profileId !== undefined)
    .filter((s) => String(s.attributes['url.path'] ?? s.attributes['http.target'] ?? '').startsWith(scenario.path.split('?')[0]))
    .sort((a, b) => a.startMs - b.startMs);
  const cpuOf = new Map(store.roots.map((r) => [r.spanId, r]));
  const rows = requests.map((span) => {
    const root = cpuOf.get(span.profileId ?? span.spanId);
    return { span, spanId: span.profileId ?? span.spanId, cpuNanos: root?.cpuNanos ?? 0, samples: root?.samples ?? 0 };
  });
  return {
    openers: rows.slice(0, scenario.openers),
    later: rows.slice(scenario.openers),
    store,
    stderr: app.stderr(),
    openersEndMs,
    uploadIntervalMs,
  };
}

/** Median of numbers. */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return 0;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** One line per group: n, median, min, max CPU in ms. */
export function describeDistribution(result) {
  const line = (label, rows) => {
    const ms = rows.map((r) => r.cpuNanos / 1e6);
    return `${label}: n=${rows.length} median ${median(ms).toFixed(1)} ms, min ${Math.min(...ms).toFixed(1)}, max ${Math.max(...ms).toFixed(1)}, total ${ms.reduce((a, b) => a + b, 0).toFixed(0)} ms`;
  };
  return [line('connection-opening requests', result.openers), line('later requests', result.later)].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const name = process.argv[2] ?? 'pg';
  const db = await SCENARIOS[name].start();
  if (db.skip) {
    console.log(`skipped: ${db.skip}`);
  } else {
    try {
      const result = await runPooledScenario(name, db, { later: Number(process.argv[3] ?? 40), distDir: process.env.DIST_DIR ?? path.join(repoRoot, 'dist') });
      console.log(describeDistribution(result));
      console.log('per request (ms):', [...result.openers, ...result.later].map((r) => (r.cpuNanos / 1e6).toFixed(1)).join(' '));
      const after = result.store.cpu.samples.filter((s) => s.stack.some((f) => f.name === '(after its span ended)'));
      console.log(`after its span ended: ${(after.reduce((a, s) => a + s.cpuNanos, 0) / 1e6).toFixed(1)} ms in ${after.length} samples`);
      if (process.env.SHOW_AFTER) for (const s of after.slice(0, 12)) console.log('  ', s.stack.slice(0, 6).map((f) => f.name).join(' < '));
    } finally {
      await db.stop();
    }
  }
}
