// Child processes of the bench: servers under test (pinned to the app core, ready when they print
// {"listening":PORT}), the load generator (pinned to the load core) and short one-shot runs.
// Every child still running when the bench exits is killed.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { LOAD_CORE, SERVER_CORE, onCore } from './cores.mjs';

const live = new Set();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

function track(child) {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

const tail = (text, lines = 30) => text.split('\n').slice(-lines).join('\n');

/**
 * Starts `node [nodeArgs] script` on `core` with `env`, and waits for its {"listening":PORT} line.
 * Returns { port, pid, readyMs (spawn to listening), spawnedAt (performance.now()), stdout(), stderr(),
 * stop(signal = 'SIGTERM', timeoutMs = 15000) -> { code, signal, ms } (SIGKILL after the timeout) }.
 */
export async function startServer({ node, script, nodeArgs = [], env, core = SERVER_CORE, readyTimeoutMs = 30_000 }) {
  const [command, args] = onCore(core, node, [...nodeArgs, script]);
  const spawnedAt = performance.now();
  const child = track(spawn(command, args, { cwd: path.dirname(script), env, stdio: ['ignore', 'pipe', 'pipe'] }));
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const describe = () => `${command} ${args.join(' ')}\n--- stderr ---\n${tail(stderr)}\n--- stdout ---\n${tail(stdout)}`;

  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`not listening after ${readyTimeoutMs} ms: ${describe()}`)), readyTimeoutMs);
    const check = () => {
      const match = /^\{"listening":(\d+)\}$/m.exec(stdout);
      if (match) done(() => resolve(Number(match[1])));
    };
    const onExit = () => fail(new Error(`exited before listening: ${describe()}`));
    const fail = (err) => done(() => {
      child.kill('SIGKILL');
      reject(err);
    });
    const done = (then) => {
      clearTimeout(timer);
      child.stdout.off('data', check);
      child.off('exit', onExit);
      then();
    };
    child.stdout.on('data', check);
    child.once('exit', onExit);
    check();
  });
  const readyMs = performance.now() - spawnedAt;

  return {
    port,
    pid: child.pid,
    readyMs,
    spawnedAt,
    stdout: () => stdout,
    stderr: () => stderr,
    async stop(signal = 'SIGTERM', timeoutMs = 15_000) {
      const start = performance.now();
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const result = await exited;
      clearTimeout(timer);
      return { ...result, ms: performance.now() - start };
    },
  };
}

/**
 * Runs `node [args]` to completion on `core`. Resolves { code, signal, wallMs, stdout, stderr };
 * SIGKILLs it after `timeoutMs` (then timedOut: true).
 */
export function runToExit({ node, args, env, cwd, core = SERVER_CORE, timeoutMs = 60_000 }) {
  const [command, commandArgs] = onCore(core, node, args);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = track(spawn(command, commandArgs, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] }));
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code, signal) => {
      const wallMs = performance.now() - started;
      clearTimeout(timer);
      resolve({ code, signal, wallMs, stdout, stderr, timedOut });
    });
  });
}

const LOAD_CLIENT = fileURLToPath(new URL('./load-client.mjs', import.meta.url));

/**
 * Drives load with load-client.mjs (see there for options and result), on the load core, with the
 * bench's own Node. Rejects when the client fails.
 */
export async function runLoad(options) {
  const budgetMs = (options.warmupMs ?? 0) + (options.durationMs ?? 0) + (options.timeoutMs ?? 600_000) + 30_000;
  const result = await runToExit({
    node: process.execPath,
    args: [LOAD_CLIENT, JSON.stringify(options)],
    env: process.env,
    core: LOAD_CORE,
    timeoutMs: budgetMs,
  });
  const line = result.stdout.trim().split('\n').at(-1);
  if (result.code !== 0 || !line) {
    throw new Error(`load client failed (code ${result.code}, signal ${result.signal}): ${result.stderr.trim()}`);
  }
  return JSON.parse(line);
}
