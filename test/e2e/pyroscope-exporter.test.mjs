// PyroscopeExporter + UploadQueue against a tiny inline /ingest server on 127.0.0.1: wire format,
// auth, retries, the bounded queue, flush deadlines, secrets, and never keeping the process alive.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import http from 'node:http';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { decodePprof } from '../helpers/pprof-samples.mjs';

const require = createRequire(import.meta.url);
const { PyroscopeExporter } = require('../../dist/export/pyroscope.js');
const { buildProfiles } = require('../../dist/profiler/profile-builder.js');
const { getLogger } = require('../../dist/logger.js');
const { Profile, StringTable, ValueType, Sample, Location, Line, Function: PprofFunction } = require('pprof-format');

/**
 * A loopback server. `answer(req, res, entry)` decides the response; by default 200. Each request is
 * recorded as { url, query, headers, body, closed } once its body is read.
 */
async function startServer(answer = (req, res) => res.end()) {
  const requests = [];
  const events = new EventEmitter();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url, 'http://x');
      const entry = { url, query: Object.fromEntries(url.searchParams), headers: req.headers, body: Buffer.concat(chunks), closed: false };
      res.on('close', () => {
        entry.closed = true;
        events.emit('closed');
      });
      requests.push(entry);
      events.emit('request');
      answer(req, res, entry);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const waitFor = async (condition, event = 'request') => {
    while (!condition()) await once(events, event);
  };
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    port: server.address().port,
    requests,
    waitFor,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

let profileCounter = 0;
function fakeProfile(overrides = {}) {
  const n = ++profileCounter;
  return {
    kind: 'cpu',
    data: Buffer.from(`profile-${n}`),
    startMs: 1_700_000_000_000 + n * 15_000,
    endMs: 1_700_000_015_000 + n * 15_000,
    sampleCount: 1,
    intervalMicros: 10_000,
    ...overrides,
  };
}

const FAST_RETRY = { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 5 };
const base = (server, extra = {}) => ({
  serverAddress: server.url,
  appName: 'shop',
  tags: {},
  timeoutMs: 10_000,
  queueSize: 10,
  retry: FAST_RETRY,
  // No version probe: these tests count the uploads the server sees (the probe has its own tests).
  traceId: 'off',
  ...extra,
});

/** Captures the agent logger's lines for the duration of `fn`. */
async function withLogLines(fn) {
  const lines = [];
  getLogger().setSink((line) => lines.push(line));
  try {
    await fn(lines);
  } finally {
    getLogger().setSink((line) => process.stderr.write(`${line}\n`));
  }
  return lines;
}

test('POSTs the gzipped pprof to {server path}/ingest with name, tags and time range', async () => {
  const server = await startServer();
  try {
    const exporter = new PyroscopeExporter(
      base(server, {
        serverAddress: `${server.url}/pyroscope/`,
        appName: '@acme/shop',
        tags: { env: 'prod', 'k8s-pod': 'a,b}c', region: ' eu ', __name__: 'hijack', empty: '' },
      }),
    );
    const raw = syntheticRaw();
    const [cpu] = await buildProfiles(raw, { intervalMicros: 10_000, startMs: 1_700_000_000_500, endMs: 1_700_000_015_400, wall: false });
    exporter.enqueue(cpu);
    await exporter.flush(Date.now() + 10_000);

    assert.equal(server.requests.length, 1);
    const [req] = server.requests;
    assert.equal(req.url.pathname, '/pyroscope/ingest');
    assert.deepEqual(req.query, {
      name: '_acme/shop{env=prod,k8s_pod=a_b_c,region=eu}',
      from: '1700000000',
      until: '1700000016',
      format: 'pprof',
      spyName: 'nodespy',
      sampleRate: '100',
    });
    assert.equal(req.headers['content-type'], 'application/octet-stream');
    assert.equal(req.headers.authorization, undefined);
    assert.deepEqual(req.body, cpu.data);
    assert.deepEqual(decodePprof(req.body).sampleTypes, ['samples/count', 'cpu/nanoseconds']);
    assert.deepEqual({ ...exporter.counters }, { sent: 1, failed: 0, dropped: 0, retried: 0, split: 0 });
    assert.equal(exporter.description, `pyroscope ${server.url}/pyroscope`);
    await exporter.shutdown(Date.now() + 1000);
  } finally {
    await server.close();
  }
});

