// What the Pyroscope exporter sends, against the rule-applying receiver (test/helpers/pyroscope-receiver.mjs,
// Pyroscope's own rules with their source files): trace_id by server version, the span_name guard, names cut
// at UTF-8 boundaries, uploads under the 2 MiB burst and 16,000 samples, a 429 over the burst split instead
// of retried forever, and no sample lost on the way.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import { PYROSCOPE_VERSIONS, startPyroscopeReceiver } from '../helpers/pyroscope-receiver.mjs';

const require = createRequire(import.meta.url);
const { PyroscopeExporter } = require('../../dist/export/pyroscope.js');
const { SpanNameGuard, truncateUtf8, relabelForPyroscope, OVERFLOW_SPAN_NAME, MAX_SPAN_NAME_BYTES } = require('../../dist/export/pyroscope-labels.js');
const { keepsTraceIdPerSample } = require('../../dist/export/server-version.js');
const { getLogger } = require('../../dist/logger.js');
const { Profile, StringTable, ValueType, Sample, Label, Location, Line, Function: PprofFunction } = require('pprof-format');

const MIB = 1024 * 1024;

/**
 * A raw cut as @datadog/pprof hands it over: [samples/count, wall/nanoseconds, cpu/nanoseconds], one
 * sample per tick. `samples`: [{ stack: [leaf..root names], labels: {k: string|number}, cpu }].
 */
function rawCut(samples, { startMs = Date.now() - 1000 } = {}) {
  const strings = new StringTable();
  const functions = new Map();
  const locationOf = (name) => {
    let entry = functions.get(name);
    if (!entry) {
      const id = functions.size + 1;
      const fn = new PprofFunction({ id, name: strings.dedup(name), systemName: strings.dedup(name), filename: strings.dedup('/app/index.js') });
      entry = { fn, loc: new Location({ id, line: [new Line({ functionId: id, line: 1 })] }) };
      functions.set(name, entry);
    }
    return entry.loc.id;
  };
  const sample = samples.map(
    (s) =>
      new Sample({
        locationId: s.stack.map(locationOf),
        value: [1, 10_000_000, s.cpu ?? 10_000_000],
        label: Object.entries(s.labels ?? {}).map(([key, value]) =>
          typeof value === 'number' ? new Label({ key: strings.dedup(key), num: value }) : new Label({ key: strings.dedup(key), str: strings.dedup(value) }),
        ),
      }),
  );
  const raw = new Profile({
    sampleType: [['samples', 'count'], ['wall', 'nanoseconds'], ['cpu', 'nanoseconds']].map(
      ([type, unit]) => new ValueType({ type: strings.dedup(type), unit: strings.dedup(unit) }),
    ),
    sample,
    location: [...functions.values()].map((f) => f.loc),
    function: [...functions.values()].map((f) => f.fn),
    stringTable: strings,
    periodType: new ValueType({ type: strings.dedup('wall'), unit: strings.dedup('nanoseconds') }),
    period: 10_000_000,
  });
  return { raw, startMs, endMs: startMs + 1000, intervalMicros: 10_000, wall: false };
}

const spanLabels = (i, name) => ({
  span_id: i.toString(16).padStart(16, '0'),
  trace_id: i.toString(16).padStart(32, '0'),
  span_name: name,
  end_timestamp_ns: 1_700_000_000_000_000_000 + i,
});

/** Total CPU nanoseconds of the raw cut and of what the server accepted. */
const rawCpu = (cut) => cut.raw.sample.reduce((n, s) => n + Number(s.value[2]), 0);
const uploadedCpu = (uploads) => uploads.reduce((n, u) => n + u.samples.reduce((m, s) => m + s.values[1], 0), 0);

