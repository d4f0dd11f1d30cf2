// The overhead bench's stall monitor (bench/workload/stall-monitor.js) in a real process: a turn that
// computes is a stall outside GC, a turn that is mostly a garbage collection is not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const monitor = fileURLToPath(new URL('../../bench/workload/stall-monitor.js', import.meta.url));

// Two windows, opened and closed with SIGUSR2 as the bench does: in the first, one turn spins 40 ms
// without allocating; in the second, one turn forces a full collection of a large retained heap.
const app = `
const spin = (ms) => { const end = performance.now() + ms; while (performance.now() < end); };
const turns = (n) => new Promise((resolve) => { const next = (i) => (i === 0 ? resolve() : setImmediate(next, i - 1)); next(n); });
const retained = Array.from({ length: 400000 }, (_, i) => ({ i, s: 'x' + i, a: [i] }));
(async () => {
  process.kill(process.pid, 'SIGUSR2');
  await turns(20);
  spin(40);
  await turns(20);
  process.kill(process.pid, 'SIGUSR2');
  await turns(5);
  process.kill(process.pid, 'SIGUSR2');
  await turns(20);
  globalThis.gc();
  await turns(20);
  process.kill(process.pid, 'SIGUSR2');
  await turns(5);
  if (retained.length !== 400000) process.exit(1);
})();
`;

test('the stall monitor tells a turn spent computing from a turn spent in a garbage collection', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'stall-monitor-'));
  try {
    const file = path.join(dir, 'stall.jsonl');
    execFileSync(process.execPath, ['--expose-gc', '--require', monitor, '-e', app], { env: { ...process.env, BENCH_STALL_FILE: file, NODE_OPTIONS: '' } });
    const [computing, collecting] = readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line));

    assert.ok(computing.longestMs >= 40, `the spinning turn is the longest stall (${computing.longestMs} ms)`);
    assert.ok(
      computing.longestOutsideGcMs >= 35 && computing.longestOutsideGcMs <= computing.longestMs,
      `and almost all of it is outside GC (${computing.longestOutsideGcMs} of ${computing.longestMs} ms)`,
    );

    assert.equal(collecting.longestGcKind, 'mark-compact', 'the forced collection is the longest GC pause');
    assert.ok(collecting.longestGcPauseMs >= 2, `it paused the thread (${collecting.longestGcPauseMs} ms)`);
    assert.ok(collecting.gcPauseMs >= collecting.longestGcPauseMs, 'the window total holds the longest pause');
    assert.ok(collecting.longestMs >= collecting.longestGcPauseMs, 'the pause is inside the longest turn');
    assert.ok(
      collecting.longestOutsideGcMs < collecting.longestMs - collecting.longestGcPauseMs * 0.9,
      `that turn less its GC pause is short (${collecting.longestOutsideGcMs} of ${collecting.longestMs} ms)`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
