// Real PostgreSQL and Redis servers for end-to-end tests, from Debian's packages (.ci/run installs them):
// each started by the test on 127.0.0.1 with an ephemeral port and a temp data directory, stopped after.
// Outside CI a missing server skips the test with the reason; under CI=true it fails.
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const POSTGRES_BIN_DIRS = () => {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a))
    .map((v) => path.join(root, v, 'bin'));
};

/** A reason to skip when `what` is missing, or a thrown error under CI (where .ci/run installs it). */
function missing(what) {
  const reason = `${what} is not installed (apt-get install ${what.split(' ')[0]}; .ci/run does)`;
  if (process.env.CI === 'true') throw new Error(`CI=true and ${reason}`);
  return { skip: reason };
}

/** A port free on 127.0.0.1 right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** uid/gid of a system user, from /etc/passwd; undefined when absent. */
function systemUser(name) {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [user, , uid, gid] = line.split(':');
      if (user === name) return { uid: Number(uid), gid: Number(gid) };
    }
  } catch {
    // no passwd file: no such user
  }
  return undefined;
}

function waitForLine(child, pattern, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk) => {
      text += chunk;
      if (pattern.test(text)) done(resolve);
    };
    const onExit = (code) => done(() => reject(new Error(`${what} exited (code ${code}) before it was ready:\n${text.slice(-2000)}`)));
    const timer = setTimeout(() => done(() => reject(new Error(`${what} not ready after ${timeoutMs} ms:\n${text.slice(-2000)}`))), timeoutMs);
    const done = (fn) => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      fn();
    };
    child.stdout?.setEncoding('utf8').on('data', onData);
    child.stderr?.setEncoding('utf8').on('data', onData);
    child.on('exit', onExit);
  });
}

async function stopChild(child, signal) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/**
 * Starts a PostgreSQL server (trust auth, user `test`, database `test`) on 127.0.0.1 and a unix socket in
 * its temp dir. Runs as the `postgres` system user when we are root (postgres refuses to run as root).
 * Returns `{ skip }` when the server is not installed (outside CI), else
 * `{ host, port, user, database, url, pid (the postmaster's), stop() }`.
 */
