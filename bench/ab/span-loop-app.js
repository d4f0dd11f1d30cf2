'use strict';
// A load without a load generator, for measuring the agent's own event-loop stalls on a shared machine: the app
// makes RATE (default 1000) request-like root spans per second itself, from a 1 ms timer, so each loop turn
// holds about one of them (~0.3 ms of CPU with BENCH_WORK_ITERATIONS=3000) and a long turn is the agent's.
// Each request: a root span named `GET` until it ends (renamed to its route then, as HTTP servers are), a child
// span with the work, an await, a little more work. Run under bench/ab/cut-stall.mjs.
const { trace, context } = require('@opentelemetry/api');
const tracer = trace.getTracer('span-loop');
const RATE = Number(process.env.RATE ?? 1000);
const iterations = Number(process.env.BENCH_WORK_ITERATIONS || 3000);
let sink = 0;
function handleOrderLookup(n) {
  let acc = 0;
  for (let i = 1; i <= n; i++) acc += Math.sqrt(i) * Math.sin(i) + Math.log(i + 1);
  sink = (sink + acc) % 1e9;
  return acc;
}
function renderOrder(n) {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(97 + (i % 26));
  return s.length;
}
const routes = ['/orders/:id', '/users/:id', '/cart', '/search'];
let made = 0;
function request(k) {
  const root = tracer.startSpan('GET', { attributes: { 'http.method': 'GET' } });
  context.with(trace.setSpan(context.active(), root), () => {
    const child = tracer.startSpan('lookup');
    context.with(trace.setSpan(context.active(), child), () => {
      handleOrderLookup(k % 2 ? iterations : Math.round(iterations * 0.8));
      setImmediate(() => {
        renderOrder(300);
        child.end();
        root.updateName(`GET ${routes[k % routes.length]}`);
        root.end();
      });
    });
  });
}
const t0 = performance.now();
setInterval(() => {
  const due = Math.floor(((performance.now() - t0) / 1000) * RATE);
  // One request a turn at most: a turn's length is then one request's plus whatever else ran in it. When the
  // process was preempted the app falls behind RATE instead of bunching requests (the achieved rate is printed).
  if (made < due) request(made++);
}, 1);
console.log(JSON.stringify({ listening: 0 }));
process.on('SIGUSR2', () => console.error(`span-loop-app: ${Math.round(made / ((performance.now() - t0) / 1000))} requests/s`));