/** Messages the agent's logger prints while `fn` runs. */
async function capturingWarnings(fn) {
  const logger = getLogger();
  const lines = [];
  const original = process.stderr.write;
  process.stderr.write = function (chunk, ...rest) {
    if (String(chunk).includes('[span-profiles]')) {
      lines.push(String(chunk));
      return true;
    }
    return original.call(this, chunk, ...rest);
  };
  try {
    await fn(logger);
  } finally {
    process.stderr.write = original;
  }
  return lines;
}

function exporterFor(receiver, extra = {}) {
  return new PyroscopeExporter({
    serverAddress: receiver.url,
    appName: 'span-names-app',
    tags: { env: 'test' },
    timeoutMs: 10_000,
    queueSize: 10,
    retry: { maxAttempts: 4, initialBackoffMs: 1, maxBackoffMs: 1000 },
    ...extra,
  });
}

describe('span names', () => {
  test('truncateUtf8 cuts at a character boundary and never breaks a multi-byte sequence', () => {
    assert.equal(truncateUtf8('GET /users/:id', 200), 'GET /users/:id');
    for (const text of ['é'.repeat(300), '名'.repeat(300), '💥'.repeat(300), 'a' + 'ünïcødé-☃-名前-💥-'.repeat(40)]) {
      for (const max of [4, 5, 6, 7, 50, 199, 200, 201]) {
        const cut = truncateUtf8(text, max);
        const bytes = Buffer.from(cut, 'utf8');
        assert.ok(bytes.length <= max, `${bytes.length} <= ${max}`);
        assert.equal(bytes.toString('utf8'), cut, 'round-trips: no broken sequence, no lone surrogate');
        assert.ok(!cut.includes('\uFFFD'));
        assert.ok(cut.endsWith('…'));
        assert.ok(text.startsWith(cut.slice(0, -1)));
      }
    }
  });

  test('the guard admits the first N distinct names for the process lifetime, then one overflow name, one warning', async () => {
    const guard = new SpanNameGuard(3);
    const lines = await capturingWarnings(() => {
      assert.equal(guard.map('GET /a'), 'GET /a');
      assert.equal(guard.map('GET /b'), 'GET /b');
      assert.equal(guard.map('GET /a'), 'GET /a');
      assert.equal(guard.map('x'.repeat(5000)), truncateUtf8('x'.repeat(5000), MAX_SPAN_NAME_BYTES));
      assert.equal(guard.map('GET /d'), OVERFLOW_SPAN_NAME);
      assert.equal(guard.map('GET /e'), OVERFLOW_SPAN_NAME);
      assert.equal(guard.map('GET /b'), 'GET /b', 'an admitted name stays admitted');
    });
    assert.equal(guard.admittedCount, 3);
    const warnings = lines.filter((l) => l.includes('distinct span names'));
    assert.equal(warnings.length, 1, lines.join(''));
    assert.match(warnings[0], /more than 3 distinct span names/);
    assert.match(warnings[0], /raw URLs or ids/);
    assert.match(warnings[0], /GET \/users\/:id/);
    assert.match(warnings[0], /SPAN_PROFILES_MAX_SPAN_NAMES/);
    assert.match(warnings[0], /The local store keeps the real names/);
  });

  test('relabelling leaves the raw cut untouched, drops trace_id when asked and maps span names', async () => {
    const cut = rawCut([
      { stack: ['work', 'main'], labels: spanLabels(1, 'GET /a') },
      { stack: ['work', 'main'], labels: spanLabels(2, 'GET /b') },
      { stack: ['work', 'main'], labels: spanLabels(3, 'GET /c') },
      { stack: ['idle'], labels: {} },
    ]);
    const before = Buffer.from(cut.raw.encode());
    const view = await relabelForPyroscope(cut.raw, { includeTraceId: false, spanNames: new SpanNameGuard(2) });
    assert.deepEqual(Buffer.from(cut.raw.encode()), before, 'the raw cut is not changed');
    const strings = view.stringTable.strings;
    const labelsOf = (s) => Object.fromEntries(s.label.filter((l) => Number(l.str)).map((l) => [strings[Number(l.key)], strings[Number(l.str)]]));
    assert.deepEqual(
      view.sample.map((s) => labelsOf(s)),
      [
        { span_id: '0000000000000001', span_name: 'GET /a' },
        { span_id: '0000000000000002', span_name: 'GET /b' },
        { span_id: '0000000000000003', span_name: OVERFLOW_SPAN_NAME },
        {},
      ],
    );
    assert.ok(view.sample.every((s) => s.label.some((l) => strings[Number(l.key)] === 'end_timestamp_ns') || s.label.length === 0));
    const kept = await relabelForPyroscope(cut.raw, { includeTraceId: true, spanNames: new SpanNameGuard(10) });
    assert.equal(labelsOf(kept.sample[0]).trace_id, '0'.repeat(31) + '1');
  });
});

