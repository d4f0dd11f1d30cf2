// OTLP profiles end to end: the Express fixture under concurrent load with OTEL_PROFILES_EXPORTER=otlp sends
// traces and profiles through one OTLP/HTTP endpoint (base URL: /v1/traces and /v1development/profiles).
// The receiver decodes the profiles with protobufjs over the kept .proto files and applies Pyroscope's
// OTLP ingest rules; the tests then judge the span links as the pprof linkage suite does.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startOtlpProfilesReceiver } from '../helpers/otlp-profiles-receiver.mjs';
import { attribution, checkLinkageOfProfiles, formatAttribution, runConcurrently } from '../helpers/span-linkage.mjs';
import { isLocalRoot, spansOfProcess } from '../helpers/span-tree.mjs';
import { fixturePath, killAllApps, spawnApp } from '../helpers/spawn-app.mjs';

after(killAllApps);

const EXPRESS_APP = fixturePath('express-app/index.js');
// As in the pprof linkage suite (test/helpers/linkage-suite.mjs).
const MIN_PRECISION = 0.97;
const MIN_RECALL = 0.97;

function loadPaths(rounds) {
  const paths = [];
  for (let i = 0; i < rounds; i++) {
    paths.push(`/users/${i}?ms=40`, `/orders/${i}?ms=100`);
    if (i % 3 === 0) paths.push('/proxy', '/health');
  }
  return paths;
}

const nanosNow = () => BigInt(Date.now()) * 1_000_000n;
const cpuProfiles = (uploads) => uploads.flatMap((u) => u.profiles).filter((p) => p.sampleType === 'samples/count');

/** Runs the load against the app and waits until every span and every profile cut after it is in. */
async function runLoad({ env, rounds = 8 }) {
  const receiver = await startOtlpProfilesReceiver();
  const app = await spawnApp({
    app: EXPRESS_APP,
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_PROFILES_EXPORTER: 'otlp',
      OTEL_BSP_SCHEDULE_DELAY: '200',
      PYROSCOPE_UPLOAD_INTERVAL: '2s',
      OTEL_LOG_LEVEL: 'info',
      ...env,
    },
  });
  const paths = loadPaths(rounds);
  await runConcurrently(app, paths, 8);
  const loadEnd = nanosNow();
  const expectedServerSpans = paths.length + paths.filter((p) => p === '/proxy').length;
  await receiver.waitForUploads((uploads) => cpuProfiles(uploads).some((p) => p.timeNanos >= loadEnd), 30_000);
  await receiver.waitForSpans((all) => spansOfProcess(all, app.pid).filter((s) => s.kind === 'SERVER').length >= expectedServerSpans);
  const spans = spansOfProcess(receiver.spans, app.pid);
  const roots = spans.filter(isLocalRoot);
  return {
    app,
    receiver,
    spans,
    roots,
    profiles: cpuProfiles(receiver.uploads),
    userRootIds: new Set(roots.filter((s) => s.name === 'GET /users/:id').map((s) => s.spanId)),
    orderRootIds: new Set(roots.filter((s) => s.name === 'GET /orders/:orderId').map((s) => s.spanId)),
  };
}

function assertRouteAttribution(t, run, label) {
  const samples = run.profiles.flatMap((p) => p.samples);
  for (const [fn, ids, minTotal] of [
    ['renderUserProfile', run.userRootIds, 20],
    ['computeOrderTotals', run.orderRootIds, 40],
  ]) {
    const result = attribution(samples, fn, ids);
    t.diagnostic(`${label}: ${fn} ${formatAttribution(result)}`);
    assert.ok(result.total >= minTotal, `enough ${fn} samples to judge: ${result.total}`);
    assert.ok(result.precision >= MIN_PRECISION, `${fn}: ${formatAttribution(result)}`);
    assert.ok(result.recall >= MIN_RECALL, `${fn}: ${formatAttribution(result)}`);
  }
}

