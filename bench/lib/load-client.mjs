// The load generator, run as its own process (pinned to the load core by processes.mjs), over
// keep-alive HTTP/1.1 connections. Two modes:
// - closed loop (default): a fixed number of connections, each sending its next GET as soon as the
//   previous answer is in (fixed concurrency: throughput of a saturated server);
// - open loop (`rate`): GETs sent at a fixed rate whatever the answers do, each on a connection that
//   is free at that moment (a new one is opened when none is, up to maxConnections), so a stalled
//   server sees requests pile up as it would in production and p99 means something. Latency runs
//   from when the request was written; `sendLagMs` says how late the client itself was against the
//   schedule (a starved load core shows there, not in the server's latency). Sending stops after
//   durationMs; the answers still owed are then awaited (up to drainMs), so the slowest requests of
//   the window count in its percentiles; those never answered are reported as `unanswered`.
// Raw sockets instead of node:http keep its own CPU cost to a few µs per request, so it is never the
// bottleneck of a server pinned to the other core.
//
// Usage: node load-client.mjs '<json options>'; prints one JSON result line on stdout.
// Options: { port, host = '127.0.0.1', connections (closed loop: the concurrency; open loop: opened at
//   the start), rate (req/s: open loop), maxConnections = 512, drainMs = 5000 (open loop), paths: [string] (picked at
//   random per request), warmupMs = 0, durationMs (time-limited), requests (count-limited: stop after
//   this many answers), timeoutMs (give up and report what was measured; default warmup + duration +
//   60 s, or 10 min) }
// Result: { completed, errors, statuses, elapsedMs, requestsPerSecond, timedOut,
//   latencyMs: {mean,p50,p90,p99,p999,max}, open loop also: sent, unanswered, sendLagMs: {p99,max}, connectionsOpened }
// Answers must carry Content-Length (the bench's apps always send it).
import net from 'node:net';
import { performance } from 'node:perf_hooks';

const options = JSON.parse(process.argv[2] ?? '{}');
const { port, host = '127.0.0.1', connections, rate, maxConnections = 512, drainMs = 5000, paths, warmupMs = 0, durationMs, requests } = options;
const timeoutMs = options.timeoutMs ?? (durationMs > 0 ? warmupMs + durationMs + 60_000 : 600_000);
const openLoop = rate > 0;
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
let sent = 0;
let inFlight = 0; // open loop: written, not yet answered
let sendingStopped = false; // open loop: the window is over, the answers owed are awaited
let connectionsOpened = 0;
const sendLags = [];
const sockets = new Set();
/** Open loop: connected sockets with no request in flight. */
const idle = [];

function record(latency, status) {
  if (!measuring || stopping) return;
  latencies.push(latency);
  statuses[status] = (statuses[status] ?? 0) + 1;
  completed++;
  if (requests > 0 && completed >= requests) finish();
}

function openConnection() {
  if (stopping) return undefined;
  const socket = net.connect(port, host);
  connectionsOpened++;
  socket.setNoDelay(true);
  sockets.add(socket);
  let pending = null;
  const connection = { socket, sentAt: 0, busy: false, connected: false };
  connection.send = () => {
    if (stopping) return;
    inFlight++;
    connection.busy = true;
    connection.sentAt = performance.now();
    socket.write(requestBytes[(Math.random() * requestBytes.length) | 0]);
  };
  const becameFree = () => {
    connection.busy = false;
    if (openLoop) {
      idle.push(connection);
      dispatch();
    } else {
      connection.send();
    }
  };
  socket.on('connect', () => {
    connection.connected = true;
    if (openLoop && connection.busy) connection.send(); // a request was waiting for this connection
    else becameFree();
  });
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
      inFlight--;
      record(performance.now() - connection.sentAt, Number(head.slice(9, 12)));
      pending = pending.length > total ? pending.subarray(total) : null;
      if (sendingStopped && inFlight === 0) return finish();
      becameFree();
      if (!pending) return;
    }
  });
  socket.on('error', () => {
    if (!stopping) errors++;
  });
  socket.on('close', () => {
    sockets.delete(socket);
    const at = idle.indexOf(connection);
    if (at !== -1) idle.splice(at, 1);
    if (!stopping && !openLoop) setTimeout(openConnection, 10);
  });
  return connection;
}

// Open loop: the schedule. Request k is due at scheduleStart + k / rate; a timer wakes at the next
// due time (Node's timers are 1 ms grained, so a few requests may go out together).
let scheduleStart = 0;
let due = 0; // requests due so far
let waiting = 0; // due but not yet written (no free connection)
function dispatch() {
  while (waiting > 0 && !stopping && !sendingStopped) {
    let connection = idle.pop();
    if (connection === undefined) {
      if (sockets.size >= maxConnections) return;
      connection = openConnection();
      connection.busy = true; // sent on connect
      waiting--;
      sent++;
      continue;
    }
    waiting--;
    sent++;
    connection.send();
  }
}
function tick() {
  if (stopping || sendingStopped) return;
  const now = performance.now();
  const dueNow = Math.floor(((now - scheduleStart) * rate) / 1000) + 1;
  if (dueNow > due) {
    // How late this wake-up is against the earliest request it releases.
    if (measuring) sendLags.push(now - (scheduleStart + (due * 1000) / rate));
    waiting += dueNow - due;
    due = dueNow;
    dispatch();
  }
  const next = scheduleStart + (due * 1000) / rate;
  setTimeout(tick, Math.max(0, next - performance.now()));
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** End of the window: a closed loop stops at once, an open loop stops sending and awaits what it is owed. */
function endWindow() {
  if (!openLoop) return finish();
  measureEnd = performance.now();
  sendingStopped = true;
  if (inFlight === 0) return finish();
  setTimeout(finish, drainMs);
}

function finish() {
  if (stopping) return;
  stopping = true;
  measureEnd ||= performance.now();
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
  if (openLoop) {
    const lags = Float64Array.from(sendLags).sort();
    Object.assign(result, {
      rate,
      sent,
      unanswered: inFlight + waiting,
      sendLagMs: { p99: round(percentile(lags, 99)), max: round(lags.length ? lags[lags.length - 1] : null) },
      connectionsOpened,
    });
  }
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
}

for (let i = 0; i < connections; i++) openConnection();
setTimeout(() => {
  timedOut = true;
  finish();
}, timeoutMs).unref();

function begin() {
  if (openLoop) {
    scheduleStart = performance.now();
    tick();
  }
  if (warmupMs > 0) {
    setTimeout(() => {
      measuring = true;
      measureStart = performance.now();
      if (durationMs > 0) setTimeout(endWindow, durationMs);
    }, warmupMs);
  } else {
    measureStart = performance.now();
    if (durationMs > 0) setTimeout(endWindow, durationMs);
  }
}
// Open loop: start the schedule once the first connections are up, so its first requests don't wait
// for a handshake.
if (openLoop) setTimeout(begin, 50);
else begin();
