'use strict';
// Spending a set amount of CPU in a named function, and counting it per request.
//
// Why hrtime and not process.threadCpuUsage(): getrusage() advances in scheduler ticks (4 ms here),
// far coarser than the sub-millisecond stretches a request runs. A synchronous stretch of JS, on the
// one JS thread, belongs to exactly one request however many are in flight, and while it runs the
// thread is on CPU unless the core is taken from it (the bench pins the app to its own core), so its
// elapsed hrtime is that request's CPU time (an over-count only when the core is preempted).

const nowMicros = () => Number(process.hrtime.bigint()) / 1000;

/**
 * Calls `kernel` (a route's own function, a few tens of µs of work per call) until `micros` have
 * passed, and adds the time really spent to `account.cpuMicros`. The kernel, not this loop, is the
 * leaf of almost every sample.
 */
function spendCpu(micros, kernel, account) {
  const start = nowMicros();
  const until = start + micros;
  let now = start;
  do {
    kernel();
    now = nowMicros();
  } while (now < until);
  account.cpuMicros += now - start;
}

module.exports = { spendCpu };
