'use strict';
// Preloaded into the servers of the overhead bench: the longest event-loop stall inside windows the
// bench opens and closes with SIGUSR2 (one window per run, under the open-loop load). Inside a window a
// setImmediate chain notes the time between consecutive loop turns: exact, every turn, but it keeps
// the loop polling instead of sleeping, so the bench never reads the server's CPU time across a
// window. monitorEventLoopDelay({ resolution: 1 }) runs beside it (its max is the longest interval
// between two 1 ms timer ticks: the stall plus up to 1 ms). At the window's end one JSON line goes to
// BENCH_STALL_FILE: { windowMs, longestMs, longestAtMs, turnsOver1Ms, turnsOver2Ms, eldMaxMs, eldP99Ms,
// youngGenMb, oldUsedMb }. The last two say what the peak RSS is made of: the young generation V8 has grown
// to (it grows with the bytes that survive scavenges, and stays) and what the old generation holds.
const file = process.env.BENCH_STALL_FILE;
if (file) {
  const fs = require('node:fs');
  const { monitorEventLoopDelay, performance } = require('node:perf_hooks');
  const v8 = require('node:v8');
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  let window; // the open window's figures, or undefined

  const turn = (current) => {
    if (window !== current) return; // closed (or another window opened) since this turn was queued
    const now = performance.now();
    const gap = now - current.last;
    if (gap > current.longest) {
      current.longest = gap;
      current.longestAt = current.last - current.start;
    }
    if (gap > 1) current.over1++;
    if (gap > 2) current.over2++;
    current.last = now;
    setImmediate(turn, current);
  };

  process.on('SIGUSR2', () => {
    if (window === undefined) {
      const now = performance.now();
      window = { start: now, last: now, longest: 0, longestAt: 0, over1: 0, over2: 0 };
      histogram.reset();
      histogram.enable();
      setImmediate(turn, window);
      return;
    }
    const closed = window;
    window = undefined;
    histogram.disable();
    const round = (ms) => Number(ms.toFixed(3));
    const line = {
      windowMs: round(performance.now() - closed.start),
      longestMs: round(closed.longest),
      longestAtMs: round(closed.longestAt),
      turnsOver1Ms: closed.over1,
      turnsOver2Ms: closed.over2,
      eldMaxMs: round(histogram.max / 1e6),
      eldP99Ms: round(histogram.percentile(99) / 1e6),
      ...heapShape(round),
    };
    fs.appendFileSync(file, `${JSON.stringify(line)}\n`);
  });

  function heapShape(round) {
    let young = 0;
    let old = 0;
    for (const space of v8.getHeapSpaceStatistics()) {
      if (space.space_name === 'new_space') young += space.space_size;
      else if (space.space_name === 'old_space' || space.space_name === 'large_object_space') old += space.space_used_size;
    }
    return { youngGenMb: round(young / 1048576), oldUsedMb: round(old / 1048576) };
  }
}
