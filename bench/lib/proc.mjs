// Readings of another process from /proc (Linux): resident memory and CPU time.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticksPerSecond;
function clockTicksPerSecond() {
  if (ticksPerSecond === undefined) {
    const result = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    ticksPerSecond = Number(result.stdout?.trim()) || 100;
  }
  return ticksPerSecond;
}

/** { rssKb, peakRssKb } of `pid` from /proc/<pid>/status, or undefined when unreadable. */
export function readMemory(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
    return { rssKb: field('VmRSS'), peakRssKb: field('VmHWM') };
  } catch {
    return undefined;
  }
}

/** CPU time (user + system, all threads) `pid` has used so far, in ms; undefined when unreadable. */
export function readCpuMs(pid) {
  const times = readCpuTimesMs(pid);
  return times === undefined ? undefined : times.user + times.system;
}

/** User and system CPU time (all threads) `pid` has used so far, in ms each; undefined when unreadable. */
export function readCpuTimesMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const perMs = 1000 / clockTicksPerSecond();
    return { user: Number(fields[11]) * perMs, system: Number(fields[12]) * perMs };
  } catch {
    return undefined;
  }
}

/**
 * CPU time so far of each of `pid`'s threads, summed by thread name (MainThread, V8Worker, v8:ProfEvntProc,
 * libuv-worker, ...), in ms, from each thread's schedstat (nanoseconds on a CPU: exact, not in ticks).
 */
export function readThreadCpuMs(pid) {
  const byName = {};
  let tids = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return byName;
  }
  for (const tid of tids) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      byName[name] = (byName[name] ?? 0) + ns / 1e6;
    } catch {
      // The thread ended meanwhile.
    }
  }
  return byName;
}

/**
 * Busy time (user + nice + system, in ms) of CPU `core` so far, from /proc/stat; undefined when unreadable.
 * Over a window, minus the CPU time of the processes the bench put on that core, it is the time something
 * else took there (irq and softirq are left out: the bench's own loopback traffic is charged there).
 */
export function readCoreBusyMs(core) {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(`cpu${core} `));
    const [user, nice, system] = line.trim().split(/\s+/).slice(1).map(Number);
    return ((user + nice + system) * 1000) / clockTicksPerSecond();
  } catch {
    return undefined;
  }
}
