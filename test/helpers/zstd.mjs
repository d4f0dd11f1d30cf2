// The independent decoder of the store's spans files: Debian's `zstd` command (`zstd -dc` reads the
// concatenated frames the store writes). Missing: the checks that need it are skipped with a reason,
// and under CI=true they fail.
import { spawnSync } from 'node:child_process';

const INSTALL_HINT = 'install it with `apt-get install -y zstd`';

/** Why zstd cannot be used here, or undefined when it can. */
export function zstdUnavailable() {
  const probe = spawnSync('zstd', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    const reason = `the zstd command is not available (${probe.error?.code ?? `exit ${probe.status}`}); ${INSTALL_HINT}`;
    if (process.env.CI === 'true') throw new Error(reason);
    return reason;
  }
  return undefined;
}

/**
 * The decompressed text of `file`, by `zstd -dc`. A last frame still being written makes zstd fail
 * after printing the frames before it: that text is returned (callers keep whole lines only).
 */
export function zstdText(file) {
  const run = spawnSync('zstd', ['-dcq', file], { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (run.error) throw run.error;
  return run.stdout;
}
