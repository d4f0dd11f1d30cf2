// Spawns a fixture app (optionally under the agent), waits for its `{"listening":PORT}` line,
// and makes sure it dies with the test that started it.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { getTestContext } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { nodeBinary, pinnedNode } from './node-versions.mjs';

export { nodeBinary, pinnedNode };

/** The repository root (where package.json lives). */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Absolute path of a fixture file, e.g. fixturePath('express-app/index.js'). */
export function fixturePath(relative) {
  return path.join(repoRoot, 'fixtures', relative);
}

/**
 * The agent's preload entry. By absolute path: a fixture has its own package.json, so the
 * package self-reference `@acme/span-profiles/register` does not resolve from its directory.
 */
export function registerPath() {
  return path.join(repoRoot, 'dist', 'register.js');
}

// Inherited variables that would make a test depend on the machine running it.
const INHERITED_ENV_DROPPED = /^(NODE_OPTIONS|NODE_TEST_CONTEXT|NODE_CHANNEL_FD|OTEL_.*|PYROSCOPE_.*|SPAN_PROFILES_.*)$/;

const liveApps = new Set();

function agentFlags(loader) {
  switch (loader) {
    case 'require':
      return { args: ['--require', registerPath()], nodeOptions: '' };
    case 'import':
      return { args: ['--import', pathToFileURL(registerPath()).href], nodeOptions: '' };
    case 'node-options':
      return { args: [], nodeOptions: `--require ${JSON.stringify(registerPath())}` };
    case 'none':
      return { args: [], nodeOptions: '' };
    default:
      throw new Error(`spawnApp: loader must be 'require', 'import', 'node-options' or 'none', got ${JSON.stringify(loader)}`);
  }
}

function childEnv(extraEnv, nodeOptions, storeDir) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!INHERITED_ENV_DROPPED.test(key)) env[key] = value;
  }
  env.PORT = '0';
  env.SPAN_PROFILES_DIR = storeDir;
  // Heap profiles (on by default) are a second upload per interval; tests of CPU profiles
  // count and compare uploads, so heap is off unless a test asks (heap-e2e passes undefined: the default).
  env.SPAN_PROFILES_HEAP = 'false';
  for (const [key, value] of Object.entries(extraEnv ?? {})) {
    if (value === undefined || value === null) delete env[key];
    else env[key] = String(value);
  }
  if (nodeOptions) env.NODE_OPTIONS = env.NODE_OPTIONS ? `${nodeOptions} ${env.NODE_OPTIONS}` : nodeOptions;
  return env;
}

const tail = (text, lines = 40) => text.split('\n').slice(-lines).join('\n');

/**
 * Spawns `<nodeBinary> [args] [agent flag] [argv]` (for `node -e 0`, a shell, or anything that is
 * not a listening fixture) with the same cleaned environment as spawnApp, and returns at once with
 * the same handle (no `port`). With loader 'node-options' the agent travels in NODE_OPTIONS, so
 * nodeBinary may be a shell that starts node: `{nodeBinary: '/bin/sh', args: ['-c', '...']}`.
 * cwd defaults to the repository root.
 */
export function spawnNode({ loader = 'require', env, nodeBinary: binary = pinnedNode(), args = [], argv = [], cwd } = {}) {
  const flags = agentFlags(loader);
  const storeDir = mkdtempSync(path.join(os.tmpdir(), 'span-profiles-test-'));
  const child = spawn(binary, [...args, ...flags.args, ...argv], {
    cwd: cwd ?? repoRoot,
    env: childEnv(env, flags.nodeOptions, storeDir),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdoutText = '';
  let stderrText = '';
  let exitResult;
  const outputWaiters = new Set();
  const exitWaiters = new Set();
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    stdoutText += chunk;
    for (const waiter of outputWaiters) waiter();
  });
  child.stderr.on('data', (chunk) => {
    stderrText += chunk;
    for (const waiter of outputWaiters) waiter();
  });
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exitResult = { code, signal };
      liveApps.delete(handle);
      for (const waiter of exitWaiters) waiter();
      for (const waiter of outputWaiters) waiter();
      resolve(exitResult);
    });
  });
  child.on('error', (err) => {
    stderrText += `\n[spawnApp] failed to start ${binary}: ${err.message}\n`;
    exitResult ??= { code: null, signal: null, error: err };
    for (const waiter of outputWaiters) waiter();
  });

  const describeProcess = () =>
    `${binary} ${child.spawnargs.slice(1).join(' ')} (pid ${child.pid}, ` +
    `${exitResult ? `exited code=${exitResult.code} signal=${exitResult.signal}` : 'running'})\n` +
    `--- stderr (tail) ---\n${tail(stderrText)}\n--- stdout (tail) ---\n${tail(stdoutText)}`;

  /** Resolves with the first match of `pattern` (RegExp or string) in the stream's output so far. */
  const waitForOutput = (pattern, { stream = 'stderr', timeoutMs = 15000 } = {}) =>
    new Promise((resolve, reject) => {
      const text = () => (stream === 'stdout' ? stdoutText : stderrText);
      const find = () => {
        if (typeof pattern === 'string') return text().includes(pattern) ? pattern : null;
        return text().match(pattern);
      };
      const check = () => {
        const match = find();
        if (match) {
          done();
          resolve(match);
        } else if (exitResult) {
          done();
          reject(new Error(`process exited before ${stream} matched ${pattern}: ${describeProcess()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${stream} to match ${pattern}: ${describeProcess()}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        outputWaiters.delete(check);
      };
      outputWaiters.add(check);
      check();
    });

  const waitForExit = (timeoutMs = 15000) => {
    if (exitResult) return Promise.resolve(exitResult);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        exitWaiters.delete(onExit);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for exit: ${describeProcess()}`));
      }, timeoutMs);
      const onExit = () => {
        clearTimeout(timer);
        exitWaiters.delete(onExit);
        resolve(exitResult);
      };
      exitWaiters.add(onExit);
    });
  };

  const handle = {
    port: undefined,
    child,
    pid: child.pid,
    storeDir,
    stdout: () => stdoutText,
    stderr: () => stderrText,
    waitForOutput,
    waitForExit,
    kill: (signal = 'SIGTERM') => (exitResult ? false : child.kill(signal)),
    /** HTTP request to the app on 127.0.0.1 (see `httpRequest`). */
    request: (requestPath, opts) => httpRequest(`http://127.0.0.1:${handle.port}${requestPath}`, opts),
    /** SIGKILL (if still running), wait for exit, remove the temp store dir. */
    async dispose() {
      if (!exitResult) child.kill('SIGKILL');
      await exited;
      if (!process.env.KEEP_TEST_ARTIFACTS) rmSync(storeDir, { recursive: true, force: true });
    },
  };
  liveApps.add(handle);
  getTestContext()?.after(() => handle.dispose());
  return handle;
}