describe('OTLP profiles over http/protobuf, traces and profiles on one base endpoint', () => {
  let run;
  before(async () => {
    run = await runLoad({ env: { SPAN_PROFILES_WALL: 'true' } });
    after(() => run.receiver.close());
  });

  test('the startup summary names the OTLP destination; no warning', () => {
    const summary = `profiles: otlp http/protobuf ${run.receiver.url}/v1development/profiles;`;
    assert.ok(run.app.stderr().includes(summary), run.app.stderr());
    assert.doesNotMatch(run.app.stderr(), /\[span-profiles\] (warn|error)/);
  });

  test('every request is accepted under the proto rules and Pyroscope\'s OTLP ingest rules', () => {
    assert.deepEqual(run.receiver.rejections.map((r) => r.reason), []);
    const profileRequests = run.receiver.requests.filter((r) => r.path === '/v1development/profiles');
    assert.ok(profileRequests.length >= 2);
    for (const request of profileRequests) {
      assert.equal(request.status, 200);
      assert.equal(request.contentType, 'application/x-protobuf');
      assert.equal(request.headers['content-encoding'], undefined, 'no compression unless asked for');
    }
  });

  test('each request holds a CPU profile (samples/count, cpu period) and a wall profile', () => {
    for (const upload of run.receiver.uploads) {
      assert.deepEqual(
        upload.profiles.map((p) => `${p.sampleType} ${p.periodType} ${p.period}`),
        ['samples/count cpu/nanoseconds 10000000', 'wall/nanoseconds wall/nanoseconds 10000000'],
      );
    }
  });

  test("route functions' samples link to their own requests' root spans", (t) => {
    assertRouteAttribution(t, run, 'http/protobuf');
  });

  test('every linked span id is the pyroscope.profile.id of an exported local root, with its trace id and span_name', (t) => {
    const result = checkLinkageOfProfiles(run.profiles, run.spans);
    t.diagnostic(`${result.labelledCount} linked samples over ${result.linkedSpans.size} root spans`);
    assert.deepEqual(result.problems, []);
    assert.ok(result.labelledCount > 100, `linked samples: ${result.labelledCount}`);
    assert.ok(result.linkedSpans.size >= run.userRootIds.size, 'most requests have samples');
  });

  test('CPU samples carry their tick times, inside the profile they are in', () => {
    let ticks = 0;
    for (const profile of run.profiles) {
      const start = profile.timeNanos - 100_000_000n;
      const end = profile.timeNanos + profile.durationNanos + 100_000_000n;
      for (const sample of profile.samples) {
        for (const t of sample.timestamps) {
          ticks++;
          assert.ok(t >= start && t <= end, `tick at ${t} outside [${profile.timeNanos}, +${profile.durationNanos}]`);
        }
      }
    }
    const linkedTicks = run.profiles.flatMap((p) => p.samples).filter((s) => s.labels.span_id).reduce((n, s) => n + s.timestamps.length, 0);
    assert.ok(linkedTicks > 100, `linked samples with times: ${linkedTicks} of ${ticks}`);
  });

  test("the profiles carry the traces' Resource", () => {
    const resources = new Set(run.receiver.uploads.flatMap((u) => u.profiles.map((p) => JSON.stringify(p.resource))));
    assert.equal(resources.size, 1, 'one Resource for every profile');
    const resource = JSON.parse([...resources][0]);
    assert.deepEqual(resource, run.spans[0].resource);
    for (const key of ['service.name', 'service.instance.id', 'process.pid', 'host.name', 'telemetry.sdk.language']) {
      assert.ok(key in resource, `${key} in ${JSON.stringify(Object.keys(resource))}`);
    }
    assert.equal(resource['service.name'], 'fixture-express-app');
    assert.equal(resource['process.pid'], run.app.pid);
  });

  test('every frame is a V8 JavaScript frame (profile.frame.type=v8js)', () => {
    const types = new Set(run.profiles.flatMap((p) => p.samples.flatMap((s) => s.frameTypes)));
    assert.deepEqual([...types], ['v8js']);
  });
});

describe('OTLP profiles over http/json with gzip, innermost spans', () => {
  let run;
  before(async () => {
    run = await runLoad({
      rounds: 6,
      env: {
        OTEL_EXPORTER_OTLP_PROFILES_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_PROFILES_COMPRESSION: 'gzip',
        OTEL_PYROSCOPE_ROOT_SPAN_ONLY: 'false',
      },
    });
    after(() => run.receiver.close());
  });

  test('JSON requests, gzipped, accepted', () => {
    assert.deepEqual(run.receiver.rejections.map((r) => r.reason), []);
    assert.ok(run.receiver.uploads.length >= 2);
    for (const upload of run.receiver.uploads) {
      assert.equal(upload.contentType, 'application/json');
      assert.equal(upload.contentEncoding, 'gzip');
    }
  });

  test('with OTEL_PYROSCOPE_ROOT_SPAN_ONLY=false samples link to the innermost span, which carries the id', (t) => {
    const result = checkLinkageOfProfiles(run.profiles, run.spans, { rootSpanOnly: false });
    t.diagnostic(`${result.labelledCount} linked samples over ${result.linkedSpans.size} spans`);
    assert.deepEqual(result.problems, []);
    const linked = [...result.linkedSpans.values()];
    assert.ok(linked.some((s) => !isLocalRoot(s)), 'some samples link to spans below the root (price-lines, the middleware spans)');
    const samples = run.profiles.flatMap((p) => p.samples);
    const priceLines = new Set(run.spans.filter((s) => s.name === 'price-lines').map((s) => s.spanId));
    const inPriceLines = samples.filter((s) => priceLines.has(s.labels.span_id) && s.stack.includes('computeOrderTotals'));
    assert.ok(inPriceLines.length > 0, 'CPU under the nested price-lines span is linked to it');
  });
});