test('auth: basic, bearer, tenant and extra headers', async () => {
  const server = await startServer();
  try {
    const basic = new PyroscopeExporter(
      base(server, { basicAuth: { user: '12345', password: 'glc_p@ss' }, tenantId: 'team-a', headers: { 'X-Extra': 'yes' } }),
    );
    basic.enqueue(fakeProfile());
    await basic.flush(Date.now() + 10_000);
    const bearer = new PyroscopeExporter(base(server, { authToken: 'tok-123', basicAuth: { user: 'u', password: 'p' } }));
    bearer.enqueue(fakeProfile());
    await bearer.flush(Date.now() + 10_000);

    assert.equal(server.requests.length, 2);
    const [first, second] = server.requests.map((r) => r.headers);
    assert.equal(first.authorization, `Basic ${Buffer.from('12345:glc_p@ss').toString('base64')}`);
    assert.equal(first['x-scope-orgid'], 'team-a');
    assert.equal(first['x-extra'], 'yes');
    assert.equal(second.authorization, 'Bearer tok-123', 'a token takes precedence over basic auth');
    assert.equal(second['x-scope-orgid'], undefined);
    await Promise.all([basic.shutdown(Date.now()), bearer.shutdown(Date.now())]);
  } finally {
    await server.close();
  }
});

test('credentials in the server URL become basic auth and are stripped from the URL', async () => {
  const server = await startServer();
  try {
    const exporter = new PyroscopeExporter(
      base(server, { serverAddress: `http://stack%40id:s3cr%3Aet@127.0.0.1:${server.port}/base` }),
    );
    const profile = fakeProfile();
    exporter.enqueue(profile);
    await exporter.flush(Date.now() + 10_000);

    assert.equal(server.requests.length, 1);
    assert.equal(server.requests[0].headers.authorization, `Basic ${Buffer.from('stack@id:s3cr:et').toString('base64')}`);
    assert.equal(server.requests[0].url.pathname, '/base/ingest');
    for (const text of [exporter.description, exporter.ingestUrlFor(profile).href]) {
      assert.ok(!text.includes('s3cr') && !text.includes('stack'), text);
    }
    await exporter.shutdown(Date.now());
  } finally {
    await server.close();
  }
});

test('retries a 503, then succeeds', async () => {
  let calls = 0;
  const server = await startServer((req, res) => {
    calls++;
    if (calls === 1) res.writeHead(503).end('overloaded');
    else res.end();
  });
  try {
    const exporter = new PyroscopeExporter(base(server));
    exporter.enqueue(fakeProfile());
    await exporter.flush(Date.now() + 10_000);
    assert.equal(server.requests.length, 2);
    assert.deepEqual(server.requests[0].body, server.requests[1].body);
    assert.deepEqual({ ...exporter.counters }, { sent: 1, failed: 0, dropped: 0, retried: 1, split: 0 });
    await exporter.shutdown(Date.now());
  } finally {
    await server.close();
  }
});

test('a 400 is not retried; its status and reason are reported', async () => {
  const reason = `invalid tag key "k8s-pod": character is not allowed: '-'   \n${'detail '.repeat(100)}`;
  const server = await startServer((req, res) => res.writeHead(400).end(reason));
  try {
    const lines = await withLogLines(async () => {
      const exporter = new PyroscopeExporter(base(server));
      exporter.enqueue(fakeProfile());
      await exporter.flush(Date.now() + 10_000);
      assert.equal(server.requests.length, 1);
      assert.deepEqual({ ...exporter.counters }, { sent: 0, failed: 1, dropped: 0, retried: 0, split: 0 });
      await exporter.shutdown(Date.now());
    });
    const line = lines.find((l) => l.includes('HTTP 400'));
    assert.ok(line, lines.join('\n'));
    assert.match(line, /^\[span-profiles\] warn: pyroscope http:\/\/127\.0\.0\.1:\d+: profile rejected, not retried: HTTP 400: invalid tag key "k8s-pod": character is not allowed: '-' detail/);
    assert.ok(line.length < 400, 'the reason is trimmed');
  } finally {
    await server.close();
  }
});

