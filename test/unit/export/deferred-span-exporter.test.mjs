// The span exporter built at its first export: nothing is built before spans come, a process that ends
// without spans never builds it, and a build failure is told once and fails each batch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { ExportResultCode } from '@opentelemetry/core';

const require = createRequire(import.meta.url);
const { DeferredSpanExporter } = require('../../../dist/export/deferred-span-exporter.js');

function recordingExporter() {
  const calls = [];
  return {
    calls,
    export(spans, done) {
      calls.push(['export', spans.length]);
      done({ code: ExportResultCode.SUCCESS });
    },
    async shutdown() {
      calls.push(['shutdown']);
    },
    async forceFlush() {
      calls.push(['forceFlush']);
    },
  };
}

test('built at the first export, once; results and calls pass through', async () => {
  let builds = 0;
  const real = recordingExporter();
  const exporter = new DeferredSpanExporter(() => (builds++, real), () => assert.fail('no error expected'));
  assert.equal(builds, 0);
  await exporter.forceFlush();
  assert.equal(builds, 0, 'a flush with nothing exported builds nothing');
  const results = [];
  exporter.export([{}, {}], (r) => results.push(r.code));
  exporter.export([{}], (r) => results.push(r.code));
  assert.equal(builds, 1);
  assert.deepEqual(results, [ExportResultCode.SUCCESS, ExportResultCode.SUCCESS]);
  await exporter.forceFlush();
  await exporter.shutdown();
  assert.deepEqual(real.calls, [['export', 2], ['export', 1], ['forceFlush'], ['shutdown']]);
});

test('a process without spans never builds it: shutdown resolves without it', async () => {
  let builds = 0;
  const exporter = new DeferredSpanExporter(() => (builds++, recordingExporter()), () => undefined);
  await exporter.shutdown();
  assert.equal(builds, 0);
});

test('a build that throws is reported once; every batch then fails as an unreachable backend would', () => {
  const errors = [];
  const exporter = new DeferredSpanExporter(
    () => {
      throw new Error('bad exporter');
    },
    (err) => errors.push(err.message),
  );
  const results = [];
  exporter.export([{}], (r) => results.push(r));
  exporter.export([{}], (r) => results.push(r));
  assert.deepEqual(errors, ['bad exporter']);
  assert.equal(results.length, 2);
  for (const r of results) {
    assert.equal(r.code, ExportResultCode.FAILED);
    assert.ok(r.error instanceof Error);
  }
});