describe('trace_id by server version', () => {
  test('the versions that keep trace_id out of series labels: 2.1.0 on (and weekly-f174 on)', () => {
    const cases = {
      '1.21.1': false,
      '2.0.0': false,
      '2.0.3': false,
      '2.0.6': false,
      '2.1.0': true,
      'v2.1.0': true,
      '2.2.1': true,
      '3.0.0-rc.1': true,
      'weekly-f173-c345167e2': false,
      'weekly-f174-7b198f701': true,
      'main-abc1234': false,
      '': false,
    };
    for (const [version, expected] of Object.entries(cases)) assert.equal(keepsTraceIdPerSample(version), expected, version);
    assert.equal(keepsTraceIdPerSample(undefined), false);
  });

  const runs = [
    ['1.x', { version: PYROSCOPE_VERSIONS.v1 }, false],
    ['2.0.0', { version: PYROSCOPE_VERSIONS.v200 }, false],
    ['2.2.x', { version: PYROSCOPE_VERSIONS.v22 }, true],
    ['no buildinfo answer', { version: PYROSCOPE_VERSIONS.v22, buildInfo: false }, false],
  ];
  for (const [what, receiverOptions, expectTraceId] of runs) {
    test(`${what}: trace_id ${expectTraceId ? 'sent' : 'left out'}; per-request span names bounded; nothing rejected or lost`, async () => {
      const receiver = await startPyroscopeReceiver(receiverOptions);
      const exporter = exporterFor(receiver, { maxSpanNames: 50 });
      try {
        // 400 requests, each its own span name and trace: what an app naming spans by raw URL sends.
        const cut = rawCut(Array.from({ length: 400 }, (_, i) => ({ stack: ['handler', 'main'], labels: spanLabels(i + 1, `GET /items/${i}`) })));
        await capturingWarnings(async () => {
          exporter.export(cut);
          await exporter.flush(Date.now() + 15_000);
        });
        assert.deepEqual(receiver.rejections.map((r) => r.reason), []);
        assert.equal(receiver.buildInfoRequests.length, 1, 'the version is asked once');
        const samples = receiver.uploads.flatMap((u) => u.samples);
        assert.equal(samples.filter((s) => 'trace_id' in s.labels).length, expectTraceId ? 400 : 0);
        assert.equal(new Set(samples.map((s) => s.labels.span_id)).size, 400, 'span_id stays on every sample');
        assert.ok(receiver.series.size <= 51, `${receiver.series.size} series for 400 span names`);
        assert.equal(new Set(samples.map((s) => s.labels.span_name)).size, 51);
        assert.equal(uploadedCpu(receiver.uploads), rawCpu(cut), 'no CPU time lost');
      } finally {
        await exporter.shutdown(Date.now() + 1000);
        await receiver.close();
      }
    });
  }

  test('SPAN_PROFILES_TRACE_ID_LABEL forces: on sends it to a 1.x server without asking, off never asks', async () => {
    for (const [mode, expected] of [
      ['on', true],
      ['off', false],
    ]) {
      const receiver = await startPyroscopeReceiver({ version: PYROSCOPE_VERSIONS.v1 });
      const exporter = exporterFor(receiver, { traceId: mode });
      try {
        exporter.export(rawCut([{ stack: ['work'], labels: spanLabels(1, 'GET /a') }]));
        await exporter.flush(Date.now() + 10_000);
        assert.equal(receiver.buildInfoRequests.length, 0);
        assert.equal('trace_id' in receiver.uploads[0].samples[0].labels, expected, mode);
      } finally {
        await exporter.shutdown(Date.now() + 1000);
        await receiver.close();
      }
    }
  });

  test('the probe carries the upload headers (auth, tenant) and never delays the constructor', async () => {
    const receiver = await startPyroscopeReceiver();
    const started = process.hrtime.bigint();
    const exporter = exporterFor(receiver, { authToken: 'tok-1', tenantId: 'tenant-a' });
    assert.ok(process.hrtime.bigint() - started < 50_000_000n, 'construction does not wait for the server');
    assert.equal(receiver.buildInfoRequests.length, 0, 'not even started synchronously');
    try {
      assert.equal(await exporter.traceIdDecision, true);
      const [probe] = receiver.buildInfoRequests;
      assert.equal(probe.headers.authorization, 'Bearer tok-1');
      assert.equal(probe.headers['x-scope-orgid'], 'tenant-a');
    } finally {
      await exporter.shutdown(Date.now() + 1000);
      await receiver.close();
    }
  });
});

