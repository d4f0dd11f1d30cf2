'use strict';
// GET /report: a stream pipeline (async generator -> Transform -> Writable) with CPU in the
// transform and write callbacks, then a zlib thread-pool callback.
const { Readable, Transform, Writable } = require('node:stream');
const { pipeline } = require('node:stream/promises');
const { setTimeout: sleep } = require('node:timers/promises');
const zlib = require('node:zlib');
const { spendCpu } = require('../cpu-budget');

const ROWS = 16;
let sink = 0;

function reportFormatRow() {
  let acc = 0;
  for (let i = 1; i < 2500; i++) acc += Math.sin(i * 0.9) * Math.sqrt(i + 3);
  sink = (sink + acc) % 1e9;
}

function reportCollectChunk() {
  let acc = 0;
  for (let i = 1; i < 2500; i++) acc += Math.cos(i * 0.05) * Math.log2(i + 1);
  sink = (sink + acc) % 1e9;
}

function reportSummarize() {
  let acc = 0;
  for (let i = 1; i < 2500; i++) acc += Math.tanh(i * 1e-3) * Math.sqrt(i * 2);
  sink = (sink + acc) % 1e9;
}

async function* generateRows(count) {
  for (let row = 0; row < count; row++) {
    if (row % 4 === 0) await sleep(0);
    yield { row, value: row * 31 };
  }
}

async function handleReport(entry, micros) {
  const lines = [];
  await pipeline(
    Readable.from(generateRows(ROWS)),
    new Transform({
      objectMode: true,
      transform(row, _encoding, callback) {
        spendCpu((micros * 0.5) / ROWS, reportFormatRow, entry);
        callback(null, `${JSON.stringify(row)}\n`);
      },
    }),
    new Writable({
      objectMode: true,
      write(line, _encoding, callback) {
        spendCpu((micros * 0.2) / ROWS, reportCollectChunk, entry);
        lines.push(line);
        setImmediate(callback);
      },
    }),
  );
  await new Promise((resolve, reject) => {
    zlib.deflate(lines.join(''), (err, compressed) => {
      if (err) return reject(err);
      spendCpu(micros * 0.3, reportSummarize, entry);
      resolve(compressed);
    });
  });
}

module.exports = {
  path: '/report',
  handle: handleReport,
  functions: [reportFormatRow, reportCollectChunk, reportSummarize].map((fn) => fn.name),
  sink: () => sink,
};
