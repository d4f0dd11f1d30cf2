/**
 * `span-profiles view [dir]`: serves a page over the local store, on this machine, for looking at
 * requests and the flame graphs of the code that ran for them. Runs until Ctrl+C (SIGINT) or SIGTERM.
 */

import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { EXIT_FAILURE, EXIT_OK, parseCommandArgs, UsageError } from '../args';
import { defaultStoreDir } from '../../config';
import { startViewServer, type ViewServer } from './server';
import { describeError } from '../../logger';

/** The port used when none is given; `--port 0` asks for any free one. */
export const DEFAULT_PORT = 4100;

/** The `--help` text. */
export function usage(): string {
  return [
    'Usage: span-profiles view [dir] [--host ADDRESS] [--port N]',
    '',
    'Serves a page over the local store: the requests (root spans) of a time range,',
    'each with its trace as a waterfall and the flame graph of the CPU it used, a',
    "service's flame graph, and the diff of two requests or two endpoints.",
    'The page reads the store again on every refresh and needs no network.',
    '',
    'Arguments:',
    '  dir            the store (default: SPAN_PROFILES_DIR, else <tmpdir>/span-profiles)',
    '',
    'Options:',
    '  --host ADDRESS address to listen on (default 127.0.0.1: this machine only)',
    `  --port N       port to listen on (default ${DEFAULT_PORT}; 0 picks a free one)`,
    '  -h, --help     show this help',
  ].join('\n');
}

function parsePort(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) throw new UsageError(`--port '${text}' is not a port number (0-65535)`);
  return Number(text);
}

/**
 * Runs the command with the arguments after `view`. Resolves to the exit code once the server has
 * stopped (on SIGINT/SIGTERM), or at once on bad arguments or when the server cannot start.
 */
export async function runView(argv: string[]): Promise<number> {
  const args = parseCommandArgs(
    argv,
    { host: { type: 'string' }, port: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    1,
  );
  if (args.values.help === true) {
    process.stdout.write(usage() + '\n');
    return EXIT_OK;
  }
  const host = typeof args.values.host === 'string' ? args.values.host : '127.0.0.1';
  if (host.trim() === '') throw new UsageError("--host '' is not an address");
  const port = typeof args.values.port === 'string' ? parsePort(args.values.port) : DEFAULT_PORT;
  const dir = path.resolve(args.positionals[0] ?? defaultStoreDir());

  let server: ViewServer;
  try {
    server = await startViewServer({ dir, host, port });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      process.stderr.write(`span-profiles view: port ${port} on ${host} is in use; choose another with --port N (0 picks a free one)\n`);
    } else if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
      process.stderr.write(`span-profiles view: cannot listen on --host '${host}' (${code}); use an address of this machine\n`);
    } else {
      process.stderr.write(`span-profiles view: ${describeError(error)}\n`);
    }
    return EXIT_FAILURE;
  }

  if (!existsSync(dir)) {
    process.stderr.write(`span-profiles view: ${dir} does not exist yet; the page shows data once the agent has written some\n`);
  }
  process.stdout.write(`span-profiles view: serving the store ${dir}\n${server.url}\nPress Ctrl+C to stop.\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await server.close();
  return EXIT_OK;
}