test('a full queue drops the oldest waiting profile and counts it', async () => {
  const held = [];
  const server = await startServer((req, res) => held.push(res));
  try {
    const lines = await withLogLines(async () => {
      const exporter = new PyroscopeExporter(base(server, { queueSize: 2 }));
      const profiles = [1, 2, 3, 4, 5].map(() => fakeProfile());
      for (const p of profiles) exporter.enqueue(p);
      assert.equal(exporter.counters.dropped, 2);

      await server.waitFor(() => held.length === 1);
      held.shift().end(); // let the first through; the survivors follow one at a time
      await server.waitFor(() => held.length === 1);
      held.shift().end();
      await server.waitFor(() => held.length === 1);
      held.shift().end();
      await exporter.flush(Date.now() + 10_000);

      const sentFrom = server.requests.map((r) => Number(r.query.from));
      const expected = [profiles[0], profiles[3], profiles[4]].map((p) => Math.floor(p.startMs / 1000));
      assert.deepEqual(sentFrom, expected, 'profile 1 was in flight; 2 and 3 were the oldest waiting');
      assert.deepEqual({ ...exporter.counters }, { sent: 3, failed: 0, dropped: 2, retried: 0, split: 0 });
      await exporter.shutdown(Date.now());
    });
    assert.ok(lines.some((l) => /upload queue full \(2 profiles\), dropped the oldest; 1 dropped in total/.test(l)), lines.join('\n'));
  } finally {
    await server.close();
  }
});

test('flush resolves at its deadline against a server that never answers, aborting the request', async () => {
  const server = await startServer(() => {}); // never answers
  try {
    const exporter = new PyroscopeExporter(base(server, { timeoutMs: 600_000 }));
    exporter.enqueue(fakeProfile());
    await server.waitFor(() => server.requests.length === 1);
    await exporter.flush(Date.now() + 200);
    await server.waitFor(() => server.requests[0].closed, 'closed');
    assert.equal(exporter.counters.sent, 0);
    await exporter.shutdown(Date.now());
    assert.equal(exporter.counters.sent, 0);
    assert.equal(exporter.counters.failed + exporter.counters.dropped, 1, 'the unsent profile is accounted for');
  } finally {
    await server.close();
  }
});

test('the per-request timeout aborts a hanging request and it is retried', async () => {
  let calls = 0;
  const server = await startServer((req, res) => {
    if (++calls > 1) res.end(); // the first request hangs
  });
  try {
    const exporter = new PyroscopeExporter(base(server, { timeoutMs: 100 }));
    exporter.enqueue(fakeProfile());
    await exporter.flush(Date.now() + 10_000);
    assert.equal(server.requests.length, 2);
    assert.deepEqual({ ...exporter.counters }, { sent: 1, failed: 0, dropped: 0, retried: 1, split: 0 });
    await exporter.shutdown(Date.now());
  } finally {
    await server.close();
  }
});

