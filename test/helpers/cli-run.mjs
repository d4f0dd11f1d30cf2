// Runs the `span-profiles` bin as a user would, in a child process with this Node and an environment
// free of agent variables (so the developer's own OTEL_*/PYROSCOPE_* settings never leak in).
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/span-profiles', import.meta.url));

/** Resolves { code, stdout, stderr }; stdout is a Buffer when `binary` is set. */
export function runCli(args, { env = {}, cwd, binary = false } = {}) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(OTEL_|PYROSCOPE_|SPAN_PROFILES_)/.test(k)));
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...clean, ...env }, cwd, encoding: binary ? 'buffer' : 'utf8', maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => resolve({ code: error ? error.code : 0, stdout, stderr: String(stderr) }),
    );
  });
}
