'use strict';
// The overhead fixture: a plain node:http server whose handler does a fixed amount of real CPU work
// (BENCH_WORK_ITERATIONS loop iterations, calibrated by the bench to ~0.3 ms on this machine, the
// same count in every configuration so the agent's cost is not absorbed by a time-based loop).
//
//   GET /            the work, then a short JSON answer
//   GET /light       no work (the memory phase, to reach 100,000 requests quickly)
//   GET /memory      process.memoryUsage() after a full GC when --expose-gc is given
//   node overhead-server.js --calibrate <micros>   prints {"iterations":N,"micros":M} and exits
//
// Prints {"listening":PORT} when ready.
const http = require('node:http');

let sink = 0;

function handleOrderLookup(iterations) {
  let acc = 0;
  for (let i = 1; i <= iterations; i++) acc += Math.sqrt(i) * Math.sin(i) + Math.log(i + 1);
  sink = (sink + acc) % 1e9;
  return acc;
}

function calibrate(targetMicros) {
  const timeIt = (iterations) => {
    const start = process.hrtime.bigint();
    handleOrderLookup(iterations);
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

const calibrateAt = process.argv.indexOf('--calibrate');
if (calibrateAt !== -1) {
  console.log(JSON.stringify(calibrate(Number(process.argv[calibrateAt + 1] ?? 300))));
  process.exit(0);
}

const iterations = Number(process.env.BENCH_WORK_ITERATIONS || 20000);
const collectGarbage = typeof globalThis.gc === 'function' ? globalThis.gc : undefined;

function send(res, body) {
  const bytes = Buffer.from(body);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': bytes.length }).end(bytes);
}

const server = http.createServer((req, res) => {
  switch (req.url) {
    case '/':
      return send(res, `{"ok":${handleOrderLookup(iterations) !== 0}}`);
    case '/light':
      return send(res, '{"ok":true}');
    case '/memory':
      if (collectGarbage) {
        collectGarbage();
        collectGarbage();
      }
      return send(res, JSON.stringify({ ...process.memoryUsage(), gc: Boolean(collectGarbage) }));
    default:
      res.writeHead(404, { 'content-length': 0 }).end();
  }
});

server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  console.log(JSON.stringify({ listening: server.address().port }));
});
