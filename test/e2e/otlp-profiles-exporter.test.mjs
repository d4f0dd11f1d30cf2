// The OTLP profiles exporter in process, against a local receiver: the request it sends (path, headers,
// body decoded by protobufjs), the traces' Resource, partial success reported, an empty cut not sent,
// and the raw cut shared with another destination left as it was.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { startOtlpProfilesReceiver } from '../helpers/otlp-profiles-receiver.mjs';
import { otlpProfilesTypes } from '../helpers/otlp-profiles.mjs';

const require = createRequire(import.meta.url);
const { OtlpProfilesExporter } = require('../../dist/export/otlp-profiles.js');
const { SAMPLE_TIME_LABEL } = require('../../dist/profile-format.js');
const { getLogger } = require('../../dist/logger.js');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { Profile, StringTable, ValueType, Sample, Label, Location, Line, Function: PprofFunction } = require('pprof-format');

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

/** A raw cut with `ticks` CPU ticks of one stack under one span. */
function cut(ticks = 3) {
  const strings = new StringTable();
  const fn = new PprofFunction({ id: 1, name: strings.dedup('handler'), filename: strings.dedup('/app/h.js') });
  const label = (k, v) => (typeof v === 'number' ? new Label({ key: strings.dedup(k), num: v }) : new Label({ key: strings.dedup(k), str: strings.dedup(v) }));
  const t0 = 1_750_000_000_000;
  const raw = new Profile({
    sampleType: ['sample', 'wall', 'cpu'].map((type, i) => new ValueType({ type: strings.dedup(type), unit: strings.dedup(i ? 'nanoseconds' : 'count') })),
    sample: Array.from({ length: ticks }, (_, i) =>
      new Sample({
        locationId: [1],
        value: [1, 10e6, 10e6],
        label: [label('span_id', '00f067aa0ba902b7'), label('trace_id', '4bf92f3577b34da6a3ce929d0e0e4736'), label(SAMPLE_TIME_LABEL, (t0 + i * 10) * 1e6)],
      }),
    ),
    location: [new Location({ id: 1, line: [new Line({ functionId: 1 })] })],
    function: [fn],
    stringTable: strings,
  });
  return { raw, startMs: t0, endMs: t0 + 1000, intervalMicros: 10_000, wall: false };
}

const resource = resourceFromAttributes({ 'service.name': 'exporter-test', 'service.instance.id': 'i-1' });
const options = (receiver, extra = {}) => ({
  url: receiver.profilesUrl,
  protocol: 'http/protobuf',
  compression: 'none',
  timeoutMs: 2000,
  queueSize: 4,
  resource,
  retry: { maxAttempts: 2, initialBackoffMs: 10, maxBackoffMs: 10 },
  ...extra,
});

test('one POST to the signal URL: protobuf, the Resource, the link, per-tick timestamps; the cut left unchanged', async () => {
  const receiver = await startOtlpProfilesReceiver();
  try {
    const exporter = new OtlpProfilesExporter(options(receiver, { headers: { 'X-Api-Key': 'k3y' } }));
    assert.equal(exporter.description, `otlp http/protobuf ${receiver.profilesUrl}`);
    const shared = cut();
    const before = Buffer.from(shared.raw.encode());
    exporter.export(shared);
    await exporter.shutdown(Date.now() + 5000);
    assert.deepEqual(Buffer.from(shared.raw.encode()), before);
    assert.equal(receiver.uploads.length, 1);
    const [upload] = receiver.uploads;
    assert.equal(upload.headers['x-api-key'], 'k3y');
    assert.match(upload.headers['user-agent'], /^@acme\/span-profiles\/\d/);
    const [profile] = upload.profiles;
    assert.deepEqual(profile.resource, { 'service.name': 'exporter-test', 'service.instance.id': 'i-1' });
    assert.equal(profile.samples.length, 1);
    assert.deepEqual(profile.samples[0].labels, { span_id: '00f067aa0ba902b7', trace_id: '4bf92f3577b34da6a3ce929d0e0e4736' });
    assert.equal(profile.samples[0].timestamps.length, 3);
    assert.deepEqual(exporter.counters, { sent: 1, failed: 0, dropped: 0, retried: 0, split: 0 });
  } finally {
    await receiver.close();
  }
});

