// The span linkage options Grafana's Java agent also has. OTEL_PYROSCOPE_ROOT_SPAN_ONLY=false
// gives every span its own pyroscope.profile.id and samples the innermost span's id;
// OTEL_PYROSCOPE_ADD_SPAN_NAME=false drops the span_name label (and only that).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startOtlpReceiver } from '../helpers/otlp-receiver.mjs';
import { startPyroscopeReceiver } from '../helpers/pyroscope-receiver.mjs';
import {
  attribution,
  checkLinkageOfProfiles,
  formatAttribution,
  orderContinuationClassifier,
  runConcurrently,
} from '../helpers/span-linkage.mjs';
import { describeSpans, isLocalRoot, localRootOf, spansOfProcess } from '../helpers/span-tree.mjs';
import { fixturePath, killAllApps, spawnApp } from '../helpers/spawn-app.mjs';

after(killAllApps);

const EXPRESS_APP = fixturePath('express-app/index.js');
const PATHS = [1, 2, 3, 4].flatMap((i) => [`/users/${i}?ms=40`, `/orders/${i}?ms=150`]);

/** Runs the fixture with `env`, drives 8 concurrent requests, and collects what it exported. */
async function runWith(env) {
  const otlp = await startOtlpReceiver();
  const pyroscope = await startPyroscopeReceiver();
  after(() => Promise.all([otlp.close(), pyroscope.close()]));
  const app = await spawnApp({
    app: EXPRESS_APP,
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      OTEL_BSP_SCHEDULE_DELAY: '200',
      PYROSCOPE_SERVER_ADDRESS: pyroscope.url,
      PYROSCOPE_UPLOAD_INTERVAL: '2s',
      ...env,
    },
  });
  await runConcurrently(app, PATHS, PATHS.length);
  const loadEnd = BigInt(Date.now()) * 1_000_000n;
  await pyroscope.waitForUploads((uploads) => uploads.some((u) => u.timeNanos >= loadEnd), 30_000);
  const spans = await otlp.waitForSpans(
    (all) => spansOfProcess(all, app.pid).filter((s) => s.kind === 'SERVER').length >= PATHS.length && all,
  );
  return { app, uploads: [...pyroscope.uploads], samples: pyroscope.uploads.flatMap((u) => u.samples), spans: spansOfProcess(spans, app.pid) };
}

// The two apps wait mostly for profile cuts: run them side by side.
describe('profile linkage options', { concurrency: true }, () => {
  describe('OTEL_PYROSCOPE_ROOT_SPAN_ONLY=false', () => {
    let run;
    before(async () => {
      run = await runWith({ OTEL_PYROSCOPE_ROOT_SPAN_ONLY: 'false' });
    });

    test('every span, child spans included, gets its own pyroscope.profile.id', () => {
      const children = run.spans.filter((s) => !isLocalRoot(s));
      assert.ok(children.length > run.spans.length / 2, describeSpans(run.spans));
      for (const span of run.spans) {
        assert.equal(span.attributes['pyroscope.profile.id'], span.spanId, `${span.kind} ${span.name}`);
      }
    });

    test("every span_id label is an exported span's own id, with its trace_id and name", () => {
      const result = checkLinkageOfProfiles(run.uploads, run.spans, { rootSpanOnly: false });
      assert.deepEqual(result.problems, []);
      const linkedChildren = [...result.linkedSpans.values()].filter((s) => !isLocalRoot(s));
      assert.ok(linkedChildren.length > 0, 'samples carry child span ids');
    });

    test("a route's CPU is attributed to spans of that route's requests; the nested span's part to the nested span", (t) => {
      const underRoot = (name) =>
        new Set(run.spans.filter((s) => localRootOf(s, run.spans)?.name === name).map((s) => s.spanId));
      const users = attribution(run.samples, 'renderUserProfile', underRoot('GET /users/:id'));
      const orders = attribution(run.samples, 'computeOrderTotals', underRoot('GET /orders/:orderId'));
      t.diagnostic(`renderUserProfile ${formatAttribution(users)}; computeOrderTotals ${formatAttribution(orders)}`);
      for (const result of [users, orders]) {
        assert.ok(result.total >= 10 && result.precision >= 0.97 && result.recall >= 0.97, formatAttribution(result));
      }
      const classify = orderContinuationClassifier(EXPRESS_APP);
      const priceLines = new Set(run.spans.filter((s) => s.name === 'price-lines').map((s) => s.spanId));
      assert.equal(priceLines.size, 4);
      const nested = attribution(run.samples, 'computeOrderTotals', priceLines, (s) => classify(s) === 'nested span');
      t.diagnostic(`nested span part labelled with the price-lines span: ${formatAttribution(nested)}`);
      assert.ok(nested.total >= 3 && nested.precision >= 0.9, formatAttribution(nested));
      const outside = attribution(run.samples, 'computeOrderTotals', priceLines, (s) => classify(s) !== 'nested span');
      assert.equal(outside.correct, 0, 'no sample outside the nested span carries its id');
    });
  });

  describe('OTEL_PYROSCOPE_ADD_SPAN_NAME=false', () => {
    let run;
    before(async () => {
      run = await runWith({ OTEL_PYROSCOPE_ADD_SPAN_NAME: 'false' });
    });

    test('no sample has span_name; span_id and trace_id still link to exported local roots', () => {
      const result = checkLinkageOfProfiles(run.uploads, run.spans, { addSpanName: false });
      assert.deepEqual(result.problems, []);
      assert.ok(result.labelledCount > 20, `labelled samples: ${result.labelledCount}`);
      const keys = new Set(run.samples.flatMap((s) => Object.keys(s.labels)));
      assert.deepEqual([...keys].sort(), ['span_id', 'trace_id']);
    });

    test('attribution is unchanged', () => {
      const rootsNamed = (name) => new Set(run.spans.filter((s) => isLocalRoot(s) && s.name === name).map((s) => s.spanId));
      const users = attribution(run.samples, 'renderUserProfile', rootsNamed('GET /users/:id'));
      assert.ok(users.total >= 10 && users.precision >= 0.97 && users.recall >= 0.97, formatAttribution(users));
    });
  });
});
