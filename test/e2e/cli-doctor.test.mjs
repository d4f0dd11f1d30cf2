// `span-profiles doctor` against local endpoints that answer, that refuse, and that hang; the store
// check; secrets kept out of the output; exit codes.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { runCli as run } from '../helpers/cli-run.mjs';

const scratch = mkdtempSync(path.join(tmpdir(), 'span-profiles-cli-doctor-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const runCli = (args, env) => run(args, { env, cwd: scratch });
/** The checks with wrapped lines joined back: one line per check, one per '->' advice. */
const unwrap = (text) => text.replace(/\n {7,}(?!-> )/g, ' ');

/** An HTTP server on 127.0.0.1 that records requests; answers 200 on /ready, 405 elsewhere. */
async function startServer() {
  const requests = [];
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method, url: req.url, headers: req.headers });
    res.statusCode = req.url === '/ready' ? 200 : 405;
    res.end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${server.address().port}`, requests, close: () => new Promise((r) => server.close(r)) };
}

/** A port nothing listens on: bound, then released. */
async function closedPort() {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

test('doctor: reachable Pyroscope and OTLP endpoints, writable store -> all good, exit 0', async () => {
  const pyroscope = await startServer();
  const collector = await startServer();
  try {
    const { code, stdout: text, stderr } = await runCli(['doctor'], {
      PYROSCOPE_SERVER_ADDRESS: pyroscope.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      SPAN_PROFILES_STORE: 'always',
      SPAN_PROFILES_DIR: path.join(scratch, 'store'),
      OTEL_SERVICE_NAME: 'shop',
    });
    const stdout = unwrap(text);
    assert.equal(code, 0, stdout + stderr);
    assert.match(stdout, /^\[ok\] +node: Node\.js \d+\.\d+\.\d+ is supported$/m);
    assert.match(stdout, /^\[ok\] +context binding: (async-context-frame|async-hooks): /m);
    assert.match(stdout, /^\[ok\] +profiler: @datadog\/pprof loads/m);
    assert.match(stdout, new RegExp(`^\\[ok\\] +pyroscope: ${pyroscope.url} answers \\(HTTP 200 on /ready\\)$`, 'm'));
    assert.match(stdout, new RegExp(`^\\[ok\\] +otlp: ${collector.url}/v1/traces \\(http/protobuf\\) answers \\(HTTP 405\\)$`, 'm'));
    assert.match(stdout, /^\[ok\] +store: profiles and spans go to the local store; .*store does not exist yet; the agent will create it$/m);
    assert.match(stdout, /^Service +shop \(from OTEL_SERVICE_NAME\)$/m);
    assert.match(stdout, /^All good\.$/m);
    assert.deepEqual(pyroscope.requests.map((r) => `${r.method} ${r.url}`), ['GET /ready']);
    assert.deepEqual(collector.requests.map((r) => `${r.method} ${r.url}`), ['GET /v1/traces']);
    for (const line of text.split('\n')) assert.ok(line.length <= 80, `too wide: ${line}`);
  } finally {
    await pyroscope.close();
    await collector.close();
  }
});

test('doctor: unreachable endpoints and an unwritable store -> FAIL lines with what to change, exit 1', async () => {
  const port = await closedPort();
  const file = path.join(scratch, 'a-file');
  writeFileSync(file, 'x');
  const { code, stdout: text } = await runCli(['doctor'], {
    PYROSCOPE_SERVER_ADDRESS: `http://127.0.0.1:${port}`,
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
    SPAN_PROFILES_STORE: 'always',
    SPAN_PROFILES_DIR: path.join(file, 'store'),
  });
  const stdout = unwrap(text);
  assert.equal(code, 1);
  assert.match(stdout, new RegExp(`^\\[FAIL\\] pyroscope: http://127\\.0\\.0\\.1:${port} does not answer: ECONNREFUSED$`, 'm'));
  assert.match(stdout, /^ +-> start Pyroscope or correct PYROSCOPE_SERVER_ADDRESS \(unset it to keep profiles in the local store\)$/m);
  assert.match(stdout, /^\[FAIL\] otlp: .* does not answer: ECONNREFUSED$/m);
  assert.match(stdout, /^ +-> start the collector or correct OTEL_EXPORTER_OTLP_ENDPOINT/m);
  assert.match(stdout, /^\[FAIL\] store: profiles and spans go to the local store, but .*a-file\/store cannot be created: a part of its path is a file \(ENOTDIR\)$/m);
  assert.match(stdout, /^ +-> set SPAN_PROFILES_DIR to a writable directory$/m);
  assert.match(stdout, /^3 things to look at/m);
});

