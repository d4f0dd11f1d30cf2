'use strict';
// Async-heavy Express app for bench/ab/cpu-ab.mjs: each request crosses an async middleware, many awaits,
// a timer, setImmediate, a Promise.all fan-out of four async branches and a nested manual span, burning a
// little CPU in several of those places. @opentelemetry/api is a no-op when no agent is loaded.
const express = require('express');
const { trace } = require('@opentelemetry/api');

const WORK_ITERS = Number(process.env.WORK_ITERS || 15000);
const tracer = trace.getTracer('bench-express');

function burn(iters) {
  let x = 0;
  for (let i = 0; i < iters; i++) x += Math.sqrt(i ^ (x & 0xff));
  return x;
}
const immediate = () => new Promise((resolve) => setImmediate(resolve));
const timer = () => new Promise((resolve) => setTimeout(resolve, 0));

async function lookup(id, k) {
  await null;
  await immediate();
  let v = burn(WORK_ITERS >> 3);
  for (let i = 0; i < 3; i++) v += await Promise.resolve(i + k);
  return v + id;
}

const app = express();
app.use(async (req, res, next) => {
  await null;
  req.startedAt = Date.now();
  next();
});
app.get('/orders/:id', async (req, res) => {
  const id = Number(req.params.id) || 1;
  await immediate();
  await timer();
  const parts = await Promise.all([lookup(id, 1), lookup(id, 2), lookup(id, 3), lookup(id, 4)]);
  const total = await tracer.startActiveSpan('price-order', async (span) => {
    try {
      await null;
      const v = burn(WORK_ITERS >> 1);
      await immediate();
      return v;
    } finally {
      span.end();
    }
  });
  for (let i = 0; i < 5; i++) await null;
  res.set('content-type', 'application/json');
  res.send(JSON.stringify({ id, ok: parts.length + (total > 0 ? 1 : 0) }));
});

const server = app.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ listening: server.address().port })));
server.keepAliveTimeout = 60000;

// bench/ab/cpuprof-run.mjs ends the app this way, so --cpu-prof writes its profile.
process.on('SIGUSR2', () => process.exit(0));
