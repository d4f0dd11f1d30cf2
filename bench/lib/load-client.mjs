// The load generator, run as its own process (pinned to the load core by load.mjs): a fixed number
// of keep-alive HTTP/1.1 connections, each sending its next GET as soon as the previous answer is in
// (closed loop, fixed concurrency). Raw sockets instead of node:http keep its own CPU cost to a few
// µs per request, so it is never the bottleneck of a server pinned to the other core.
//
// Usage: node load-client.mjs '<json options>'; prints one JSON result line on stdout.
// Options: { port, host = '127.0.0.1', connections, paths: [string] (picked at random per request),
//   warmupMs = 0, durationMs (time-limited), requests (count-limited: stop after this many answers),
//   timeoutMs (give up and report what was measured; default warmup + duration + 60 s, or 10 min) }
// Result: { completed, errors, statuses, elapsedMs, requestsPerSecond, timedOut,
//   latencyMs: {mean,p50,p90,p99,p999,max} }
// Answers must carry Content-Length (the bench's apps always send it).
import net from 'node:net';
import { performance } from 'node:perf_hooks';

const options = JSON.parse(process.argv[2] ?? '{}');
const { port, host = '127.0.0.1', connections, paths, warmupMs = 0, durationMs, requests } = options;
const timeoutMs = options.timeoutMs ?? (durationMs > 0 ? warmupMs + durationMs + 60_000 : 600_000);
if (!port || !connections || !Array.isArray(paths) || paths.length === 0 || !(durationMs > 0 || requests > 0)) {
  console.error(`load-client: bad options ${JSON.stringify(options)}`);
  process.exit(2);
}

const requestBytes = paths.map((path) => Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`, 'latin1'));
const HEADER_END = Buffer.from('\r\n\r\n', 'latin1');
const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)/i;

let measuring = warmupMs === 0;
let stopping = false;
let measureStart = performance.now();
let measureEnd = 0;
const latencies = [];
const statuses = {};
let completed = 0;
let errors = 0;
let timedOut = false;
const sockets = new Set();

function record(latency, status) {
  if (!measuring || stopping) return;
  latencies.push(latency);
  statuses[status] = (statuses[status] ?? 0) + 1;
  completed++;
  if (requests > 0 && completed >= requests) finish();
}

function openConnection() {
  if (stopping) return;
  const socket = net.connect(port, host);
  socket.setNoDelay(true);
  sockets.add(socket);
  let pending = null;
  let sentAt = 0;
  const sendNext = () => {
    if (stopping) return;
    sentAt = performance.now();
    socket.write(requestBytes[(Math.random() * requestBytes.length) | 0]);
  };
  socket.on('connect', sendNext);
  socket.on('data', (chunk) => {
    pending = pending ? Buffer.concat([pending, chunk]) : chunk;
    for (;;) {
      const headerEnd = pending.indexOf(HEADER_END);
      if (headerEnd === -1) return;
      const head = pending.toString('latin1', 0, headerEnd);
      const length = CONTENT_LENGTH.exec(head);
      if (!length) {
        errors++;
        socket.destroy(new Error(`answer without Content-Length: ${head.split('\r\n')[0]}`));
        return;
      }
      const total = headerEnd + HEADER_END.length + Number(length[1]);
      if (pending.length < total) return;
      record(performance.now() - sentAt, Number(head.slice(9, 12)));
      pending = pending.length > total ? pending.subarray(total) : null;
      sendNext();
      if (!pending) return;
    }
  });
  socket.on('error', () => {
    if (!stopping) errors++;
  });
  socket.on('close', () => {
    sockets.delete(socket);
    if (!stopping) setTimeout(openConnection, 10);
  });
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function finish() {
  if (stopping) return;
  stopping = true;
  measureEnd = performance.now();
  for (const socket of sockets) socket.destroy();
  const sorted = Float64Array.from(latencies).sort();
  const elapsedMs = measureEnd - measureStart;
  const round = (value) => (value == null ? null : Number(value.toFixed(3)));
  const result = {
    completed,
    errors,
    statuses,
    elapsedMs: round(elapsedMs),
    requestsPerSecond: round((completed * 1000) / elapsedMs),
    timedOut,
    latencyMs: {
      mean: round(sorted.reduce((sum, value) => sum + value, 0) / (sorted.length || 1)),
      p50: round(percentile(sorted, 50)),
      p90: round(percentile(sorted, 90)),
      p99: round(percentile(sorted, 99)),
      p999: round(percentile(sorted, 99.9)),
      max: round(sorted.length ? sorted[sorted.length - 1] : null),
    },
  };
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
}

for (let i = 0; i < connections; i++) openConnection();
setTimeout(() => {
  timedOut = true;
  finish();
}, timeoutMs).unref();
if (warmupMs > 0) {
  setTimeout(() => {
    measuring = true;
    measureStart = performance.now();
    if (durationMs > 0) setTimeout(finish, durationMs);
  }, warmupMs);
} else if (durationMs > 0) {
  setTimeout(finish, durationMs);
}
