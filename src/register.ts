/**
 * The preload entry: `node --require @acme/span-profiles/register app.js`, `--import` likewise, or the
 * same through NODE_OPTIONS. It starts the agent once per process, on the main thread only, and never
 * throws into the app. Kept free of imports so that even an unsupported Node parses and runs it.
 */

const STARTED = Symbol.for('acme.span-profiles.started');

function loadedVia(): import('./agent-entry').LoadedVia {
  // By package name, by the Operator's entry file, or by a path into this package.
  const packageDir = (require('node:path') as typeof import('node:path')).dirname(__dirname);
  const mentions = (text: string) => /span-profiles|autoinstrumentation/.test(text) || text.includes(packageDir);
  const fromArgv = process.execArgv.join(' ');
  const nodeOptions = process.env.NODE_OPTIONS ?? '';
  if (mentions(fromArgv)) return /--import/.test(fromArgv) ? '--import' : '--require';
  if (mentions(nodeOptions)) return /--import/.test(nodeOptions) ? 'NODE_OPTIONS --import' : 'NODE_OPTIONS --require';
  return '--require';
}

function register(): void {
  const g = globalThis as Record<symbol, unknown>;
  // A second --require, or the agent both injected (NODE_OPTIONS) and installed by the app.
  if (g[STARTED]) return;
  g[STARTED] = true;
  // Worker threads and Node's module-hooks thread run preloads too; the agent belongs to the main thread.
  const { isMainThread } = require('node:worker_threads') as typeof import('node:worker_threads');
  if (!isMainThread) return;
  const { checkNodeSupport } = require('./node-support') as typeof import('./node-support');
  const support = checkNodeSupport();
  if (!support.supported) {
    process.stderr.write(`[span-profiles] ${support.message}\n`);
    return;
  }
  // The bundle of the agent (built from agent-entry.ts): one file to load instead of ~60, and the
  // OpenTelemetry packages vendored beside it.
  const { startBundledAgent: startAgent } = require('./agent-bundle.js') as typeof import('./agent-entry');
  const agent = startAgent(loadedVia());
  if (agent) g[Symbol.for('acme.span-profiles.agent')] = agent;
}

try {
  register();
} catch (err) {
  try {
    const detail = err instanceof Error ? err.stack || err.message : String(err);
    process.stderr.write(`[span-profiles] error: the agent failed to start and is off; the app runs without it: ${detail}\n`);
  } catch {
    // Nothing else to do: the app must not notice.
  }
}
