// The store's one-pass OTLP/JSON spans lines (store/write/span-json.ts) against what the store wrote
// before: upstream's JsonTraceSerializer for the spans line and the batch-wise index writer
// (test/helpers/roots-index-reference.mjs) for the index line. The
// text is compared exactly, and the store's reader (readSpansFile, readRootsFile) reads files of both
// writers to the same spans.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { everyFieldSpans, httpSpans } from '../../../helpers/finished-spans.mjs';
import { rootsIndexLine } from '../../../helpers/roots-index-reference.mjs';

const require = createRequire(import.meta.url);
const { storeLines, storeLinesOfSpans, STORE_SPAN_ENCODING } = require('../../../../dist/store/write/span-json.js');
const { EncodedSpanQueue } = require('../../../../dist/export/encoded-spans.js');
const { compressFrame } = require('../../../../dist/store/compression.js');
const { readSpansFile, readRootsFile } = require('../../../../dist/store/read/reader.js');
const { JsonTraceSerializer } = require('@opentelemetry/otlp-transformer');

const scratch = mkdtempSync(path.join(tmpdir(), 'span-profiles-span-json-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function upstreamLines(spans) {
  return { spans: Buffer.from(JsonTraceSerializer.serializeRequest(spans)).toString() + '\n', roots: rootsIndexLine(spans, 4242) + '\n' };
}

function batchLines(spans) {
  const queue = new EncodedSpanQueue(STORE_SPAN_ENCODING);
  for (const span of spans) queue.push(span);
  const lines = storeLines(queue.take(spans.length), 4242);
  return { spans: lines.spans.toString(), roots: lines.roots.toString() };
}

test('spans encoded as they end: the same spans line and roots-index line as before, character for character', () => {
  for (const spans of [httpSpans(50), everyFieldSpans(), []]) {
    const expected = upstreamLines(spans);
    assert.equal(batchLines(spans).spans, expected.spans);
    assert.equal(batchLines(spans).roots, expected.roots);
    const direct = storeLinesOfSpans(spans, 4242);
    assert.equal(direct.spans.toString(), expected.spans);
    assert.equal(direct.roots.toString(), expected.roots);
  }
});

test("the store's reader reads both writers' files to the same spans", async () => {
  const spans = [...httpSpans(20), ...everyFieldSpans()];
  const serviceDir = path.join(scratch, 'encoder-test');
  const read = async (lines, name) => {
    const spansFile = path.join(scratch, `20261206T210000.000Z_4242.${name}.spans.jsonl.zst`);
    const rootsFile = path.join(scratch, `20261206T210000.000Z_4242.${name}.roots.jsonl.zst`);
    writeFileSync(spansFile, await compressFrame(Buffer.from(lines.spans)));
    writeFileSync(rootsFile, await compressFrame(Buffer.from(lines.roots)));
    return { spans: await readSpansFile(spansFile, serviceDir), roots: await readRootsFile(rootsFile, serviceDir) };
  };
  const ours = await read(batchLines(spans), 'ours');
  const upstream = await read(upstreamLines(spans), 'upstream');
  assert.equal(ours.spans.spans.length, spans.length);
  assert.deepEqual(ours.spans.problems, []);
  assert.deepEqual(ours.roots.problems, []);
  assert.ok(ours.roots.spans.some((s) => s.profileId === '0123456789abcdef' && s.attributes['url.path'] === '/orders/7'));
  assert.deepEqual(ours.spans.spans, upstream.spans.spans);
  assert.deepEqual(ours.roots.spans, upstream.roots.spans);
});