/**
 * Spawns `node [args] [agent flag] <app> [appArgs]` with cwd = the app's directory and waits for
 * the fixture's `{"listening":PORT}` stdout line.
 *
 * Options: app (path to the entry), loader ('require'|'import'|'node-options'|'none', default
 * 'require'), env (added to a cleaned copy of process.env: OTEL_*, PYROSCOPE_*, SPAN_PROFILES_*,
 * NODE_OPTIONS are dropped; a value of undefined removes a variable; PORT=0 and SPAN_PROFILES_DIR=
 * a fresh temp dir unless given), nodeBinary (default pinnedNode()), args (Node flags before the
 * entry), appArgs, cwd, readyTimeoutMs (default 30000), waitForReady (default true).
 *
 * Returns { port, child, pid, storeDir, stdout(), stderr(), waitForOutput(pattern, opts),
 * waitForExit(timeoutMs) -> {code, signal}, kill(signal = 'SIGTERM'), request(path, opts) }.
 * The process is SIGKILLed when the calling test ends (via the node:test context), at
 * killAllApps(), and at process exit.
 */
export async function spawnApp({
  app,
  loader = 'require',
  env,
  nodeBinary: binary = pinnedNode(),
  args = [],
  appArgs = [],
  cwd,
  readyTimeoutMs = 30000,
  waitForReady = true,
} = {}) {
  if (!app) throw new Error('spawnApp: `app` (path to the fixture entry) is required');
  const appPath = path.resolve(repoRoot, app);
  const handle = spawnNode({
    loader,
    env,
    nodeBinary: binary,
    args,
    argv: [appPath, ...appArgs],
    cwd: cwd ?? path.dirname(appPath),
  });
  if (!waitForReady) return handle;
  try {
    const match = await handle.waitForOutput(/^\{"listening":(\d+)\}$/m, { stream: 'stdout', timeoutMs: readyTimeoutMs });
    handle.port = Number(match[1]);
  } catch (err) {
    await handle.dispose();
    throw new Error(`spawnApp: ${app} did not become ready: ${err.message}`);
  }
  return handle;
}

/** Kills every app spawned by this process that is still running; use as `after(killAllApps)`. */
export async function killAllApps() {
  await Promise.all([...liveApps].map((app) => app.dispose()));
}

process.on('exit', () => {
  for (const app of liveApps) app.child.kill('SIGKILL');
});

/**
 * A small HTTP client (no keep-alive, so apps can exit promptly).
 * opts: { method = 'GET', headers, body (string|Buffer|object -> JSON), timeoutMs = 15000 }.
 * Resolves { status, headers, body (string), json() }.
 */
export function httpRequest(url, { method = 'GET', headers = {}, body, timeoutMs = 15000 } = {}) {
  let payload = body;
  const requestHeaders = { ...headers };
  if (payload !== undefined && typeof payload === 'object' && !Buffer.isBuffer(payload)) {
    payload = JSON.stringify(payload);
    requestHeaders['content-type'] ??= 'application/json';
  }
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: requestHeaders, agent: false, timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('error', reject);
      res.on('end', () =>
        resolve({ status: res.statusCode, headers: res.headers, body: text, json: () => JSON.parse(text) }),
      );
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}