test('doctor: an endpoint that accepts but never answers times out (--timeout); gRPC is probed by TCP', async () => {
  const sockets = [];
  const silent = net.createServer((socket) => sockets.push(socket)).listen(0, '127.0.0.1');
  await once(silent, 'listening');
  const grpc = net.createServer((socket) => socket.destroy()).listen(0, '127.0.0.1');
  await once(grpc, 'listening');
  try {
    const { code, stdout } = await runCli(['doctor', '--timeout', '300', '--json'], {
      PYROSCOPE_SERVER_ADDRESS: `http://127.0.0.1:${silent.address().port}`,
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${grpc.address().port}`,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
    });
    assert.equal(code, 1);
    const report = JSON.parse(stdout);
    const check = (name) => report.checks.find((c) => c.name === name);
    assert.equal(check('pyroscope').status, 'fail');
    assert.match(check('pyroscope').detail, /no answer within 300 ms/);
    assert.equal(check('otlp').status, 'ok');
    assert.match(check('otlp').detail, /\(grpc\) answers \(connected\)/);
    assert.ok(report.configuration.some((e) => e.name === 'PYROSCOPE_SERVER_ADDRESS' && e.isSet));
  } finally {
    for (const s of sockets) s.destroy();
    silent.close();
    grpc.close();
  }
});

test('doctor: secrets never appear, the probe sends no credentials, bad values are reported', async () => {
  const pyroscope = await startServer();
  try {
    const withCredentials = pyroscope.url.replace('http://', 'http://alice:s3cret-pass@');
    const { code, stdout, stderr } = await runCli(['doctor', '--all'], {
      PYROSCOPE_SERVER_ADDRESS: withCredentials,
      PYROSCOPE_AUTH_TOKEN: 'tok-very-secret-123',
      PYROSCOPE_BASIC_AUTH_PASSWORD: 'another-secret-456',
      OTEL_TRACES_EXPORTER: 'none',
      PYROSCOPE_UPLOAD_INTERVAL: 'often',
    });
    const output = stdout + stderr;
    for (const secret of ['s3cret-pass', 'tok-very-secret-123', 'another-secret-456']) assert.ok(!output.includes(secret), `${secret} leaked:\n${output}`);
    assert.match(stdout, /PYROSCOPE_AUTH_TOKEN +<redacted>/);
    assert.equal(pyroscope.requests.length, 1);
    assert.equal(pyroscope.requests[0].headers.authorization, undefined);
    assert.match(stdout, /^\[warn\] configuration: PYROSCOPE_UPLOAD_INTERVAL="often"/m);
    assert.equal(code, 1);
  } finally {
    await pyroscope.close();
  }
});

test('doctor: bad arguments exit 2; --help exits 0', async () => {
  const bad = await runCli(['doctor', '--timeout', 'soon']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--timeout 'soon' is not a positive whole number/);
  const extra = await runCli(['doctor', 'somewhere']);
  assert.equal(extra.code, 2);
  const help = await runCli(['doctor', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: span-profiles doctor/);
});

test('doctor: an installed web framework without instrumentation is a warning naming it; covered ones are listed', async () => {
  const app = path.join(scratch, 'framework-app');
  const install = (name, version) => {
    mkdirSync(path.join(app, 'node_modules', name), { recursive: true });
    writeFileSync(path.join(app, 'node_modules', name, 'package.json'), JSON.stringify({ name, version }));
  };
  install('express', '5.1.0');
  install('fastify', '5.2.0');
  install('koa', '1.7.0');
  install('hono', '4.6.3');
  const { code, stdout } = await run(['doctor'], { env: { SPAN_PROFILES_DIR: path.join(scratch, 'store-fw') }, cwd: app });
  const text = unwrap(stdout);
  assert.equal(code, 1, text);
  const line = text.split('\n').find((l) => l.includes('web frameworks'));
  assert.match(line, /^\[warn\] web frameworks: express 5\.1\.0, fastify 5\.2\.0; koa 1\.7\.0 has no instrumentation \(the koa instrumentation covers 2\.0\.0 to below 4\.0\.0\)/);
  assert.match(line, /hono 4\.6\.3 has no instrumentation \(no OpenTelemetry instrumentation exists for it\): its root spans carry only the HTTP method, no route/);

  // Turned off by the user: said so.
  const off = await run(['doctor'], { env: { SPAN_PROFILES_DIR: path.join(scratch, 'store-fw'), OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'fastify' }, cwd: app });
  assert.match(unwrap(off.stdout), /fastify 5\.2\.0 has no instrumentation \(the fastify instrumentation is turned off\)/);
});
