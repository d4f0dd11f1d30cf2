// The agent's own work is charged to no request. A span batch is exported from whatever context was current
// when the batch filled up or its timer was set: the end of some request's child span, while that request
// still runs. Exported in that context, its encoding and upload were sampled in the request's frame and
// charged to it (or, once it ended, to "(after its span ended)"). Small batches and a 1 ms sampler make many
// exports and enough of their samples to tell.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startOtlpReceiver } from '../helpers/otlp-receiver.mjs';
import { startPyroscopeReceiver } from '../helpers/pyroscope-receiver.mjs';
import { COUNT, runConcurrently } from '../helpers/span-linkage.mjs';
import { fixturePath, killAllApps, spawnApp } from '../helpers/spawn-app.mjs';

/** Frames only the agent's span export runs: the batch processor's export, the request's encoding, its POST. */
const EXPORT_FRAMES = new Set([
  'exportOneBatch',
  'flushScheduled',
  'encodeTraceExportRequestInSlices',
  'encodeEncodedTraceExportRequest',
  'encodeTraceExportRequest',
  'postUntraced',
]);
const AFTER_SPAN_ENDED = '(after its span ended)';

let run;
before(async () => {
  const otlp = await startOtlpReceiver();
  const pyroscope = await startPyroscopeReceiver();
  after(() => Promise.all([otlp.close(), pyroscope.close()]));
  after(killAllApps);
  const app = await spawnApp({
    app: fixturePath('express-app/index.js'),
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '4',
      OTEL_BSP_SCHEDULE_DELAY: '60000',
      PYROSCOPE_SERVER_ADDRESS: pyroscope.url,
      PYROSCOPE_PROFILING_INTERVAL: '1ms',
      PYROSCOPE_UPLOAD_INTERVAL: '2s',
    },
  });
  const paths = [];
  for (let i = 0; i < 100; i++) paths.push(`/orders/${i}?ms=5`, `/users/${i}?ms=2`, '/health');
  await runConcurrently(app, paths, 8);
  const loadEnd = BigInt(Date.now()) * 1_000_000n;
  await pyroscope.waitForUploads((uploads) => uploads.some((u) => u.timeNanos >= loadEnd), 30_000);
  run = { samples: pyroscope.uploads.flatMap((u) => u.samples), stderr: app.stderr() };
});

test('span batches are encoded and sent in no request\'s context', (t) => {
  let exporting = 0;
  const charged = new Map();
  for (const sample of run.samples) {
    if (!sample.stack.some((frame) => EXPORT_FRAMES.has(frame))) continue;
    exporting += sample.values[COUNT];
    const to = sample.stack.at(-1) === AFTER_SPAN_ENDED ? AFTER_SPAN_ENDED : sample.labels.span_name ?? sample.labels.span_id;
    if (to !== undefined) charged.set(to, (charged.get(to) ?? 0) + sample.values[COUNT]);
  }
  t.diagnostic(`${exporting} samples in the span export; charged: ${JSON.stringify(Object.fromEntries(charged))}`);
  assert.ok(exporting >= 10, `samples in the span export: ${exporting} (too few to judge)`);
  assert.deepEqual(Object.fromEntries(charged), {}, 'export samples charged to a request or to "(after its span ended)"');
  assert.doesNotMatch(run.stderr, /\[span-profiles\] (warn|error)/);
});
