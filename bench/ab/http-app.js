'use strict';
// Plain node:http app for bench/ab/cpu-ab.mjs, the peers' fixture (../shared/peers-bench/fixtures/server.js)
// on an ephemeral port: the handler awaits one setImmediate, burns WORK_ITERS loop iterations, answers.
const http = require('node:http');

const WORK_ITERS = Number(process.env.WORK_ITERS || 15000);

function burnCpuWork(iters) {
  let x = 0;
  for (let i = 0; i < iters; i++) x += Math.sqrt(i ^ (x & 0xff));
  return x;
}

function tick() {
  return new Promise((resolve) => setImmediate(resolve));
}

async function handleRequest(req, res) {
  await tick();
  const v = burnCpuWork(WORK_ITERS);
  const body = `ok ${v > 0 ? 1 : 0}\n`;
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const server = http.createServer((req, res) => {
  handleRequest(req, res).catch((e) => {
    res.statusCode = 500;
    res.end(String(e));
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ listening: server.address().port })));

// bench/ab/cpuprof-run.mjs ends the app this way, so --cpu-prof writes its profile.
process.on('SIGUSR2', () => process.exit(0));
