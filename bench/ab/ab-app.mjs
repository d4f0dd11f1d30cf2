// The app the bench/ab tools run, from APP: http (bench/ab/http-app.js), express (bench/ab/express-app.js) or
// pg (bench/workload/pg-app.js: two queries per request on a real PostgreSQL, which this module starts on the
// load core with test/helpers/databases.mjs, fills once, and stops with the tool).
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPostgres } from '../../test/helpers/databases.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');

/** `{ script, paths, env, stop() }` for APP; `env` goes to every configuration's app. */
export async function abApp(name = process.env.APP ?? 'http') {
  if (name !== 'pg') {
    return { script: path.join(here, `${name}-app.js`), paths: [name === 'express' ? '/orders/42' : '/'], env: {}, stop: async () => {} };
  }
  const database = await startPostgres();
  if (database.skip) throw new Error(`APP=pg: ${database.skip}`);
  spawnSync('taskset', ['-pac', '1', String(database.pid)], { stdio: 'ignore' });
  const seeded = spawnSync(process.execPath, [path.join(root, 'bench/workload/pg-app.js'), '--seed'], { env: { ...process.env, DATABASE_URL: database.url, NODE_OPTIONS: '' }, encoding: 'utf8' });
  if (seeded.status !== 0) {
    await database.stop();
    throw new Error(`seeding PostgreSQL failed: ${seeded.stderr}`);
  }
  // A fixed loop per request (BENCH_WORK_ITERATIONS, default 20000: ~0.5 ms here; the bench calibrates ~0.3 ms).
  return {
    script: path.join(here, 'pg-app.js'),
    paths: Array.from({ length: 50 }, (_, i) => `/customers/${1 + i * 19}`),
    env: { DATABASE_URL: database.url, BENCH_WORK_ITERATIONS: process.env.BENCH_WORK_ITERATIONS ?? '20000' },
    stop: () => database.stop(),
  };
}

/**
 * Starts `app`'s server for `config` (from ab-configs.mjs) on core 0 with extra Node flags before the config's
 * own, under `wrapper` (a command and its arguments, valgrind say) if given. Resolves, once it listens, to
 * `{ child, port, output(), closed }`: `output()` is everything it has printed on stdout so far (a V8 trace,
 * say), `closed` settles when it has exited. `child.pid` is the app's (taskset and the wrapper exec it).
 */
export async function startAbServer(app, config, env, nodeFlags = [], wrapper = []) {
  const child = spawn('taskset', ['-c', '0', ...wrapper, process.execPath, ...nodeFlags, ...config.args, app.script], { env, stdio: ['ignore', 'pipe', 'inherit'], cwd: '/tmp' });
  const closed = new Promise((resolve) => child.on('close', resolve));
  let output = '';
  child.stdout.setEncoding('utf8');
  const port = await new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const m = /"listening":(\d+)/.exec(output);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`${config.label} exited (${code}) before listening`)));
  });
  return { child, port, output: () => output, closed };
}

/**
 * Closed-loop load on `port` from core 1 for `durationMs` (CONNECTIONS connections, else `connections`) over
 * `app`'s paths; resolves to the load client's result (`completed` requests, ...) when it is done.
 */
export function runAbLoad(app, port, durationMs, connections = 16) {
  return runLoadClient({ port, connections: Number(process.env.CONNECTIONS ?? connections), paths: app.paths, durationMs });
}

/**
 * Open-loop load on `port` from core 1: `rate` requests a second over `app`'s paths for `durationMs`, sent on
 * schedule whatever the answers do; resolves to the load client's result (`latencyMs`, `sendLagMs`, ...).
 */
export function runAbOpenLoad(app, port, rate, durationMs) {
  return runLoadClient({ port, rate, paths: app.paths, durationMs, connections: 16 });
}

/** Runs bench/lib/load-client.mjs with `options` on core 1; resolves to the result it prints. */
async function runLoadClient(options) {
  const loader = spawn('taskset', ['-c', '1', process.execPath, path.join(root, 'bench/lib/load-client.mjs'), JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  loader.stdout.on('data', (d) => (out += d));
  await new Promise((resolve) => loader.on('close', resolve));
  return JSON.parse(out);
}

/**
 * On SIGINT, SIGTERM or SIGHUP: kills the app `current()` returns (OpenTelemetry's register traps SIGTERM to
 * flush and may linger), stops `app` (PostgreSQL for pg) and exits 1.
 */
export function stopOnSignals(app, current) {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      current()?.kill('SIGKILL');
      void app.stop().finally(() => process.exit(1));
    });
  }
}
