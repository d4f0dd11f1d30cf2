// Tests of the test harness itself: the receivers must decode what real clients send and
// enforce the Pyroscope contract, and spawnApp must start, talk to and always reap fixtures.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import zlib from 'node:zlib';
import { goPprofRaw, goPprofSkipReason, goPprofTop } from '../helpers/go-pprof.mjs';
import { startOtlpReceiver, spansFromOtlpJson } from '../helpers/otlp-receiver.mjs';
import { decodePprof } from '../helpers/pprof-samples.mjs';
import { PYROSCOPE_LIMITS, PYROSCOPE_VERSIONS, startPyroscopeReceiver } from '../helpers/pyroscope-receiver.mjs';
import { waitUntil } from '../helpers/wait-for.mjs';
import { fixturePath, httpRequest, killAllApps, nodeBinary, pinnedNode, spawnApp } from '../helpers/spawn-app.mjs';

const require = createRequire(import.meta.url);
after(killAllApps);

// ---------------------------------------------------------------------------------------------
// OTLP receiver, fed by the real OpenTelemetry exporters

async function exportTwoSpans(receiver, Exporter, compression) {
  const { context, trace } = require('@opentelemetry/api');
  const { TracerProvider, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace');
  const { resourceFromAttributes } = require('@opentelemetry/resources');
  const exporter = new Exporter({ url: `${receiver.url}/v1/traces`, compression });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'helpers-test', 'deployment.count': 3 }),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  const tracer = provider.getTracer('helpers-scope', '1.2.3');
  const parent = tracer.startSpan('GET /users/:id', {
    kind: 1, // @opentelemetry/api SpanKind.SERVER
    attributes: { 'http.response.status_code': 200, route: '/users/:id', ok: true, ratio: 0.5, tags: ['a', 'b'] },
  });
  const child = tracer.startSpan('price-lines', {}, trace.setSpan(context.active(), parent));
  child.end();
  parent.setStatus({ code: 2, message: 'boom' });
  parent.end();
  await provider.forceFlush();
  await provider.shutdown();
  return { parent: parent.spanContext(), child: child.spanContext() };
}

function assertTwoSpans(receiver, ids) {
  const parent = receiver.spans.find((s) => s.spanId === ids.parent.spanId);
  const child = receiver.spans.find((s) => s.spanId === ids.child.spanId);
  assert.ok(parent && child, `both spans received: ${JSON.stringify(receiver.spans.map((s) => s.name))}`);
  assert.equal(parent.traceId, ids.parent.traceId);
  assert.match(parent.traceId, /^[0-9a-f]{32}$/);
  assert.match(parent.spanId, /^[0-9a-f]{16}$/);
  assert.equal(parent.parentSpanId, '');
  assert.equal(child.parentSpanId, parent.spanId);
  assert.equal(child.traceId, parent.traceId);
  assert.equal(parent.name, 'GET /users/:id');
  assert.equal(parent.kind, 'SERVER');
  assert.equal(child.kind, 'INTERNAL');
  assert.deepEqual(parent.attributes, {
    'http.response.status_code': 200,
    route: '/users/:id',
    ok: true,
    ratio: 0.5,
    tags: ['a', 'b'],
  });
  assert.equal(parent.resource['service.name'], 'helpers-test');
  assert.equal(parent.resource['deployment.count'], 3);
  assert.deepEqual(parent.scope, { name: 'helpers-scope', version: '1.2.3' });
  assert.deepEqual(parent.status, { code: 'ERROR', message: 'boom' });
  assert.equal(typeof parent.startTimeUnixNano, 'bigint');
  assert.ok(parent.startTimeUnixNano > 1_600_000_000_000_000_000n);
  assert.ok(parent.endTimeUnixNano >= parent.startTimeUnixNano);
}

