'use strict';
// Preloaded by the overhead bench to see what a profile cut costs the event loop: a 1 ms timer
// notes the longest gap between its ticks in each wall-clock second and appends it (ms) as one line
// to BENCH_LOOP_STALL_FILE. Written every second, so no exit or signal handling is needed.
const fs = require('node:fs');
const { performance } = require('node:perf_hooks');

const file = process.env.BENCH_LOOP_STALL_FILE;
if (file) {
  let last = performance.now();
  let secondStart = last;
  let longest = 0;
  setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    if (now - secondStart >= 1000) {
      fs.appendFileSync(file, `${longest.toFixed(2)}\n`);
      secondStart = now;
      longest = 0;
    }
  }, 1).unref();
}