test('messages never contain the password, token or header values', async () => {
  const secrets = ['url-pass-9f3k', 'basic-pass-7d2m', 'token-5x8q', 'header-val-3z1w'];
  const echo = (req, res) => res.writeHead(400).end(`you sent ${JSON.stringify(req.headers)}`);
  const server = await startServer(echo);
  const deadPort = await (async () => {
    const s = await startServer();
    await s.close();
    return s.port;
  })();
  try {
    const errors = [];
    const lines = await withLogLines(async () => {
      const exporters = [
        new PyroscopeExporter(base(server, { serverAddress: `http://user:${secrets[0]}@127.0.0.1:${server.port}` })),
        new PyroscopeExporter(base(server, { basicAuth: { user: 'u', password: secrets[1] }, headers: { 'x-api-key': secrets[3] } })),
        new PyroscopeExporter(base(server, { authToken: secrets[2] })),
        new PyroscopeExporter(
          base(server, { serverAddress: `http://user:${secrets[0]}@127.0.0.1:${deadPort}`, authToken: secrets[2], retry: { ...FAST_RETRY, maxAttempts: 1 } }),
        ),
      ];
      for (const exporter of exporters) {
        exporter.enqueue(fakeProfile());
        await exporter.flush(Date.now() + 10_000);
        assert.equal(exporter.counters.failed, 1);
        errors.push(exporter.description);
        await exporter.shutdown(Date.now());
      }
      for (const address of [`http://user:${secrets[0]}@exa mple.com`, `ftp://user:${secrets[0]}@example.com`]) {
        assert.throws(() => new PyroscopeExporter(base(server, { serverAddress: address })), (err) => {
          errors.push(err.message);
          return /not an http:\/\/ or https:\/\/ URL/.test(err.message);
        });
      }
    });
    assert.ok(lines.some((l) => l.includes('you sent')), 'the server echoed the headers back');
    assert.ok(lines.some((l) => /ECONNREFUSED/.test(l)), lines.join('\n'));
    const base64 = Buffer.from(`u:${secrets[1]}`).toString('base64');
    for (const text of [...lines, ...errors]) {
      for (const secret of [...secrets, base64]) assert.ok(!text.includes(secret), `"${secret}" leaked: ${text}`);
    }
  } finally {
    await server.close();
  }
});

for (const mode of ['hang', '503 + long backoff']) {
  test(`nothing keeps the process alive (server: ${mode})`, async () => {
    const server = await startServer((req, res) => {
      if (mode !== 'hang') res.writeHead(503).end('busy');
    });
    try {
      // The child holds itself alive on stdin until the upload has reached the server, then lets go:
      // from there on only the exporter's own handles could keep it running.
      const script = `
        const { PyroscopeExporter } = require(${JSON.stringify(require.resolve('../../dist/export/pyroscope.js'))});
        const exporter = new PyroscopeExporter({
          serverAddress: ${JSON.stringify(server.url)}, appName: 'child', tags: {}, timeoutMs: 600000, queueSize: 5,
          retry: { maxAttempts: 10, initialBackoffMs: 600000, maxBackoffMs: 600000 },
        });
        exporter.enqueue({ kind: 'cpu', data: Buffer.from('x'), startMs: 0, endMs: 1000, sampleCount: 1, intervalMicros: 10000 });
        process.stdin.resume();
        process.stdin.on('end', () => process.stdin.destroy());
      `;
      const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'inherit', 'inherit'] });
      const exited = once(child, 'exit');
      const watchdog = setTimeout(() => child.kill('SIGKILL'), 30_000);
      try {
        await server.waitFor(() => server.requests.length >= 1);
        child.stdin.end();
        const [code, signal] = await exited;
        assert.equal(signal, null, 'the child had to be killed: something kept it alive');
        assert.equal(code, 0);
      } finally {
        clearTimeout(watchdog);
        child.kill('SIGKILL');
      }
    } finally {
      await server.close();
    }
  });
}

/** A tiny raw time profile, as @datadog/pprof shapes it, to send a real built profile. */
function syntheticRaw() {
  const st = new StringTable();
  const fn = new PprofFunction({ id: 1, name: st.dedup('work'), systemName: st.dedup('work'), filename: st.dedup('/app.js') });
  const loc = new Location({ id: 1, line: [new Line({ functionId: 1, line: 3 })] });
  return new Profile({
    sampleType: [
      new ValueType({ type: st.dedup('sample'), unit: st.dedup('count') }),
      new ValueType({ type: st.dedup('wall'), unit: st.dedup('nanoseconds') }),
      new ValueType({ type: st.dedup('cpu'), unit: st.dedup('nanoseconds') }),
    ],
    sample: [new Sample({ locationId: [1], value: [1, 10_000_000, 9_000_000] })],
    location: [loc],
    function: [fn],
    stringTable: st,
  });
}
