// The `span-profiles view` server: its JSON API over a store with malformed files, path traversal
// attempts, refresh of new data, and the command's arguments and lifecycle.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { writeViewStore } from '../helpers/view-store.mjs';

const require = createRequire(import.meta.url);
const { startViewServer } = require('../../dist/cli/view/server.js');
const { Profile } = require('pprof-format');

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const scratch = mkdtempSync(path.join(os.tmpdir(), 'view-api-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** GET over a raw socket path (fetch would normalize `..` away), resolving {status, headers, body}. */
function rawGet(port, rawPath, headers = {}, method = 'GET') {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: rawPath, method, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('view API over a store with malformed files', () => {
  let server;
  let store;
  const api = async (pathAndQuery) => {
    const response = await fetch(`${server.url}api/${pathAndQuery}`);
    return { status: response.status, body: await response.json() };
  };

  before(async () => {
    store = writeViewStore(path.join(scratch, 'store'), { malformed: true });
    server = await startViewServer({ dir: store.dir, host: '127.0.0.1', port: 0 });
  });
  after(() => server?.close());

  test('lists every unreadable file as a problem, relative to the store, and nothing else', async () => {
    const { status, body } = await api('store');
    assert.equal(status, 200);
    const problemFiles = body.problems.map((p) => p.path.replace(/:\d+$/, ''));
    assert.deepEqual([...new Set(problemFiles)].sort(), [...store.problemFiles].sort());
    for (const problem of body.problems) {
      assert.ok(!problem.path.startsWith('/'), `relative path: ${problem.path}`);
      assert.ok(problem.reason.length > 0);
    }
    assert.ok(!JSON.stringify(body.problems).includes('.tmp'), 'temp files are not read');
    assert.ok(!JSON.stringify(body.problems).includes('notes.txt'), 'foreign files are not read');
    assert.deepEqual(body.services, ['inventory', 'shop-api']);
    assert.equal(body.profilesRead, 2);
  });

  test('every answer carries the problems, so the page can show them', async () => {
    for (const route of ['roots', `span/${store.heavySpanId}`, 'flame', `diff?a=${store.ids.login}&b=${store.ids.login2}`]) {
      const { body } = await api(route);
      assert.equal(body.problems.length, 3, route);
    }
  });

  test('root spans sorted by CPU: the heaviest first, spans without samples included', async () => {
    const { body } = await api('roots');
    assert.equal(body.roots[0].spanId, store.heavySpanId);
    assert.equal(body.roots[0].name, store.heavySpanName);
    assert.equal(body.roots[0].cpuNanos, store.heavyCpuNanos);
    const names = body.roots.map((r) => r.name);
    assert.ok(names.includes('GET /health'), 'a root span with no samples is listed');
    assert.ok(names.includes('GET /cart'), 'the good line of a partly malformed spans file is read');
    assert.ok(names.includes('GET /stock'), 'roots of every service');
    assert.ok(!names.includes('pg.query SELECT users'), 'child spans are not roots');
    const cpus = body.roots.map((r) => r.cpuNanos);
    assert.deepEqual(cpus, [...cpus].sort((a, b) => b - a));
    assert.equal(body.cpu.unattributedNanos, 7 * store.periodNanos);
    // A figure resting on one or two samples is flagged as an estimate, and only those.
    for (const row of body.roots) assert.equal(row.estimate, row.samples > 0 && row.samples <= 2, `${row.name}: ${row.samples} samples`);
    assert.equal(body.cpu.afterSpanEndedNanos, 0);
  });

  test('root spans sorted by duration and by start, filtered by service, name and range', async () => {
    const byDuration = (await api('roots?sort=duration')).body.roots.map((r) => r.durationMs);
    assert.deepEqual(byDuration, [...byDuration].sort((a, b) => b - a));
    const byStart = (await api('roots?sort=start')).body.roots.map((r) => r.startMs);
    assert.deepEqual(byStart, [...byStart].sort((a, b) => b - a));

    const inventory = (await api('roots?service=inventory')).body.roots;
    assert.deepEqual(inventory.map((r) => r.name), ['GET /stock']);
    const logins = (await api('roots?name=login')).body.roots;
    assert.deepEqual(logins.map((r) => r.spanId), [store.ids.login, store.ids.login2]);
    const future = (await api(`roots?from=${Date.now() + 3_600_000}`)).body;
    assert.equal(future.total, 0);
    const bad = await api('roots?sort=name');
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /sort must be one of/);
    assert.equal((await api('roots?from=yesterday')).status, 400);
  });

  test('a span: its trace as a waterfall, and the flame graph of its own samples', async () => {
    const { status, body } = await api(`span/${store.heavySpanId}`);
    assert.equal(status, 200);
    assert.equal(body.cpuNanos, store.heavyCpuNanos);
    assert.deepEqual(
      body.trace.rows.map((r) => [r.name, r.depth]),
      [
        ['POST /login', 0],
        ['pg.query SELECT users', 1],
      ],
    );
    // Times are float milliseconds from nanosecond stamps: compare to the microsecond.
    assert.ok(Math.abs(body.trace.rows[1].offsetMs - 10) < 0.001, String(body.trace.rows[1].offsetMs));
    // The flame graph: root -> ... -> handleLogin -> hashPassword -> pbkdf2Sync.
    const path = [];
    let node = body.flame;
    while (node) {
      path.push(node.name);
      node = node.children[0];
    }
    assert.deepEqual(path.slice(1), ['processTicksAndRejections', 'emit', 'Layer.handle', 'handleLogin', 'hashPassword', 'pbkdf2Sync']);
    assert.equal(body.flame.value, store.heavyCpuNanos);
    const hash = body.flame.children[0].children[0].children[0].children[0].children[0];
    assert.deepEqual([hash.name, hash.file, hash.line, hash.self, hash.value], ['hashPassword', '/srv/shop/src/crypto/passwords.js', 31, 12 * store.periodNanos, 82 * store.periodNanos]);
    assert.equal(body.hottest[0].name, 'pbkdf2Sync');
    assert.ok(!JSON.stringify(body.flame).includes('sortOrders'), "another span's samples are not mixed in");
  });

  test("a child span shows its local root's flame graph; a trace spans services", async () => {
    const child = (await api(`span/${store.ids.loginDb}`)).body;
    assert.equal(child.root.spanId, store.heavySpanId);
    assert.equal(child.cpuNanos, store.heavyCpuNanos);

    const products = (await api(`span/${store.ids.products}`)).body;
    assert.deepEqual(
      products.trace.rows.map((r) => [r.name, r.service, r.depth]),
      [
        ['GET /products', 'shop-api', 0],
        ['GET', 'shop-api', 1],
        ['GET /stock', 'inventory', 2],
      ],
    );
    assert.equal(products.cpuByProfileId[store.ids.inventoryRoot], 8 * store.periodNanos);
    const stock = (await api(`span/${store.ids.inventoryRoot}`)).body;
    assert.equal(stock.flame.children[0].children[0].children[0].name, 'checkStock');
  });

  test('a span id that is well formed but unknown is a 404', async () => {
    const { status, body } = await api('span/00000000deadbeef');
    assert.equal(status, 404);
    assert.match(body.error, /no span 00000000deadbeef/);
  });

  test("a span's samples download as a gzipped pprof", async () => {
    const response = await fetch(`${server.url}api/span/${store.heavySpanId}/pprof`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-disposition'), /attachment; filename="span-[0-9a-f]{16}\.cpu\.pb\.gz"/);
    const profile = Profile.decode(zlib.gunzipSync(Buffer.from(await response.arrayBuffer())));
    const strings = profile.stringTable.strings;
    const cpuIndex = profile.sampleType.findIndex((t) => strings[Number(t.type)] === 'cpu');
    const total = profile.sample.reduce((sum, s) => sum + Number(s.value[cpuIndex]), 0);
    assert.equal(total, store.heavyCpuNanos);
  });

  test('service flame graph: all samples of the service, or of one span name', async () => {
    const all = (await api('flame')).body;
    assert.ok(all.flame.children.some((c) => c.name === '(garbage collector)'), 'samples outside spans included');
    const inventory = (await api('flame?service=inventory')).body;
    assert.equal(inventory.cpuNanos, 8 * store.periodNanos);
    assert.equal(inventory.hottest[0].name, 'matchSku');
    const logins = (await api(`flame?name=${encodeURIComponent('POST /login')}`)).body;
    assert.equal(logins.rootSpans, 2);
    assert.equal(logins.cpuNanos, (85 + 34) * store.periodNanos);
  });

  test('diff of two spans, and of two span names per request', async () => {
    const spans = (await api(`diff?a=${store.ids.login}&b=${store.ids.login2}`)).body;
    assert.equal(spans.mode, 'spans');
    assert.equal(spans.a.cpuNanos, 85 * store.periodNanos);
    assert.equal(spans.b.cpuNanos, 34 * store.periodNanos);
    const sortChange = spans.changes.find((c) => c.name === 'sortOrders');
    assert.deepEqual([sortChange.selfA, sortChange.selfB], [0, 4 * store.periodNanos]);

    const names = (await api(`diff?nameA=${encodeURIComponent('GET /products')}&nameB=${encodeURIComponent('POST /login')}`)).body;
    assert.equal(names.perSpan, true);
    assert.equal(names.b.spans, 2);
    assert.equal(names.b.cpuNanos, ((85 + 34) * store.periodNanos) / 2);
    assert.equal((await api('diff?a=zz&b=0000000000001001')).status, 400);
    assert.equal((await api('diff')).status, 400);
  });

  test('the page is served for its routes, from the package, with a strict content policy', async () => {
    for (const route of ['/', `/span/${store.heavySpanId}`, '/service', '/diff']) {
      const response = await fetch(new URL(route, server.url));
      assert.equal(response.status, 200, route);
      assert.match(await response.text(), /<div id="notes"/);
      assert.match(response.headers.get('content-security-policy'), /default-src 'none'; script-src 'self'/);
    }
    const vendor = await fetch(new URL('/static/vendor/flamegraph.js', server.url));
    assert.equal(vendor.status, 200);
    assert.match(await vendor.text(), /d3-flame-graph@/);
    const html = await (await fetch(server.url)).text();
    assert.doesNotMatch(html, /https?:\/\/(?!www\.w3\.org)/, 'no resource from the network');
  });
});

describe('view API refuses paths that would leave the store', () => {
  let server;
  let store;
  before(async () => {
    store = writeViewStore(path.join(scratch, 'traversal'));
    // A file beside the store that must never be served.
    writeFileSync(path.join(scratch, 'secret.txt'), 'TOP-SECRET-CONTENT');
    server = await startViewServer({ dir: store.dir, host: '127.0.0.1', port: 0 });
  });
  after(() => server?.close());

  const attempts = [
    '/static/../../../../etc/passwd',
    '/static/..%2f..%2f..%2f..%2fetc%2fpasswd',
    '/static/%2e%2e/%2e%2e/%2e%2e/package.json',
    '/static/../../secret.txt',
    '/static/..\\..\\secret.txt',
    '/static//etc/passwd',
    '/../../../../etc/passwd',
    '/span/../../../etc/passwd',
    '/api/span/..%2F..%2F..%2Fetc%2Fpasswd',
    '/api/span/../../secret.txt',
    '/api/span/%2e%2e%2f%2e%2e%2fsecret.txt',
    '/api/span/0000000000001001%00',
    '/api/span/0000000000001001/../../../secret.txt',
    '/api/span/0000000000001001/pprof/../../../secret.txt',
    '/api/../../secret.txt',
    '/api/diff?a=../../secret.txt&b=0000000000001001',
    '/api/store/../../../../etc/passwd',
    '/index.html/../../secret.txt',
  ];

  for (const attempt of attempts) {
    test(`GET ${attempt} is refused`, async () => {
      const { status, body } = await rawGet(server.port, attempt);
      assert.ok(status >= 400 && status < 500, `status ${status}`);
      const text = body.toString();
      assert.doesNotMatch(text, /root:|TOP-SECRET|"name": "@acme/);
    });
  }

  test('service and name filters are compared, never used as paths', async () => {
    for (const service of ['../..', '../traversal', '/etc', '..%2f..', '.']) {
      const { status, body } = await rawGet(server.port, `/api/flame?service=${encodeURIComponent(service)}`);
      assert.equal(status, 200);
      assert.equal(JSON.parse(body).cpuNanos, 0, service);
    }
  });

  test('only GET and HEAD; only loopback Host names (no DNS rebinding)', async () => {
    assert.equal((await rawGet(server.port, '/api/store', {}, 'POST')).status, 405);
    assert.equal((await rawGet(server.port, '/api/store', {}, 'DELETE')).status, 405);
    assert.equal((await rawGet(server.port, '/api/store', { host: `attacker.example:${server.port}` })).status, 421);
    assert.equal((await rawGet(server.port, '/', { host: 'attacker.example' })).status, 421);
    assert.equal((await rawGet(server.port, '/api/store', { host: `localhost:${server.port}` })).status, 200);
    assert.equal((await rawGet(server.port, '/api/store', { host: `127.0.0.1:${server.port}` })).status, 200);
  });
});

describe('view reads the store again on each request', () => {
  test('new and rewritten files show up; a missing store is a note, not an error', async () => {
    const dir = path.join(scratch, 'refresh');
    const server = await startViewServer({ dir, host: '127.0.0.1', port: 0 });
    try {
      const first = await (await fetch(`${server.url}api/roots`)).json();
      assert.equal(first.total, 0);
      assert.equal(first.problems.length, 1);
      assert.match(first.problems[0].reason, /store directory does not exist/);

      const store = writeViewStore(dir);
      const second = await (await fetch(`${server.url}api/roots`)).json();
      assert.equal(second.problems.length, 0);
      assert.equal(second.roots[0].spanId, store.heavySpanId);
      assert.equal(second.roots[0].cpuNanos, store.heavyCpuNanos);

      const copyStore = (from) => {
        for (const service of ['shop-api', 'inventory']) {
          for (const file of readdirSync(path.join(from, service))) copyFileSync(path.join(from, service, file), path.join(dir, service, file));
        }
      };
      // The same file names with new content (other ids): what was cached must not be served.
      const rewritten = writeViewStore(path.join(scratch, 'refresh-rewritten'), { baseMs: store.baseMs, variant: 2 });
      copyStore(rewritten.dir);
      const third = await (await fetch(`${server.url}api/roots?name=login`)).json();
      assert.deepEqual(third.roots.map((r) => r.spanId), [rewritten.ids.login, rewritten.ids.login2]);

      // The agent writes a new interval: more files, a minute later.
      const later = writeViewStore(path.join(scratch, 'refresh-later'), { baseMs: Date.now() - 30_000, variant: 1 });
      copyStore(later.dir);
      const fourth = await (await fetch(`${server.url}api/roots?name=login`)).json();
      assert.equal(fourth.total, 4, 'both intervals are read');
      assert.deepEqual(new Set(fourth.roots.slice(0, 2).map((r) => r.spanId)), new Set([rewritten.ids.login, later.ids.login]));
    } finally {
      await server.close();
    }
  });
});

describe('span-profiles view (the command)', () => {
  const node = process.execPath;
  const bin = path.join(repoRoot, 'bin', 'span-profiles');
  const run = (args, { until } = {}) =>
    new Promise((resolve, reject) => {
      const child = spawn(node, [bin, 'view', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => {
        stdout += d;
        if (until) until(stdout, child);
      });
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', reject);
      child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
    });

  test('--help prints the usage and exits 0', async () => {
    const { code, stdout } = await run(['--help']);
    assert.equal(code, 0);
    assert.match(stdout, /Usage: span-profiles view \[dir\]/);
    assert.match(stdout, /--port N/);
  });

  test('a bad port or an unknown flag exits 2 naming it', async () => {
    const port = await run(['--port', 'abc']);
    assert.equal(port.code, 2);
    assert.match(port.stderr, /--port 'abc' is not a port number/);
    const flag = await run(['--open']);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /--open/);
  });

  test('serves on a free port, prints the URL, stops on SIGINT with exit 0', async () => {
    const store = writeViewStore(path.join(scratch, 'cli'));
    let answered;
    const { code, stdout } = await run([store.dir, '--port', '0'], {
      until: (out, child) => {
        const url = /^(http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(out)?.[1];
        if (!url || answered) return;
        answered = fetch(`${url}api/roots`)
          .then((r) => r.json())
          .finally(() => child.kill('SIGINT'));
      },
    });
    assert.equal(code, 0);
    assert.match(stdout, /serving the store .*cli/);
    assert.equal((await answered).roots[0].spanId, store.heavySpanId);
  });

  test('a port in use exits 1 with advice', async () => {
    const blocker = http.createServer();
    await new Promise((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const { code, stderr } = await run([scratch, '--port', String(blocker.address().port)]);
      assert.equal(code, 1);
      assert.match(stderr, /is in use; choose another with --port N/);
    } finally {
      blocker.close();
    }
  });
});
