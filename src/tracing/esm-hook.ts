/**
 * The ESM loader hook. Without it an ES module app gets no spans: OpenTelemetry patches ES modules
 * through import-in-the-middle, which only sees modules loaded after its hook is registered. Registered
 * from the CommonJS entry too, because the Kubernetes operator only injects `--require`.
 */
import { register as registerLoader } from 'node:module';
import { pathToFileURL } from 'node:url';
import { describeError } from '../logger';

export type EsmHookState = 'in-thread' | 'loader-thread' | 'already-registered' | 'not-needed' | 'off' | 'failed';

const REGISTERED = Symbol.for('acme.span-profiles.esm-hook');

function alreadyHooked(): boolean {
  const flags = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ');
  return /import-in-the-middle|@opentelemetry\/instrumentation\/hook/.test(flags);
}

/**
 * `node -e` / `-p` with CommonJS input: the in-thread hook breaks Node's own `require('module')` for the
 * eval wrapper (the process dies with ENOENT 'module'), and CommonJS eval code needs no ESM hook anyway.
 */
export function isCommonJsEval(execArgv: readonly string[] = process.execArgv): boolean {
  const evaluates = execArgv.some((a) => a === '-e' || a === '--eval' || a === '-p' || a === '--print' || a.startsWith('--eval=') || a.startsWith('--print='));
  const moduleInput = execArgv.some((a, i) => a === '--input-type=module' || (a === '--input-type' && execArgv[i + 1] === 'module'));
  return evaluates && !moduleInput;
}

/** Registers the hook once per process; returns how. Never throws. */
export function registerEsmHook(): { state: EsmHookState; error?: string } {
  const g = globalThis as Record<symbol, unknown>;
  if (g[REGISTERED]) return { state: 'already-registered' };
  g[REGISTERED] = true;
  if (alreadyHooked()) return { state: 'already-registered' };
  if (isCommonJsEval()) return { state: 'not-needed' };
  try {
    // In-thread synchronous hooks where this Node supports them: no loader thread, no IPC per import.
    const hooks = require('import-in-the-middle/register-hooks.mjs') as typeof import('import-in-the-middle/register-hooks.mjs');
    if (hooks.supportsSyncHooks()) {
      hooks.register();
      return { state: 'in-thread' };
    }
    registerLoader('import-in-the-middle/hook.mjs', pathToFileURL(__filename));
    return { state: 'loader-thread' };
  } catch (err) {
    return { state: 'failed', error: describeError(err) };
  }
}
