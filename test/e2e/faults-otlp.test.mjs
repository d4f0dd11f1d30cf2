// The OTLP trace endpoint down (connections refused) or hanging, end to end under load: the app keeps
// serving, profiles keep flowing to Pyroscope with their span labels, the span queue stays capped
// (OTEL_BSP_MAX_QUEUE_SIZE, drops counted by the SDK), the SDK's complaints are rate-limited like the
// agent's own, and once the endpoint is back the spans still queued and new ones are delivered.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  RETAINED_GROWTH_LIMIT,
  agentLines,
  assertAllServed,
  assertNoFaultsReachedApp,
  labelledSpanIds,
  profileWindowMs,
  retainedBytesOf,
  startGuardedAppWithBackends,
  startLoad,
} from '../helpers/reliability-harness.mjs';

const MIB = 1024 * 1024;
const SPAN_QUEUE = 64;
const startMsOf = (span) => Number(span.startTimeUnixNano / 1_000_000n);

async function runOtlpFault(t, mode) {
  const { pyroscope, otlp, app } = await startGuardedAppWithBackends(t, {
    OTEL_BSP_SCHEDULE_DELAY: '200',
    OTEL_BSP_MAX_QUEUE_SIZE: String(SPAN_QUEUE),
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '32',
    OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
  });
  const load = startLoad(app);
  try {
    await otlp.waitForSpans((spans) => spans.length >= 10);
    const memoryBefore = await retainedBytesOf(app);

    await otlp.respondWith(mode);
    const faultAt = Date.now();
    // Profiles keep going, still linked to spans, while spans cannot leave: five profile cuts.
    const uploadsDuringFault = await pyroscope.waitForUploads(
      (uploads) => {
        const during = uploads.filter((u) => profileWindowMs(u).start >= faultAt);
        return during.length >= 5 && during;
      },
      20000,
    );
    assert.ok(uploadsDuringFault.some((u) => labelledSpanIds(u).size > 0), 'profiles still carry span labels');
    // The span queue overflowed and the SDK said so.
    await app.waitForOutput(/Dropped \d+ spans because maxQueueSize reached/, { timeoutMs: 15000 });
    const memoryDuring = await retainedBytesOf(app);
    const growth = memoryDuring.retained - memoryBefore.retained;
    assert.ok(growth < RETAINED_GROWTH_LIMIT, `retained memory grew ${(growth / MIB).toFixed(1)} MiB during the fault`);

    const spansAtResume = otlp.spans.length;
    await otlp.respondWith('resume');
    const resumedAt = Date.now();
    await otlp.waitForSpans(
      (spans) => {
        const late = spans.slice(spansAtResume);
        return late.some((s) => startMsOf(s) > resumedAt) && late.some((s) => startMsOf(s) > faultAt && startMsOf(s) < resumedAt);
      },
      20000,
    );
    const outageSpans = otlp.spans.slice(spansAtResume).filter((s) => startMsOf(s) > faultAt && startMsOf(s) < resumedAt);

    const result = await load.stop();
    assertAllServed(result);
    await assertNoFaultsReachedApp(app);
    const lines = agentLines(app.stderr());
    t.diagnostic(
      `${mode}: ${result.total} requests, ${uploadsDuringFault.length} profiles during the fault, ${outageSpans.length} outage spans ` +
        `delivered after recovery, retained ${(memoryBefore.retained / MIB).toFixed(1)} -> ${(memoryDuring.retained / MIB).toFixed(1)} MiB, ` +
        `${lines.length} warning lines`,
    );
    // Rate-limited: one line per kind of problem per minute, whatever number it carries.
    const kinds = lines.map((line) => line.replace(/\d+/g, 'N'));
    assert.equal(new Set(kinds).size, kinds.length, `no warning repeats within a minute (${lines.length} lines):\n${lines.join('\n')}`);
    assert.ok(lines.length <= 4, `a handful of warning lines, not a flood (${lines.length}):\n${lines.join('\n')}`);
    for (const line of lines) assert.doesNotMatch(line, /\\n\s+at /, `a warning carries no stack trace: ${line}`);
  } finally {
    await load.stop();
  }
}

test('OTLP endpoint down: app unaffected, profiles keep flowing, span queue capped, warnings rate-limited, spans resume', (t) =>
  runOtlpFault(t, 'refuse'));

test('OTLP endpoint hanging: app unaffected, profiles keep flowing, span queue capped, warnings rate-limited, spans resume', (t) =>
  runOtlpFault(t, 'hang'));
