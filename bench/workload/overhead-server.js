'use strict';
// The overhead fixture (the bench's `http` workload): a plain node:http server whose handler does a
// fixed amount of real CPU work (BENCH_WORK_ITERATIONS loop iterations of cpu-work.js, calibrated by
// the bench to ~0.3 ms on this machine, the same count in every configuration).
//
//   GET /            the work, then a short JSON answer
//   GET /light       no work (the memory phase, to reach 100,000 requests quickly)
//   GET /memory      process.memoryUsage() after a full GC when --expose-gc is given
//   node overhead-server.js --calibrate <micros>   prints {"iterations":N,"micros":M} and exits
//
// Prints {"listening":PORT} when ready.
const http = require('node:http');
const { calibrate, computeOrderTotals, workIterations } = require('./cpu-work.js');

const calibrateAt = process.argv.indexOf('--calibrate');
if (calibrateAt !== -1) {
  console.log(JSON.stringify(calibrate(Number(process.argv[calibrateAt + 1] ?? 300))));
  process.exit(0);
}

const iterations = workIterations();
const collectGarbage = typeof globalThis.gc === 'function' ? globalThis.gc : undefined;

function send(res, body) {
  const bytes = Buffer.from(body);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': bytes.length }).end(bytes);
}

const server = http.createServer((req, res) => {
  switch (req.url) {
    case '/':
      return send(res, `{"ok":${computeOrderTotals(iterations) !== 0}}`);
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
