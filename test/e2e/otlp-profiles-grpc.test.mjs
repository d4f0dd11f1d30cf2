// OTLP profiles over gRPC (OTEL_EXPORTER_OTLP_PROFILES_PROTOCOL=grpc), received by @grpc/grpc-js's own
// server (a gRPC implementation we did not write) and decoded by protobufjs over the kept .proto files:
// the call, gzip, metadata, UNAVAILABLE retried with the same message, INVALID_ARGUMENT not retried,
// and a call that never answers cannot hold the process past the shutdown deadline.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { decodeOtlpProfilesProtobuf, flattenOtlpProfiles, otlpProfilesProblems } from '../helpers/otlp-profiles.mjs';
import { spawnApp } from '../helpers/spawn-app.mjs';
import { waitUntil } from '../helpers/wait-for.mjs';
import { GUARDED_APP, agentLines, assertAllServed, startLoad } from '../helpers/reliability-harness.mjs';

const require = createRequire(import.meta.url);
const grpc = require('@grpc/grpc-js');
const { OTLP_PROFILES_GRPC_PATH } = require('../../dist/export/otlp-profiles.js');

/**
 * A ProfilesService on 127.0.0.1 (port 0). `answer(call)` decides each call: undefined answers OK with an
 * empty ExportProfilesServiceResponse, { code, details } an error, 'hang' never answers.
 */
async function startGrpcReceiver(answer = () => undefined) {
  const calls = [];
  const server = new grpc.Server();
  const identity = (buffer) => buffer;
  server.addService(
    {
      Export: {
        path: OTLP_PROFILES_GRPC_PATH,
        requestStream: false,
        responseStream: false,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
    },
    {
      Export(call, callback) {
        const record = { bytes: call.request, metadata: call.metadata.getMap() };
        try {
          record.request = decodeOtlpProfilesProtobuf(call.request);
          record.problems = otlpProfilesProblems(record.request);
        } catch (err) {
          record.problems = [String(err.message)];
        }
        calls.push(record);
        const decision = answer(record, calls.length);
        record.answer = decision ?? 'ok';
        if (decision === 'hang') return;
        if (decision) return callback({ code: decision.code, details: decision.details });
        callback(null, Buffer.alloc(0));
      },
    },
  );
  const port = await new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  return { url: `http://127.0.0.1:${port}`, calls, close: () => server.forceShutdown() };
}

async function startApp(t, receiver, env = {}) {
  t.after(() => receiver.close());
  return spawnApp({
    app: GUARDED_APP,
    env: {
      OTEL_PROFILES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_TRACES_EXPORTER: 'none',
      PYROSCOPE_UPLOAD_INTERVAL: '1s',
      ...env,
    },
  });
}

test('gRPC: gzip-compressed Export calls with the headers as metadata, valid profiles linked to spans', async (t) => {
  const receiver = await startGrpcReceiver();
  const app = await startApp(t, receiver, {
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_PROFILES_COMPRESSION: 'gzip',
    OTEL_EXPORTER_OTLP_PROFILES_HEADERS: 'x-api-key=grpc-k3y-value',
    OTEL_LOG_LEVEL: 'info',
  });
  const load = startLoad(app, { paths: ['/cpu?ms=20'] });
  await waitUntil(
    () => receiver.calls.some((c) => c.request && flattenOtlpProfiles(c.request).some((p) => p.samples.some((s) => s.labels.span_id))),
    { timeoutMs: 30_000, what: 'a gRPC call with linked samples' },
  );
  assertAllServed(await load.stop(), { atLeast: 5 });
  for (const call of receiver.calls) assert.deepEqual(call.problems, []);
  assert.equal(receiver.calls[0].metadata['x-api-key'], 'grpc-k3y-value');
  const [cpu] = flattenOtlpProfiles(receiver.calls.at(-1).request);
  assert.equal(cpu.sampleType, 'samples/count');
  assert.equal(cpu.resource['service.name'], 'fixture-guarded-app');
  assert.ok(app.stderr().includes(`profiles: otlp grpc ${receiver.url};`), app.stderr());
  assert.ok(!app.stderr().includes('grpc-k3y-value'));
});

test('gRPC: UNAVAILABLE retried and the same message delivered; INVALID_ARGUMENT rejected once', async (t) => {
  let unavailableLeft = 2;
  let invalid = false;
  const receiver = await startGrpcReceiver((call) => {
    if (invalid) return { code: grpc.status.INVALID_ARGUMENT, details: 'bad profile' };
    if (unavailableLeft > 0) {
      unavailableLeft--;
      return { code: grpc.status.UNAVAILABLE, details: 'ingesters busy' };
    }
    return undefined;
  });
  const app = await startApp(t, receiver);
  await waitUntil(() => receiver.calls.some((c) => c.answer === 'ok'), { timeoutMs: 30_000, what: 'a call answered OK' });
  const first = receiver.calls[0];
  const delivered = receiver.calls.find((c) => c.answer === 'ok');
  assert.ok(first.bytes.equals(delivered.bytes), 'the refused message is the one delivered');
  invalid = true;
  const before = receiver.calls.length;
  await waitUntil(() => receiver.calls.length >= before + 3, { timeoutMs: 20_000, what: 'three rejected calls' });
  const rejected = receiver.calls.slice(before);
  for (const call of rejected) assert.equal(rejected.filter((c) => c.bytes.equals(call.bytes)).length, 1, 'not retried');
  await app.waitForOutput(/profile rejected, not retried: gRPC INVALID_ARGUMENT: bad profile/);
  const lines = agentLines(app.stderr());
  assert.ok(lines.length <= 3, lines.join('\n'));
});

test('gRPC: a call that never answers cannot hold the process past SPAN_PROFILES_SHUTDOWN_TIMEOUT', async (t) => {
  let hang = false;
  const receiver = await startGrpcReceiver(() => (hang ? 'hang' : undefined));
  const app = await startApp(t, receiver, { SPAN_PROFILES_SHUTDOWN_TIMEOUT: '2s', OTEL_EXPORTER_OTLP_PROFILES_TIMEOUT: '60000' });
  await waitUntil(() => receiver.calls.length >= 1, { timeoutMs: 20_000, what: 'a first call' });
  hang = true;
  const before = receiver.calls.length;
  await waitUntil(() => receiver.calls.length > before, { timeoutMs: 10_000, what: 'a hanging call' });
  const signalledAt = Date.now();
  app.kill('SIGTERM');
  const exit = await app.waitForExit(15_000);
  const tookMs = Date.now() - signalledAt;
  assert.ok(exit.code === 143 || exit.signal === 'SIGTERM', JSON.stringify(exit));
  assert.ok(tookMs < 2000 + 2500, `exit took ${tookMs} ms with a 2 s shutdown deadline`);
});
