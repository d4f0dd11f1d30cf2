/**
 * How a store writer reports a failed write: one warning naming the directory and the error code
 * (repeated at most once a minute, with a count of what was held back), and what to do about it.
 */

import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { getLogger } from '../../logger';
import { markReported } from '../../reported-errors';

const ADVICE: Record<string, string> = {
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is exhausted',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOTDIR: 'a part of the path is a file, not a directory',
};

/** Logs that `what` (e.g. `a CPU profile`) could not be written to the store at `dir`, and was dropped. */
export function reportStoreWriteFailure(dir: string, what: string, error: unknown): void {
  const code = (error as NodeJS.ErrnoException)?.code ?? 'EIO';
  const why = ADVICE[code] ?? (error as Error)?.message ?? String(error);
  markReported(error);
  getLogger().warnRateLimited(
    `store-write:${dir}:${code}`,
    `cannot write to the local store ${dir} (${code}: ${why}); dropped ${what}, the app runs on. ` +
      'Point SPAN_PROFILES_DIR at a writable directory with free space, or lower SPAN_PROFILES_STORE_MAX_SIZE',
  );
}

/**
 * `mkdir -p` that reports the real reason: a recursive mkdir answers ENOENT on a read-only file system,
 * so on ENOENT the deepest missing directory is created alone to learn the actual code (EROFS, EACCES...).
 */
export async function makeStoreDirectory(dir: string): Promise<void> {
  try {
    await fsp.mkdir(dir, { recursive: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    let missing = dir;
    for (;;) {
      const parent = path.dirname(missing);
      if (parent === missing) break;
      try {
        await fsp.stat(parent);
        break;
      } catch {
        missing = parent;
      }
    }
    await fsp.mkdir(missing);
    throw error;
  }
}

