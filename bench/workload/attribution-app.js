'use strict';
// The attribution workload: a node:http server whose routes each burn CPU in functions only that
// route calls (see routes/), plus a background timer that burns CPU outside any request.
//
//   GET /orders|/search|/report|/users?cpu=<ms>   spends <ms> of CPU (default 6) across the route's stages
//   GET /ground-truth                             JSON: every request's root span id, route and measured CPU
//                                                 (so far), how many are still running, and which function
//                                                 belongs to which route
//
// Prints {"listening":PORT} when ready. Under an OpenTelemetry agent, the active span in the request
// handler is the HTTP server span: the local root whose id the profile's span_id label must carry.
const http = require('node:http');
const { trace } = require('@opentelemetry/api');
const { spendCpu } = require('./cpu-budget');

const ROUTES = [require('./routes/orders'), require('./routes/search'), require('./routes/report'), require('./routes/users')];
const routeByPath = new Map(ROUTES.map((route) => [route.path, route]));

/** One entry per request, from its start: { route, spanId, traceId, cpuMicros (spent so far in route functions) }. */
const requests = [];
let inFlight = 0;
let failures = 0;

// CPU outside any request: its samples must carry no span_id.
let housekeepingSink = 0;
function housekeepingCompactCache() {
  let acc = 0;
  for (let i = 1; i < 2500; i++) acc += Math.sqrt(i * 5) * Math.cos(i * 0.23);
  housekeepingSink = (housekeepingSink + acc) % 1e9;
}
const background = { cpuMicros: 0 };
const BACKGROUND_EVERY_MS = 50;
const BACKGROUND_CPU_MICROS = 1000;
setInterval(() => spendCpu(BACKGROUND_CPU_MICROS, housekeepingCompactCache, background), BACKGROUND_EVERY_MS).unref();

function groundTruth() {
  return {
    pid: process.pid,
    node: process.version,
    functionsByRoute: Object.fromEntries(ROUTES.map((route) => [route.path, route.functions])),
    backgroundFunctions: [housekeepingCompactCache.name],
    backgroundCpuMicros: background.cpuMicros,
    failures,
    inFlight,
    requests: requests.map((r) => [r.route, r.spanId, r.traceId, Math.round(r.cpuMicros)]),
  };
}

function send(res, status, body, contentType = 'text/plain') {
  const bytes = Buffer.from(body);
  res.writeHead(status, { 'content-type': contentType, 'content-length': bytes.length }).end(bytes);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://workload');
  if (url.pathname === '/ground-truth') return send(res, 200, JSON.stringify(groundTruth()), 'application/json');
  const route = routeByPath.get(url.pathname);
  if (!route) return send(res, 404, 'not found\n');
  const cpuMs = Number(url.searchParams.get('cpu') ?? 6);
  const spanContext = trace.getActiveSpan()?.spanContext();
  const entry = { route: route.path, spanId: spanContext?.spanId ?? null, traceId: spanContext?.traceId ?? null, cpuMicros: 0 };
  requests.push(entry);
  inFlight++;
  route.handle(entry, cpuMs * 1000).then(
    () => {
      inFlight--;
      send(res, 200, `${route.path} ${Math.round(entry.cpuMicros)}us ${route.sink() > 0}\n`);
    },
    (err) => {
      inFlight--;
      failures++;
      console.error(`request ${req.url} failed: ${err && err.stack}`);
      send(res, 500, 'failed\n');
    },
  );
});

server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  console.log(JSON.stringify({ listening: server.address().port }));
});
