// CPU pinning with taskset: the app under test gets core 0 to itself; the bench process, its
// receivers and the load generator share core 1. Without taskset or with one core, nothing is
// pinned and the results say so.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

export const SERVER_CORE = 0;
export const LOAD_CORE = 1;

let pinning;

/** { enabled, reason }: whether processes can be pinned to SERVER_CORE and LOAD_CORE. */
export function pinningSupport() {
  if (pinning) return pinning;
  const cores = os.availableParallelism();
  const taskset = spawnSync('taskset', ['-p', String(process.pid)], { encoding: 'utf8' });
  if (taskset.error || taskset.status !== 0) pinning = { enabled: false, reason: 'taskset is not available' };
  else if (cores < 2) pinning = { enabled: false, reason: `only ${cores} core available` };
  else pinning = { enabled: true, reason: `app on core ${SERVER_CORE}; bench, receivers and load generator on core ${LOAD_CORE}` };
  return pinning;
}

/** [command, args] running `command args` on `core` (unchanged when pinning is unavailable). */
export function onCore(core, command, args) {
  if (!pinningSupport().enabled) return [command, args];
  return ['taskset', ['-c', String(core), command, ...args]];
}

/** Moves every thread of this process to `core` (threads started later inherit it). */
export function pinThisProcess(core) {
  if (!pinningSupport().enabled) return false;
  const result = spawnSync('taskset', ['-a', '-p', '-c', String(core), String(process.pid)], { encoding: 'utf8' });
  return result.status === 0;
}

/**
 * Moves every thread of process `pid` and of its current children to `core` (children forked later
 * inherit it): for a server the bench did not spawn itself, such as PostgreSQL's postmaster.
 */
export function pinProcessTree(pid, core) {
  if (!pinningSupport().enabled) return false;
  let children = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  } catch {
    // no children file (old kernel): the postmaster alone, its later children follow it
  }
  let ok = true;
  for (const id of [String(pid), ...children]) {
    const result = spawnSync('taskset', ['-a', '-p', '-c', String(core), id], { encoding: 'utf8' });
    ok &&= result.status === 0;
  }
  return ok;
}