describe('OTLP receiver', () => {
  const encodings = [
    ['protobuf', '@opentelemetry/exporter-trace-otlp-proto', 'none', 'application/x-protobuf'],
    ['protobuf + gzip', '@opentelemetry/exporter-trace-otlp-proto', 'gzip', 'application/x-protobuf'],
    ['JSON', '@opentelemetry/exporter-trace-otlp-http', 'none', 'application/json'],
    ['JSON + gzip', '@opentelemetry/exporter-trace-otlp-http', 'gzip', 'application/json'],
  ];
  for (const [label, exporterPackage, compression, contentType] of encodings) {
    test(`decodes spans sent as ${label} by the real exporter`, async () => {
      const receiver = await startOtlpReceiver();
      try {
        const { OTLPTraceExporter } = require(exporterPackage);
        const ids = await exportTwoSpans(receiver, OTLPTraceExporter, compression);
        assertTwoSpans(receiver, ids);
        assert.ok(receiver.requests.length > 0);
        for (const request of receiver.requests) {
          assert.equal(request.path, '/v1/traces');
          assert.equal(request.contentType, contentType);
          assert.equal(request.headers['content-encoding'], compression === 'gzip' ? 'gzip' : undefined);
          assert.equal(request.status, 200);
        }
      } finally {
        await receiver.close();
      }
    });
  }

  test('spansFromOtlpJson accepts enum names and string timestamps', () => {
    const [span] = spansFromOtlpJson({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] },
          scopeSpans: [
            {
              scope: { name: 's' },
              spans: [
                {
                  traceId: 'AB'.repeat(16),
                  spanId: 'CD'.repeat(8),
                  name: 'n',
                  kind: 'SPAN_KIND_CLIENT',
                  startTimeUnixNano: '1800000000000000001',
                  endTimeUnixNano: '1800000000000000002',
                  attributes: [{ key: 'big', value: { intValue: '9007199254740993' } }],
                  status: { code: 'STATUS_CODE_OK' },
                  flags: 0x301,
                },
              ],
            },
          ],
        },
      ],
    });
    assert.equal(span.traceId, 'ab'.repeat(16));
    assert.equal(span.kind, 'CLIENT');
    assert.equal(span.status.code, 'OK');
    assert.equal(span.startTimeUnixNano, 1800000000000000001n);
    assert.equal(span.attributes.big, 9007199254740993n);
    assert.equal(span.parentIsRemote, true);
    assert.equal(span.resource['service.name'], 'svc');
  });

  test('waitForSpans resolves with the predicate value, and times out with a description', async () => {
    const receiver = await startOtlpReceiver();
    try {
      const waiting = receiver.waitForSpans((spans) => spans.find((s) => s.name === 'GET /users/:id'), 10000);
      const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
      const ids = await exportTwoSpans(receiver, OTLPTraceExporter, 'gzip');
      const found = await waiting;
      assert.equal(found.spanId, ids.parent.spanId);
      const all = await receiver.waitForSpans((spans) => spans.length >= 2, 1000);
      assert.equal(all, receiver.spans);
      await assert.rejects(receiver.waitForSpans((spans) => spans.length > 99, 50), /timed out.*received 2 spans/);
    } finally {
      await receiver.close();
    }
  });

  test('rejects an undecodable body with 400 and records the error', async () => {
    const receiver = await startOtlpReceiver();
    try {
      const response = await httpRequest(`${receiver.url}/v1/traces`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: Buffer.from('{not json'),
      });
      assert.equal(response.status, 400);
      assert.equal(receiver.requests[0].status, 400);
      assert.ok(receiver.requests[0].error);
      assert.equal(receiver.spans.length, 0);
    } finally {
      await receiver.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Fault modes, shared by both receivers

const receivers = [
  ['OTLP', startOtlpReceiver, '/v1/traces', 'application/json', () => Buffer.from('{"resourceSpans":[]}')],
  ['Pyroscope', startPyroscopeReceiver, '/ingest?name=app&format=pprof', 'application/octet-stream', () => gzippedProfile()],
];

function connectionRefused(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err) => resolve(err.code === 'ECONNREFUSED'));
  });
}