export async function startPostgres() {
  const binDir = POSTGRES_BIN_DIRS().find((dir) => existsSync(path.join(dir, 'initdb')) && existsSync(path.join(dir, 'postgres')));
  if (binDir === undefined) return missing('postgresql (initdb, postgres)');
  const dataRoot = mkdtempSync(path.join(os.tmpdir(), 'span-profiles-pg-'));
  let as = {};
  if (process.getuid?.() === 0) {
    const user = systemUser('postgres') ?? systemUser('nobody');
    if (user === undefined) throw new Error('running as root and there is no postgres or nobody user to run PostgreSQL as');
    chownSync(dataRoot, user.uid, user.gid);
    as = user;
  }
  const dataDir = path.join(dataRoot, 'data');
  const init = spawnSync(path.join(binDir, 'initdb'), ['-D', dataDir, '-U', 'test', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions'], {
    ...as,
    encoding: 'utf8',
    cwd: dataRoot,
  });
  if (init.status !== 0) {
    rmSync(dataRoot, { recursive: true, force: true });
    throw new Error(`initdb failed (${init.status}):\n${init.stderr}\n${init.stdout}`);
  }
  const port = await freePort();
  const server = spawn(
    path.join(binDir, 'postgres'),
    ['-D', dataDir, '-k', dataRoot, '-h', '127.0.0.1', '-p', String(port), '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
    { ...as, cwd: dataRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  try {
    await waitForLine(server, /database system is ready to accept connections/, 30_000, 'postgres');
  } catch (err) {
    await stopChild(server, 'SIGKILL');
    rmSync(dataRoot, { recursive: true, force: true });
    throw err;
  }
  // createdb through the server itself: the `test` role owns the cluster.
  const created = spawnSync(path.join(binDir, 'createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'test', 'test'], { encoding: 'utf8' });
  if (created.status !== 0) {
    await stopChild(server, 'SIGINT');
    rmSync(dataRoot, { recursive: true, force: true });
    throw new Error(`createdb failed: ${created.stderr}`);
  }
  return {
    host: '127.0.0.1',
    port,
    user: 'test',
    database: 'test',
    url: `postgres://test@127.0.0.1:${port}/test`,
    pid: server.pid,
    async stop() {
      await stopChild(server, 'SIGINT'); // fast shutdown
      rmSync(dataRoot, { recursive: true, force: true });
    },
  };
}

/**
 * Starts a Redis server on 127.0.0.1 with no persistence. Returns `{ skip }` when not installed (outside
 * CI), else `{ host, port, url, stop() }`.
 */
export async function startRedis() {
  const which = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  if (which.status !== 0) return missing('redis-server');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'span-profiles-redis-'));
  const port = await freePort();
  const server = spawn(
    which.stdout.trim(),
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--protected-mode', 'yes'],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  try {
    await waitForLine(server, /Ready to accept connections/, 20_000, 'redis-server');
  } catch (err) {
    await stopChild(server, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    host: '127.0.0.1',
    port,
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      await stopChild(server, 'SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Starts a MariaDB server (MySQL protocol) on 127.0.0.1 with grant tables off (any user, no password) and
 * a `test` database. Runs as the `mysql` system user when we are root. Returns `{ skip }` when not
 * installed (outside CI), else `{ host, port, user, database, url, stop() }`.
 */
export async function startMariadb() {
  const server = ['/usr/sbin/mariadbd', '/usr/sbin/mysqld'].find((file) => existsSync(file));
  const installDb = ['/usr/bin/mariadb-install-db', '/usr/bin/mysql_install_db'].find((file) => existsSync(file));
  if (server === undefined || installDb === undefined) return missing('mariadb-server (mariadbd, mariadb-install-db)');
  const dataRoot = mkdtempSync(path.join(os.tmpdir(), 'span-profiles-mariadb-'));
  let as = {};
  const userArgs = [];
  if (process.getuid?.() === 0) {
    const user = systemUser('mysql') ?? systemUser('nobody');
    if (user === undefined) throw new Error('running as root and there is no mysql or nobody user to run MariaDB as');
    chownSync(dataRoot, user.uid, user.gid);
    as = user;
  }
  const dataDir = path.join(dataRoot, 'data');
  const init = spawnSync(installDb, ['--no-defaults', `--datadir=${dataDir}`, '--skip-test-db', '--auth-root-authentication-method=normal', ...userArgs], {
    ...as,
    encoding: 'utf8',
    cwd: dataRoot,
  });
  if (init.status !== 0) {
    rmSync(dataRoot, { recursive: true, force: true });
    throw new Error(`mariadb-install-db failed (${init.status}):\n${init.stderr}\n${init.stdout}`);
  }
  const port = await freePort();
  const child = spawn(
    server,
    [
      '--no-defaults',
      `--datadir=${dataDir}`,
      `--socket=${path.join(dataRoot, 'mysqld.sock')}`,
      `--pid-file=${path.join(dataRoot, 'mysqld.pid')}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      '--skip-grant-tables',
      '--skip-name-resolve',
      '--innodb-buffer-pool-size=16M',
      '--innodb-log-file-size=8M',
    ],
    { ...as, cwd: dataRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  try {
    await waitForLine(child, /ready for connections/, 60_000, 'mariadbd');
    const client = ['/usr/bin/mariadb', '/usr/bin/mysql'].find((file) => existsSync(file));
    if (client === undefined) throw new Error('no mariadb client to create the test database');
    const created = spawnSync(client, ['--no-defaults', '-h', '127.0.0.1', '-P', String(port), '-u', 'root', '-e', 'CREATE DATABASE test'], { encoding: 'utf8' });
    if (created.status !== 0) throw new Error(`CREATE DATABASE test failed: ${created.stderr}`);
  } catch (err) {
    await stopChild(child, 'SIGKILL');
    rmSync(dataRoot, { recursive: true, force: true });
    throw err;
  }
  return {
    host: '127.0.0.1',
    port,
    user: 'root',
    database: 'test',
    url: `mysql://root@127.0.0.1:${port}/test`,
    async stop() {
      await stopChild(child, 'SIGTERM');
      rmSync(dataRoot, { recursive: true, force: true });
    },
  };
}

/**
 * Starts a RabbitMQ broker (AMQP 0-9-1, user guest/guest, allowed from loopback) on 127.0.0.1 with its
 * data, logs, Erlang cookie and its own epmd (on an ephemeral port) under a temp dir, so it shares
 * nothing with a system broker. Returns `{ skip }` when not installed (outside CI), else
 * `{ host, port, url, stop() }`.
 */
export async function startRabbitmq() {
  const server = '/usr/lib/rabbitmq/bin/rabbitmq-server';
  if (!existsSync(server)) return missing('rabbitmq-server');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'span-profiles-rabbitmq-'));
  const port = await freePort();
  const distPort = await freePort();
  const epmdPort = await freePort();
  const env = {
    ...process.env,
    HOME: dir, // the Erlang cookie
    ERL_EPMD_PORT: String(epmdPort),
    ERL_EPMD_ADDRESS: '127.0.0.1',
    RABBITMQ_NODENAME: `span-profiles-${process.pid}-${port}@localhost`,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: path.join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: path.join(dir, 'log'),
    RABBITMQ_LOGS: '-',
    RABBITMQ_CONFIG_FILE: path.join(dir, 'rabbitmq'),
    RABBITMQ_ADVANCED_CONFIG_FILE: path.join(dir, 'advanced.config'),
    RABBITMQ_ENABLED_PLUGINS_FILE: path.join(dir, 'enabled_plugins'),
    RABBITMQ_PLUGINS_EXPAND_DIR: path.join(dir, 'plugins-expand'),
    RABBITMQ_PID_FILE: path.join(dir, 'rabbitmq.pid'),
  };
  // Its own process group: the script runs the Erlang VM as a child, and both are stopped together.
  const child = spawn(server, [], { cwd: dir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      const signalGroup = (signal) => {
        try {
          process.kill(-child.pid, signal);
        } catch {
          // already gone
        }
      };
      signalGroup('SIGTERM');
      const timer = setTimeout(() => signalGroup('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
      signalGroup('SIGKILL'); // the VM, if the script left before it
    }
    // The epmd this broker started (on its own port) outlives it.
    spawnSync('epmd', ['-kill'], { env, encoding: 'utf8' });
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForLine(child, /Server startup complete/, 90_000, 'rabbitmq-server');
  } catch (err) {
    await stop();
    throw err;
  }
  return { host: '127.0.0.1', port, url: `amqp://guest:guest@127.0.0.1:${port}`, stop };
}
