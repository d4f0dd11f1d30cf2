/**
 * How a store writer reports a failed write: one warning naming the directory and the error code
 * (repeated at most once a minute, with a count of what was held back), and what to do about it.
 */

import { getLogger } from '../logger';

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
  getLogger().warnRateLimited(
    `store-write:${dir}:${code}`,
    `cannot write to the local store ${dir} (${code}: ${why}); ${what} was dropped, the app runs on. ` +
      'Point SPAN_PROFILES_DIR at a writable directory with free space, or lower SPAN_PROFILES_STORE_MAX_SIZE',
  );
}