for (const [name, start, requestPath, contentType, body] of receivers) {
  describe(`${name} receiver respondWith`, () => {
    test('a status code, then ok again', async () => {
      const receiver = await start();
      try {
        const post = () =>
          httpRequest(`${receiver.url}${requestPath}`, { method: 'POST', headers: { 'content-type': contentType }, body: body() });
        await receiver.respondWith(503);
        assert.equal((await post()).status, 503);
        await receiver.respondWith('ok');
        assert.equal((await post()).status, 200);
        assert.deepEqual(
          receiver.requests.map((r) => r.status),
          [503, 200],
        );
        if (receiver.uploads) assert.equal(receiver.uploads.length, 1, 'the 503 upload is not recorded as accepted');
      } finally {
        await receiver.close();
      }
    });

    test('hang never answers, and close() releases the request', async () => {
      const receiver = await start();
      await receiver.respondWith('hang');
      const pending = httpRequest(`${receiver.url}${requestPath}`, {
        method: 'POST',
        headers: { 'content-type': contentType },
        body: body(),
        timeoutMs: 60000,
      });
      // The request is recorded (without a status) but not answered.
      await waitUntil(() => receiver.requests.length > 0, { what: 'the request to be recorded' });
      assert.equal(receiver.requests[0].status, undefined);
      await receiver.close();
      await assert.rejects(pending, /socket hang up|ECONNRESET/);
    });

    test('refuse closes the port, resume listens on the same port again', async () => {
      const receiver = await start();
      try {
        const port = Number(new URL(receiver.url).port);
        await receiver.respondWith('refuse');
        assert.equal(await connectionRefused(port), true);
        await receiver.respondWith('resume');
        const response = await httpRequest(`${receiver.url}${requestPath}`, {
          method: 'POST',
          headers: { 'content-type': contentType },
          body: body(),
        });
        assert.equal(response.status, 200);
      } finally {
        await receiver.close();
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Pyroscope receiver: parsing and every rejection rule

const { Profile, StringTable, ValueType, Sample, Label, Location, Line, Function: PprofFunction } = require('pprof-format');

/** A CPU profile shaped like the agent's: [samples/count, cpu/nanoseconds], string labels. */
function buildProfile({ samples = 1, labelsPerSample = 3, functionName = 'burnHttpCpu', spanName = 'GET /users/:id', traceIds = false } = {}) {
  const strings = new StringTable();
  const s = (text) => strings.dedup(text);
  const names = [functionName, 'handleRequest', 'Garbage Collection'];
  const functions = names.map((name, i) => new PprofFunction({ id: i + 1, name: s(name), systemName: s(name), filename: s('/app/x.js') }));
  const locations = functions.map((fn, i) => new Location({ id: i + 1, line: [new Line({ functionId: fn.id, line: 10 + i })] }));
  const labelSet = (i) => {
    const labels = [
      new Label({ key: s('span_id'), str: s(i.toString(16).padStart(16, '0')) }),
      new Label({ key: s('trace_id'), str: s(traceIds ? i.toString(16).padStart(32, '0') : 'ab'.repeat(16)) }),
      new Label({ key: s('span_name'), str: s(spanName) }),
    ];
    // Extra labels are numeric: string ones would be series labels, over the 30 names per series.
    for (let extra = 3; extra < labelsPerSample; extra++) labels.push(new Label({ key: s(`k${extra}`), num: extra }));
    return labels.slice(0, labelsPerSample);
  };
  const sampleList = [];
  for (let i = 0; i < samples; i++) {
    sampleList.push(new Sample({ locationId: [1, 2], value: [2, 20_000_000], label: labelSet(i) }));
  }
  return new Profile({
    sampleType: [new ValueType({ type: s('samples'), unit: s('count') }), new ValueType({ type: s('cpu'), unit: s('nanoseconds') })],
    periodType: new ValueType({ type: s('cpu'), unit: s('nanoseconds') }),
    period: 10_000_000,
    timeNanos: 1_800_000_000_000_000_000n,
    durationNanos: 15_000_000_000,
    function: functions,
    location: locations,
    sample: sampleList,
    stringTable: strings,
  });
}

const gzippedProfile = (opts) => zlib.gzipSync(buildProfile(opts).encode());

describe('Pyroscope receiver', () => {
  let receiver;
  const ingest = (query, body, headers = {}) =>
    httpRequest(`${receiver.url}/ingest?${new URLSearchParams(query)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', ...headers },
      body,
    });
  const baseQuery = { from: '1800000000', until: '1800000015', format: 'pprof', spyName: 'nodespy', sampleRate: '100' };

  test('records a valid upload with query, name tags, headers and decoded samples', async () => {
    receiver = await startPyroscopeReceiver();
    try {
      const response = await ingest(
        { ...baseQuery, name: 'fixture-express-app{env=test,service.version=1.0,a_b=x/y}' },
        gzippedProfile({ samples: 2 }),
        { authorization: 'Basic dTpw', 'X-Scope-OrgID': 'tenant-1' },
      );
      assert.equal(response.status, 200, response.body);
      const [upload] = await receiver.waitForUploads((uploads) => uploads.length === 1, 5000);
      assert.equal(upload.appName, 'fixture-express-app');
      assert.deepEqual(upload.tags, { env: 'test', 'service.version': '1.0', a_b: 'x/y' });
      assert.equal(upload.query.from, '1800000000');
      assert.equal(upload.query.spyName, 'nodespy');
      assert.equal(upload.headers.authorization, 'Basic dTpw');
      assert.equal(upload.headers['x-scope-orgid'], 'tenant-1');
      assert.ok(Buffer.isBuffer(upload.body));
      assert.deepEqual(upload.sampleTypes, ['samples/count', 'cpu/nanoseconds']);
      assert.equal(upload.periodType, 'cpu/nanoseconds');
      assert.equal(upload.period, 10_000_000);
      assert.equal(upload.samples.length, 2);
      assert.deepEqual(upload.samples[1], {
        values: [2, 20_000_000],
        labels: { span_id: '0000000000000001', trace_id: 'ab'.repeat(16), span_name: 'GET /users/:id' },
        numLabels: {},
        stack: ['burnHttpCpu', 'handleRequest'],
      });
      assert.equal(receiver.rejections.length, 0);
    } finally {
      await receiver.close();
    }
  });

  test('accepts a multipart upload with a "profile" field, as older clients send', async () => {
    receiver = await startPyroscopeReceiver();
    try {
      const form = new FormData();
      form.append('profile', new Blob([gzippedProfile()]), 'profile');
      const response = await fetch(`${receiver.url}/ingest?name=legacy-app&from=1&until=2`, { method: 'POST', body: form });
      assert.equal(response.status, 200, await response.text());
      assert.equal(receiver.uploads[0].appName, 'legacy-app');
      assert.equal(receiver.uploads[0].samples.length, 1);
    } finally {
      await receiver.close();
    }
  });

  test('accepts exactly the limits: 16000 samples, 100 labels on a sample', async () => {
    receiver = await startPyroscopeReceiver();
    try {
      assert.equal((await ingest({ ...baseQuery, name: 'app' }, gzippedProfile({ samples: PYROSCOPE_LIMITS.maxSamples }))).status, 200);
      assert.equal((await ingest({ ...baseQuery, name: 'app' }, gzippedProfile({ labelsPerSample: 100 }))).status, 200);
      assert.equal(receiver.uploads.length, 2);
    } finally {
      await receiver.close();
    }
  });

  const rejections = [
    ['an app name with "@"', { name: '@acme/app' }, () => gzippedProfile(), /invalid app name "@acme\/app"/],
    ['an app name with a space', { name: 'my app' }, () => gzippedProfile(), /invalid app name/],
    ['a tag key with "-"', { name: 'app{my-key=v}' }, () => gzippedProfile(), /invalid tag key "my-key"/],
    ['a missing name', {}, () => gzippedProfile(), /missing "name"/],
    ['more than 16000 samples', { name: 'app' }, () => gzippedProfile({ samples: 16001 }), /16001 samples, over the 16000 limit/, 422],
    ['over 4 MiB uncompressed', { name: 'app' }, () => gzippedProfile({ functionName: 'f'.repeat(4.5 * 1024 * 1024) }), /bytes uncompressed, over the 4194304 limit/],
    ['over the 2 MiB burst (never accepted, however often retried)', { name: 'app' }, () => gzippedProfile({ functionName: 'f'.repeat(2.5 * 1024 * 1024) }), /push rate limit \(4\.0 MiB\) exceeded while adding 2\.5 MiB/, 429],
    ['more than 100 labels on a sample', { name: 'app' }, () => gzippedProfile({ labelsPerSample: 101 }), /101 labels, over the 100 limit/, 422],
    ['a pprof body that is not gzipped', { name: 'app' }, () => Buffer.from(buildProfile().encode()), /not gzip/],
    ['a gzipped body that is not pprof', { name: 'app' }, () => zlib.gzipSync('main;foo 10\n'), /not a gzipped pprof/],
    ['more than 30 label names in a series', { name: `app{${Array.from({ length: 26 }, (_, i) => `t${i}=v`).join(',')}}` }, () => gzippedProfile(), /has 31 label names; limit 30/, 422],
    ['a span_name value over 2048 bytes', { name: 'app' }, () => gzippedProfile({ spanName: 'é'.repeat(1025) }), /label value too long/, 422],
  ];
  for (const [what, query, body, reason, status = 400] of rejections) {
    test(`rejects ${what} with ${status} and a reason`, async () => {
      receiver = await startPyroscopeReceiver();
      try {
        const response = await ingest({ ...baseQuery, ...query }, body());
        assert.equal(response.status, status);
        assert.match(response.body, reason);
        assert.equal(receiver.uploads.length, 0);
        assert.equal(receiver.rejections.length, 1);
        assert.match(receiver.rejections[0].reason, reason);
        assert.equal(receiver.rejections[0].status, status);
      } finally {
        await receiver.close();
      }
    });
  }

  test('buildinfo answers as the version given, or 404 when told not to', async () => {
    for (const version of Object.values(PYROSCOPE_VERSIONS)) {
      receiver = await startPyroscopeReceiver({ version });
      try {
        const response = await httpRequest(`${receiver.url}/api/v1/status/buildinfo`);
        assert.equal(response.status, 200);
        assert.equal(response.json().status, 'success');
        assert.equal(response.json().data.version, version);
        assert.equal(receiver.buildInfoRequests.length, 1);
      } finally {
        await receiver.close();
      }
    }
    receiver = await startPyroscopeReceiver({ buildInfo: false });
    try {
      assert.equal((await httpRequest(`${receiver.url}/api/v1/status/buildinfo`)).status, 404);
    } finally {
      await receiver.close();
    }
  });

  test('trace_id makes one series per trace before 2.1.0, none from 2.1.0 on; span_name always does', async () => {
    const expected = [
      [PYROSCOPE_VERSIONS.v1, 5],
      [PYROSCOPE_VERSIONS.v200, 5],
      ['2.0.6', 5],
      ['2.1.0', 1],
      [PYROSCOPE_VERSIONS.v22, 1],
    ];
    for (const [version, seriesCount] of expected) {
      receiver = await startPyroscopeReceiver({ version });
      try {
        assert.equal((await ingest({ ...baseQuery, name: 'app' }, gzippedProfile({ samples: 5, traceIds: true }))).status, 200);
        assert.equal(receiver.uploads[0].series.length, seriesCount, version);
        assert.equal(receiver.series.size, seriesCount, version);
        assert.ok(receiver.uploads[0].series.every((s) => s.labels.span_id === undefined && s.labels.span_name === 'GET /users/:id'));
        assert.equal((await ingest({ ...baseQuery, name: 'app' }, gzippedProfile({ spanName: 'GET /users/7' }))).status, 200);
        assert.equal(receiver.series.size, seriesCount + 1, `${version}: a new span_name is a new series`);
      } finally {
        await receiver.close();
      }
    }
  });

  test('label names: dots sanitized on 1.x (collisions rejected), kept from 2.0; a leading digit rejected on 1.x', async () => {
    receiver = await startPyroscopeReceiver({ version: PYROSCOPE_VERSIONS.v1 });
    try {
      assert.equal((await ingest({ ...baseQuery, name: 'app{service.version=1}' }, gzippedProfile())).status, 200);
      assert.deepEqual(Object.keys(receiver.uploads[0].series[0].labels).filter((k) => k.startsWith('service')).sort(), ['service_name', 'service_version']);
      const collision = await ingest({ ...baseQuery, name: 'app{a.b=1,a_b=2}' }, gzippedProfile());
      assert.equal(collision.status, 422);
      assert.match(collision.body, /duplicate label name 'a_b' after label name sanitization from 'a.b'/);
      const digit = await ingest({ ...baseQuery, name: 'app{9lives=1}' }, gzippedProfile());
      assert.equal(digit.status, 422);
      assert.match(digit.body, /invalid label name '9lives'/);
    } finally {
      await receiver.close();
    }
    receiver = await startPyroscopeReceiver({ version: PYROSCOPE_VERSIONS.v22 });
    try {
      assert.equal((await ingest({ ...baseQuery, name: 'app{a.b=1,a_b=2,9lives=1}' }, gzippedProfile())).status, 200);
      assert.equal(receiver.uploads[0].series[0].labels['a.b'], '1');
    } finally {
      await receiver.close();
    }
  });

  test('the rate limiter refills at 4 MiB/s: a burst-sized upload passes again after a pause', async () => {
    receiver = await startPyroscopeReceiver();
    try {
      const big = gzippedProfile({ functionName: 'f'.repeat(1.5 * 1024 * 1024) });
      assert.equal((await ingest({ ...baseQuery, name: 'app' }, big)).status, 200);
      assert.equal((await ingest({ ...baseQuery, name: 'app' }, big)).status, 429, 'the bucket is empty');
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal((await ingest({ ...baseQuery, name: 'app' }, big)).status, 200);
      assert.ok(receiver.uploads[0].ingestBytes > 1.5 * 1024 * 1024);
    } finally {
      await receiver.close();
    }
  });

  test('waitForUploads times out naming the rejections', async () => {
    receiver = await startPyroscopeReceiver();
    try {
      await ingest({ ...baseQuery, name: '@bad' }, gzippedProfile());
      await assert.rejects(receiver.waitForUploads(undefined, 50), /rejected 1 \(invalid app name/);
    } finally {
      await receiver.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// go tool pprof: the independent decoder agrees with ours

test('goPprofRaw and goPprofTop read the profile as pprof-samples does', { skip: goPprofSkipReason() }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'helpers-test-'));
  const file = path.join(dir, 'cpu.pb.gz');
  writeFileSync(file, gzippedProfile({ samples: 3 }));
  const raw = await goPprofRaw(file);
  const ours = decodePprof(zlib.gunzipSync(gzippedProfile({ samples: 3 })));
  assert.deepEqual(raw.sampleTypes, ours.sampleTypes);
  assert.equal(raw.periodType, ours.periodType);
  assert.equal(raw.period, ours.period);
  assert.deepEqual(raw.samples, ours.samples);
  const top = await goPprofTop(file, { tagFocus: 'span_name=GET /users/:id' });
  assert.equal(top.total, 60_000_000);
  assert.deepEqual(top.rows[0], { name: 'burnHttpCpu', flat: 60_000_000, flatPct: 100, sumPct: 100, cum: 60_000_000, cumPct: 100 });
});

// ---------------------------------------------------------------------------------------------
// spawnApp

describe('spawnApp', () => {
  test('runs http-server with loader none: ready line, requests, default SIGTERM', async () => {
    const app = await spawnApp({ app: fixturePath('http-server/index.js'), loader: 'none' });
    assert.ok(app.port > 0);
    assert.equal((await app.request('/')).body, 'hello\n');
    const cpu = await app.request('/cpu?ms=20');
    assert.deepEqual(cpu.json(), { burnedMs: 20 });
    assert.equal((await app.request('/slow?ms=1')).status, 200);
    assert.equal((await app.request('/nope')).status, 404);
    app.kill('SIGTERM');
    assert.deepEqual(await app.waitForExit(), { code: null, signal: 'SIGTERM' });
  });

  test('HANDLE_SIGTERM=1 makes the fixtures exit 0 on SIGTERM', async () => {
    for (const entry of ['http-server/index.js', 'express-app/index.js', 'esm-app/index.mjs']) {
      const app = await spawnApp({ app: fixturePath(entry), loader: 'none', env: { HANDLE_SIGTERM: '1' } });
      app.kill('SIGTERM');
      assert.deepEqual(await app.waitForExit(), { code: 0, signal: null }, entry);
    }
  });

  test('express-app and esm-app routes answer', async () => {
    const express = await spawnApp({ app: fixturePath('express-app/index.js'), loader: 'none' });
    assert.deepEqual((await express.request('/health')).json(), { ok: true });
    assert.equal((await express.request('/users/3?ms=5')).json().id, '3');
    assert.equal((await express.request('/orders/9?ms=5')).json().orderId, '9');
    assert.equal((await express.request('/proxy')).json().user.id, '7');
    assert.equal((await express.request('/proxy?via=fetch')).json().status, 200);
    const esm = await spawnApp({ app: fixturePath('esm-app/index.mjs'), loader: 'none' });
    assert.equal((await esm.request('/')).body, 'hello\n');
    assert.equal((await esm.request('/cpu?ms=5')).status, 200);
    assert.equal((await esm.request('/outgoing')).json().downstream.status, 200);
  });

  test('gives the app a clean environment and a private store dir', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'helpers-test-'));
    const script = path.join(dir, 'print-env.js');
    writeFileSync(
      script,
      `const pick = (k) => process.env[k] ?? null;
       console.log(JSON.stringify({ env: ['OTEL_SERVICE_NAME', 'PYROSCOPE_SERVER_ADDRESS', 'KEPT', 'GONE', 'PORT', 'SPAN_PROFILES_DIR'].map(pick) }));
       console.log(JSON.stringify({ listening: 1 }));
       setInterval(() => {}, 1000);`,
    );
    process.env.OTEL_SERVICE_NAME = 'leaked';
    process.env.GONE = 'x';
    try {
      const app = await spawnApp({ app: script, loader: 'none', env: { KEPT: 'yes', GONE: undefined, PYROSCOPE_SERVER_ADDRESS: 'http://127.0.0.1:1' } });
      const [serviceName, pyroscope, kept, gone, port, storeDir] = JSON.parse(app.stdout().split('\n')[0]).env;
      assert.deepEqual([serviceName, pyroscope, kept, gone, port], [null, 'http://127.0.0.1:1', 'yes', null, '0']);
      assert.equal(storeDir, app.storeDir);
    } finally {
      delete process.env.OTEL_SERVICE_NAME;
      delete process.env.GONE;
    }
  });

  test('reports stderr when the app dies before it is ready', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'helpers-test-'));
    const script = path.join(dir, 'crash.js');
    writeFileSync(script, `console.error('boom: missing config'); process.exit(3);`);
    await assert.rejects(spawnApp({ app: script, loader: 'none' }), /did not become ready[\s\S]*code=3[\s\S]*boom: missing config/);
  });

  test('reports a timeout when the ready line never comes', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'helpers-test-'));
    const script = path.join(dir, 'silent.js');
    writeFileSync(script, `console.error('starting slowly'); setInterval(() => {}, 1000);`);
    await assert.rejects(spawnApp({ app: script, loader: 'none', readyTimeoutMs: 300 }), /timed out after 300 ms[\s\S]*starting slowly/);
  });

  test('kills the app when the test that spawned it ends, even when it fails', async (t) => {
    let app;
    await t.test('inner test that spawns and fails', { expectFailure: true }, async () => {
      app = await spawnApp({ app: fixturePath('http-server/index.js'), loader: 'none' });
      throw new Error('deliberate failure');
    });
    assert.deepEqual(await app.waitForExit(5000), { code: null, signal: 'SIGKILL' });
  });

  test('pinnedNode is Node 24 and nodeBinary(24) returns it', async () => {
    assert.equal(await nodeBinary(24), pinnedNode());
    const app = await spawnApp({ app: fixturePath('http-server/index.js'), loader: 'none', nodeBinary: pinnedNode() });
    assert.ok(app.port > 0);
  });
});
