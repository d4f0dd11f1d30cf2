// The HTTP plumbing both receivers share: body collection, request recording and the fault
// modes tests switch with respondWith(): 'ok', a status code, 'hang', 'refuse', 'resume'.
import http from 'node:http';

/**
 * Starts a loopback HTTP server. Every request is read whole, recorded with
 * `record(req, body)` (which returns the record object), then answered according to the mode:
 * 'ok' calls `handle(req, res, body, record)`, a number answers that status, 'hang' never answers.
 */
export async function startFaultInjectingServer({ host = '127.0.0.1', port = 0, record, handle }) {
  let mode = 'ok';
  let listening = false;
  let closed = false;
  const hung = new Set();

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('error', () => {});
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const entry = record(req, body);
      if (mode === 'hang') {
        hung.add(res);
        res.on('close', () => hung.delete(res));
        return;
      }
      if (typeof mode === 'number') {
        entry.status = mode;
        res.writeHead(mode, { 'content-type': 'text/plain' }).end(`injected status ${mode}\n`);
        return;
      }
      try {
        handle(req, res, body, entry);
      } catch (err) {
        entry.status = 500;
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`receiver error: ${err && err.stack}\n`);
      }
    });
  });
  server.keepAliveTimeout = 1000;

  const listen = (onPort) =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(onPort, host, () => {
        server.off('error', reject);
        listening = true;
        resolve(server.address().port);
      });
    });
  const stopListening = () =>
    new Promise((resolve) => {
      listening = false;
      server.close(() => resolve());
      for (const res of hung) res.destroy();
      server.closeAllConnections();
    });

  const boundPort = await listen(port);

  return {
    url: `http://${host}:${boundPort}`,
    port: boundPort,
    get mode() {
      return mode;
    },
    /**
     * 'ok' | <status code> | 'hang' | 'refuse' (stop listening: connections are refused) |
     * 'resume' (listen again on the same port and answer 'ok'). Resolves once in effect.
     */
    async respondWith(newMode) {
      if (closed) throw new Error('respondWith() after close()');
      if (newMode === 'refuse') {
        if (listening) await stopListening();
        mode = 'refuse';
        return;
      }
      if (newMode === 'resume') newMode = 'ok';
      const valid =
        newMode === 'ok' || newMode === 'hang' || (Number.isInteger(newMode) && newMode >= 100 && newMode <= 599);
      if (!valid) throw new Error(`respondWith: unknown mode ${JSON.stringify(newMode)}`);
      if (!listening) await listen(boundPort);
      mode = newMode;
    },
    /** Stops the server and drops every connection, hung ones included. Idempotent. */
    async close() {
      if (closed) return;
      closed = true;
      if (listening) await stopListening();
    },
  };
}
