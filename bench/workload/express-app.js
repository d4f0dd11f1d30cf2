'use strict';
// The bench's `express` workload: an async-heavy Express 5 app. Each GET /orders/:id crosses two
// middlewares (one async), about twenty awaits, a 1 ms timer, setImmediate, a Promise.all fan-out over
// four shards and a nested manual span (@opentelemetry/api: a no-op without an SDK, so the same code
// runs bare), spending BENCH_WORK_ITERATIONS loop iterations in all (calibrated by the bench to
// ~0.3 ms), split in six pieces across those steps. Prints {"listening":PORT} when ready.
const { setTimeout: sleep, setImmediate: nextTurn } = require('node:timers/promises');
const { trace } = require('@opentelemetry/api');
const express = require('express');
const { computeOrderTotals, workIterations } = require('./cpu-work.js');

const piece = Math.max(1, Math.round(workIterations() / 6));
const shardPiece = Math.max(1, Math.round(piece / 4));
const tracer = trace.getTracer('bench-express-app');

async function loadCustomer(id) {
  await Promise.resolve();
  computeOrderTotals(piece);
  await nextTurn();
  return { id, tier: id % 3 };
}

async function readShard(orderId, shard) {
  await nextTurn();
  const lines = [];
  for (let i = 0; i < 3; i++) {
    await Promise.resolve();
    lines.push({ sku: `${shard}-${orderId % 97}-${i}`, quantity: 1 + ((orderId + i) % 4) });
  }
  computeOrderTotals(shardPiece);
  return lines;
}

async function priceOrder(customer, lines) {
  // A nested manual span around the pricing, as an app adds one around a step it cares about.
  return tracer.startActiveSpan('price-order', async (span) => {
    try {
      span.setAttribute('order.lines', lines.length);
      await sleep(1);
      const total = computeOrderTotals(piece) + lines.reduce((sum, line) => sum + line.quantity, 0);
      await nextTurn();
      computeOrderTotals(piece);
      return { total: Math.round(total) % 10_000, discount: customer.tier * 5 };
    } finally {
      span.end();
    }
  });
}

const app = express();
app.disable('etag');
app.disable('x-powered-by');
app.use(function requestTag(req, res, next) {
  res.set('x-bench', '1');
  next();
});
app.use(async function loadSession(req, res, next) {
  await Promise.resolve();
  req.session = { locale: 'en' };
  next();
});
app.get('/orders/:id', async function getOrder(req, res) {
  const id = Number(req.params.id) || 1;
  const customer = await loadCustomer(id);
  const shards = await Promise.all([0, 1, 2, 3].map((shard) => readShard(id, shard)));
  computeOrderTotals(piece);
  const lines = shards.flat();
  const price = await priceOrder(customer, lines);
  await new Promise((resolve) => setImmediate(resolve));
  computeOrderTotals(piece);
  res.json({ id, customer: customer.id, lines: lines.length, ...price, locale: req.session.locale });
});

const server = app.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  console.log(JSON.stringify({ listening: server.address().port }));
});
server.keepAliveTimeout = 60_000;
