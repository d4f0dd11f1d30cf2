'use strict';
// Preloaded into the servers of the overhead bench: the longest event-loop stall inside windows the
// bench opens and closes with SIGUSR2 (one window per run, under the open-loop load). Inside a window a
// setImmediate chain notes the time between consecutive loop turns: exact, every turn, but it keeps
// the loop polling instead of sleeping, so the bench never reads the server's CPU time across a
// window. monitorEventLoopDelay({ resolution: 1 }) runs beside it (its max is the longest interval
// between two 1 ms timer ticks: the stall plus up to 1 ms). At the window's end one JSON line goes to
// BENCH_STALL_FILE: { windowMs, longestMs, longestAtMs, turnsOver1Ms, turnsOver2Ms, eldMaxMs, eldP99Ms,
// longestOutsideGcMs, longestGcPauseMs, longestGcKind, gcPauseMs, youngGenMb, oldUsedMb }.
// V8's garbage collections pause the thread inside whatever turn is running, so a long turn is often a GC
// pause and not the code that ran in it: a PerformanceObserver notes every GC in the window, and
// longestOutsideGcMs is the longest turn less the GC pauses inside it (the work the turn itself did).
// The last two say what the peak RSS is made of: the young generation V8 has grown to (it grows with
// the bytes that survive scavenges, and stays) and what the old generation holds.
const file = process.env.BENCH_STALL_FILE;
if (file) {
  const fs = require('node:fs');
  const { monitorEventLoopDelay, performance, PerformanceObserver, constants } = require('node:perf_hooks');
  const v8 = require('node:v8');
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  let window; // the open window's figures, or undefined
  // [startTime, duration, kind] of each GC in the open window.
  let gcs = [];
  const noteGcs = (entries) => {
    for (const entry of entries) gcs.push([entry.startTime, entry.duration, entry.detail?.kind]);
  };
  const gcObserver = new PerformanceObserver((list) => noteGcs(list.getEntries()));

  const turn = (current) => {
    if (window !== current) return; // closed (or another window opened) since this turn was queued
    const now = performance.now();
    const gap = now - current.last;
    if (gap > current.longest) {
      current.longest = gap;
      current.longestAt = current.last - current.start;
    }
    if (gap > 1) current.over1++;
    if (gap > 2) {
      current.over2++;
      current.longTurns.push(current.last, now);
    }
    current.last = now;
    setImmediate(turn, current);
  };

  process.on('SIGUSR2', () => {
    if (window === undefined) {
      const now = performance.now();
      window = { start: now, last: now, longest: 0, longestAt: 0, over1: 0, over2: 0, longTurns: [] };
      gcs = [];
      gcObserver.observe({ entryTypes: ['gc'] });
      histogram.reset();
      histogram.enable();
      setImmediate(turn, window);
      return;
    }
    const closed = window;
    window = undefined;
    histogram.disable();
    noteGcs(gcObserver.takeRecords());
    gcObserver.disconnect();
    const round = (ms) => Number(ms.toFixed(3));
    const line = {
      windowMs: round(performance.now() - closed.start),
      longestMs: round(closed.longest),
      longestAtMs: round(closed.longestAt),
      turnsOver1Ms: closed.over1,
      turnsOver2Ms: closed.over2,
      eldMaxMs: round(histogram.max / 1e6),
      eldP99Ms: round(histogram.percentile(99) / 1e6),
      ...gcShare(closed, round),
      ...heapShape(round),
    };
    fs.appendFileSync(file, `${JSON.stringify(line)}\n`);
  });

  const GC_KINDS = {
    [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
    [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact',
    [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental marking',
    [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak callbacks',
  };

  /** The longest turn less its GC pauses, and the GC pauses themselves, in the closed window. */
  function gcShare(closed, round) {
    // GC entries can nest (a scavenge inside incremental marking): their union, so no pause counts twice.
    const paused = [];
    for (const [start, duration] of [...gcs].sort((a, b) => a[0] - b[0])) {
      const last = paused[paused.length - 1];
      if (last && start <= last[1]) last[1] = Math.max(last[1], start + duration);
      else paused.push([start, start + duration]);
    }
    let longestOutsideGc = 0;
    const turns = closed.longTurns;
    for (let i = 0; i < turns.length; i += 2) {
      const from = turns[i];
      const to = turns[i + 1];
      let inGc = 0;
      for (const [start, end] of paused) inGc += Math.max(0, Math.min(to, end) - Math.max(from, start));
      longestOutsideGc = Math.max(longestOutsideGc, to - from - inGc);
    }
    // Turns of 2 ms or less were not kept: the longest outside GC is at most that.
    if (longestOutsideGc === 0) longestOutsideGc = Math.min(closed.longest, 2);
    let longestGc = [0, 0, undefined];
    let total = 0;
    for (const gc of gcs) {
      total += gc[1];
      if (gc[1] > longestGc[1]) longestGc = gc;
    }
    return {
      longestOutsideGcMs: round(longestOutsideGc),
      longestGcPauseMs: round(longestGc[1]),
      longestGcKind: GC_KINDS[longestGc[2]] ?? null,
      gcPauseMs: round(total),
    };
  }

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