describe('upload size: the 2 MiB burst and 16,000 samples', () => {
  /** `count` samples with distinct stacks of long function names: a big profile. */
  const bigCut = (count, nameBytes = 300) =>
    rawCut(
      Array.from({ length: count }, (_, i) => ({
        stack: [`leaf_${i}_${'x'.repeat(nameBytes)}`, `mid_${i % 50}_${'y'.repeat(nameBytes)}`, 'main'],
        labels: spanLabels(i + 1, `GET /r${i % 5}`),
      })),
    );

  /**
   * Exports a cut of 12,000 big samples to a receiver started with `receiverOptions` and checks it arrives
   * in three uploads or more, none refused, every sample there; resolves to the receiver's uploads and the cut.
   */
  async function uploadBigCut(receiverOptions) {
    const receiver = await startPyroscopeReceiver(receiverOptions);
    const exporter = exporterFor(receiver);
    try {
      const cut = bigCut(12_000);
      exporter.export(cut);
      await exporter.flush(Date.now() + 60_000);
      assert.deepEqual(receiver.rejections.map((r) => `${r.status} ${r.reason}`), []);
      assert.ok(receiver.uploads.length >= 3, `${receiver.uploads.length} uploads`);
      assert.equal(receiver.uploads.reduce((n, u) => n + u.samples.length, 0), 12_000);
      return { uploads: receiver.uploads, cut };
    } finally {
      await exporter.shutdown(Date.now() + 1000);
      await receiver.close();
    }
  }

  test('a cut far over 2 MiB goes up in uploads each under the burst; every sample arrives', async () => {
    const { uploads, cut } = await uploadBigCut();
    for (const upload of uploads) assert.ok(upload.ingestBytes <= 2 * MIB, `${upload.ingestBytes} bytes`);
    assert.equal(uploadedCpu(uploads), rawCpu(cut));
  });

  test('a server slow to read one upload does not get the next sooner than its rate allows', async () => {
    // The second upload waits 1.5 s in the server before its charge; the third arrives as soon as the
    // second is answered. Refilled over the second's time in flight, the pacer would send the third at once.
    await uploadBigCut({ chargeDelayMs: (n) => (n === 1 ? 1500 : 0) });
  });

  test('over 16,000 samples is split too (small samples, under the byte limit)', async () => {
    const receiver = await startPyroscopeReceiver();
    const exporter = exporterFor(receiver);
    try {
      const cut = bigCut(20_000, 1);
      exporter.export(cut);
      await exporter.flush(Date.now() + 60_000);
      assert.deepEqual(receiver.rejections.map((r) => `${r.status} ${r.reason}`), []);
      assert.ok(receiver.uploads.every((u) => u.samples.length <= 16_000));
      assert.equal(receiver.uploads.reduce((n, u) => n + u.samples.length, 0), 20_000);
    } finally {
      await exporter.shutdown(Date.now() + 1000);
      await receiver.close();
    }
  });

  test('a 429 saying the upload is over the default burst is split at once, not retried; later uploads are built smaller', async () => {
    const receiver = await startPyroscopeReceiver();
    // Configured above what the server allows: the server answers 429 "exceeded while adding 3.x MiB".
    const exporter = exporterFor(receiver, { maxUploadBytes: 4 * MIB });
    try {
      const cut = bigCut(12_000);
      const lines = await capturingWarnings(async () => {
        exporter.export(cut);
        await exporter.flush(Date.now() + 60_000);
      });
      const refused = receiver.rejections.filter((r) => r.status === 429);
      assert.ok(refused.length >= 1);
      assert.ok(refused.every((r) => /exceeded while adding/.test(r.reason)));
      assert.deepEqual(receiver.rejections.filter((r) => r.status !== 429), []);
      assert.equal(uploadedCpu(receiver.uploads), rawCpu(cut), 'no sample lost');
      assert.ok(exporter.counters.split >= 1);
      assert.equal(exporter.counters.failed, 0);
      const split = lines.filter((l) => l.includes('over its ingestion burst'));
      assert.equal(split.length, 1, lines.join(''));
      assert.match(split[0], /SPAN_PROFILES_MAX_UPLOAD_SIZE/);
      // The next cut is built under the lowered limit: accepted first time.
      const before = receiver.rejections.length;
      exporter.export(bigCut(8000));
      await exporter.flush(Date.now() + 60_000);
      assert.equal(receiver.rejections.length, before, 'no 429 once the limit is lowered');
    } finally {
      await exporter.shutdown(Date.now() + 1000);
      await receiver.close();
    }
  });

  test('a tenant burst below 2 MiB: a refused upload is retried once after a pause, then split, and arrives whole', async () => {
    const receiver = await startPyroscopeReceiver({ limits: { ingestionBurstBytes: 768 * 1024 } });
    const exporter = exporterFor(receiver);
    try {
      const cut = bigCut(5000);
      await capturingWarnings(async () => {
        exporter.export(cut);
        await exporter.flush(Date.now() + 60_000);
      });
      assert.ok(receiver.rejections.some((r) => r.status === 429));
      assert.equal(uploadedCpu(receiver.uploads), rawCpu(cut), 'no sample lost');
      assert.ok(receiver.uploads.every((u) => u.ingestBytes <= 768 * 1024));
      assert.equal(exporter.counters.failed, 0);
    } finally {
      await exporter.shutdown(Date.now() + 1000);
      await receiver.close();
    }
  });

  test('a plain 429 (rate, not burst) is retried as before', async () => {
    const receiver = await startPyroscopeReceiver();
    // Backoff long enough (at least 100 ms, then 200) that the switch to 'ok' lands before the third attempt.
    const exporter = exporterFor(receiver, { traceId: 'off', retry: { maxAttempts: 4, initialBackoffMs: 200, maxBackoffMs: 1000 } });
    try {
      await receiver.respondWith(429);
      exporter.export(rawCut([{ stack: ['work'], labels: spanLabels(1, 'GET /a') }]));
      while (receiver.requests.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
      await receiver.respondWith('ok');
      await exporter.flush(Date.now() + 10_000);
      assert.equal(receiver.uploads.length, 1);
      assert.equal(exporter.counters.split, 0);
    } finally {
      await exporter.shutdown(Date.now() + 1000);
      await receiver.close();
    }
  });
});
