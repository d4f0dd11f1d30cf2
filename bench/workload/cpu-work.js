'use strict';
// A fixed amount of real CPU work for the bench's apps: a loop of BENCH_WORK_ITERATIONS iterations,
// calibrated by the bench on the app core (the same count in every configuration, so the agent's cost
// is not absorbed by a time-based loop, e.g. the profiler's signal handling inside the loop).
//
//   node cpu-work.js <micros>   prints {"iterations":N,"micros":M}: the count that takes <micros> here

let sink = 0;

/** Runs `iterations` loop iterations of floating-point work; returns a value that depends on all of them. */
function computeOrderTotals(iterations) {
  let acc = 0;
  for (let i = 1; i <= iterations; i++) acc += Math.sqrt(i) * Math.sin(i) + Math.log(i + 1);
  sink = (sink + acc) % 1e9;
  return acc;
}

/** { iterations, micros }: the iteration count that takes about `targetMicros` on this core, once optimised. */
function calibrate(targetMicros) {
  const timeIt = (iterations) => {
    const start = process.hrtime.bigint();
    computeOrderTotals(iterations);
    return Number(process.hrtime.bigint() - start) / 1000;
  };
  for (let i = 0; i < 200; i++) timeIt(5000); // let the JIT optimise it
  let iterations = 5000;
  for (let round = 0; round < 6; round++) {
    const samples = Array.from({ length: 101 }, () => timeIt(iterations)).sort((a, b) => a - b);
    iterations = Math.max(1, Math.round((iterations * targetMicros) / samples[50]));
  }
  const check = Array.from({ length: 201 }, () => timeIt(iterations)).sort((a, b) => a - b);
  return { iterations, micros: Number(check[100].toFixed(1)) };
}

/** The calibrated iteration count given by the bench (BENCH_WORK_ITERATIONS), or `fallback`. */
function workIterations(fallback = 20000) {
  return Number(process.env.BENCH_WORK_ITERATIONS || fallback);
}

module.exports = { computeOrderTotals, calibrate, workIterations };

if (require.main === module) {
  console.log(JSON.stringify(calibrate(Number(process.argv[2] ?? 300))));
}