test('a partial success is reported with the server\'s message; the upload counts as sent', async () => {
  const receiver = await startOtlpProfilesReceiver();
  try {
    const { response } = otlpProfilesTypes();
    const body = Buffer.from(response.encode(response.fromObject({ partialSuccess: { rejectedProfiles: 1, errorMessage: 'wall profile dropped' } })).finish());
    await receiver.respondWith({ status: 200, body, headers: { 'content-type': 'application/x-protobuf' } });
    const lines = await withLogLines(async () => {
      const exporter = new OtlpProfilesExporter(options(receiver));
      exporter.export(cut());
      await exporter.shutdown(Date.now() + 5000);
      assert.equal(exporter.counters.sent, 1);
    });
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0], /otlp http\/protobuf .*: the server rejected 1 profile\(s\) of an upload: wall profile dropped/);

    await receiver.respondWith({ status: 200, body: JSON.stringify({ partialSuccess: { rejectedProfiles: '2', errorMessage: 'too old' } }), headers: { 'content-type': 'application/json' } });
    const jsonLines = await withLogLines(async () => {
      const exporter = new OtlpProfilesExporter(options(receiver, { protocol: 'http/json' }));
      exporter.export(cut());
      await exporter.shutdown(Date.now() + 5000);
    });
    assert.match(jsonLines.join('\n'), /rejected 2 profile\(s\) of an upload: too old/);
  } finally {
    await receiver.close();
  }
});

test('an empty cut sends nothing; an invalid URL is refused without its credentials', async () => {
  const receiver = await startOtlpProfilesReceiver();
  try {
    const exporter = new OtlpProfilesExporter(options(receiver));
    exporter.export(cut(0));
    await exporter.shutdown(Date.now() + 2000);
    assert.equal(receiver.requests.length, 0);
    assert.throws(
      () => new OtlpProfilesExporter(options(receiver, { url: 'ftp://user:s3cret@host/x' })),
      (err) => /is not an http:\/\/ or https:\/\/ URL/.test(err.message) && !err.message.includes('s3cret'),
    );
  } finally {
    await receiver.close();
  }
});

test('span names are bounded per process as for Pyroscope: later names under the overflow name, links kept, one warning', async () => {
  const receiver = await startOtlpProfilesReceiver();
  try {
    const strings = new StringTable();
    const label = (k, v) => (typeof v === 'number' ? new Label({ key: strings.dedup(k), num: v }) : new Label({ key: strings.dedup(k), str: strings.dedup(v) }));
    const t0 = 1_750_000_000_000;
    const spans = Array.from({ length: 5 }, (_, i) => ({ spanId: `00f067aa0ba902b${i}`, traceId: `4bf92f3577b34da6a3ce929d0e0e473${i}`, name: `GET /items/${i}` }));
    const raw = new Profile({
      sampleType: ['sample', 'wall', 'cpu'].map((type, i) => new ValueType({ type: strings.dedup(type), unit: strings.dedup(i ? 'nanoseconds' : 'count') })),
      sample: spans.map((s, i) =>
        new Sample({ locationId: [1], value: [1, 10e6, 10e6], label: [label('span_id', s.spanId), label('trace_id', s.traceId), label('span_name', s.name), label(SAMPLE_TIME_LABEL, (t0 + i * 10) * 1e6)] }),
      ),
      location: [new Location({ id: 1, line: [new Line({ functionId: 1 })] })],
      function: [new PprofFunction({ id: 1, name: strings.dedup('handler'), filename: strings.dedup('/app/h.js') })],
      stringTable: strings,
    });
    const lines = await withLogLines(async () => {
      const exporter = new OtlpProfilesExporter(options(receiver, { maxSpanNames: 2 }));
      exporter.export({ raw, startMs: t0, endMs: t0 + 1000, intervalMicros: 10_000, wall: false });
      await exporter.shutdown(Date.now() + 5000);
    });
    const [profile] = receiver.uploads[0].profiles;
    const sent = profile.samples.map((s) => [s.labels.span_id, s.labels.trace_id, s.labels.span_name]).sort();
    assert.deepEqual(sent, spans.map((s, i) => [s.spanId, s.traceId, i < 2 ? s.name : '(other span names)']).sort());
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0], /more than 2 distinct span names .*Pyroscope's OTLP ingest makes it a series.*"\(other span names\)"/);
  } finally {
    await receiver.close();
  }
});
