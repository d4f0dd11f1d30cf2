// Stand-in backends for the overhead, startup and memory benches, cheap enough to share the load
// core: a sink that accepts OTLP/HTTP traces and Pyroscope /ingest uploads and only counts them
// (the attribution bench uses the decoding receivers from test/helpers), a backend that accepts
// connections and never answers, and a port nothing listens on.
import http from 'node:http';
import net from 'node:net';

/**
 * Starts the counting sink on 127.0.0.1. Returns { url, counts(), close() }; counts() gives
 * { traces: {requests, bytes}, profiles: {requests, bytes}, other: {requests, bytes} }.
 */
export async function startSink() {
  const counts = { traces: { requests: 0, bytes: 0 }, profiles: { requests: 0, bytes: 0 }, other: { requests: 0, bytes: 0 } };
  const server = http.createServer((req, res) => {
    const path = req.url.split('?')[0];
    const bucket = path === '/v1/traces' ? counts.traces : path.endsWith('/ingest') ? counts.profiles : counts.other;
    bucket.requests++;
    req.on('data', (chunk) => (bucket.bytes += chunk.length));
    req.on('end', () => {
      // An empty protobuf message is a valid ExportTraceServiceResponse.
      const type = bucket === counts.traces ? 'application/x-protobuf' : 'text/plain';
      res.writeHead(200, { 'content-type': type, 'content-length': 0 }).end();
    });
  });
  await listen(server);
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    counts: () => structuredClone(counts),
    close: () => closeServer(server),
  };
}

/** A backend that accepts connections, reads everything and never answers. Returns { url, close() }. */
export async function startHangingBackend() {
  const sockets = new Set();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('data', () => {});
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await listen(server);
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return closeServer(server);
    },
  };
}

/** The URL of a loopback port nothing listens on (connections are refused). */
export async function refusedUrl() {
  const server = net.createServer();
  await listen(server);
  const { port } = server.address();
  await closeServer(server);
  return `http://127.0.0.1:${port}`;
}

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
}

function closeServer(server) {
  server.closeAllConnections?.();
  return new Promise((resolve) => server.close(() => resolve()));
}
