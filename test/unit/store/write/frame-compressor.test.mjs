// One long-lived zstd stream, one whole frame per call (store/write/frame-compressor.ts): every output is a
// complete zstd frame that decompresses alone to its input, frames come out in call order even when calls
// overlap, a file of them reads back through the store's reader path, and it works again after close().
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import zlib from 'node:zlib';

const require = createRequire(import.meta.url);
const { FrameCompressor } = require('../../../../dist/store/write/frame-compressor.js');
const { splitZstdFrames, decompressTolerant, zstdAvailable } = require('../../../../dist/store/compression.js');

const inputs = [
  Buffer.from('{"resourceSpans":[]}\n'),
  Buffer.from(JSON.stringify({ spans: Array.from({ length: 2000 }, (_, i) => ({ i, name: `span ${i} ü` })) }) + '\n'),
  Buffer.alloc(300_000, 'abcdefghij'),
  Buffer.from('x'),
];

test('each call gives one whole frame of its input, in call order, from overlapping calls', { skip: !zstdAvailable }, async () => {
  const compressor = new FrameCompressor();
  const frames = await Promise.all(inputs.map((input) => compressor.compress(input)));
  for (let i = 0; i < inputs.length; i++) {
    const split = splitZstdFrames(frames[i]);
    assert.equal(split.complete, true);
    assert.equal(split.frames.length, 1);
    assert.deepEqual(zlib.zstdDecompressSync(frames[i]), inputs[i]);
  }
  const file = await decompressTolerant(Buffer.concat(frames));
  assert.equal(file.truncated, false);
  assert.deepEqual(file.data, Buffer.concat(inputs));
  compressor.close();
  const again = await compressor.compress(inputs[1]);
  assert.deepEqual(zlib.zstdDecompressSync(again), inputs[1]);
  compressor.close();
});

test('an empty input is still a frame', async () => {
  const compressor = new FrameCompressor();
  const frame = await compressor.compress(Buffer.alloc(0));
  assert.ok(frame.length > 0);
  assert.deepEqual((await decompressTolerant(frame)).data, Buffer.alloc(0));
  compressor.close();
});
