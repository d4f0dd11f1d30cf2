'use strict';
// GET /search: nested manual spans and a Promise.all fan-out over four shards, each in its own
// child span, with awaits between the CPU stretches.
const { trace } = require('@opentelemetry/api');
const { setTimeout: sleep } = require('node:timers/promises');
const { spendCpu } = require('../cpu-budget');

const tracer = trace.getTracer('bench-workload');
const SHARDS = 4;
let sink = 0;

function searchPlanQuery() {
  let acc = 0;
  for (let i = 1; i < 2500; i++) acc += Math.sqrt(i) * Math.sin(i * 0.7);
  sink = (sink + acc) % 1e9;
}

function searchScanShard() {
  let acc = 0;
  for (let i = 1; i < 2500; i++) acc += Math.log1p(i) * Math.cos(i * 1.1);
  sink = (sink + acc) % 1e9;
}

function searchRankHits() {
  let acc = 0;
  for (let i = 1; i < 2500; i++) acc += Math.hypot(i, acc % 7) * 1e-3;
  sink = (sink + acc) % 1e9;
}

function searchMergeResults() {
  let acc = 0;
  for (let i = 1; i < 2500; i++) acc += Math.cbrt(i) * Math.sin(i * 0.2);
  sink = (sink + acc) % 1e9;
}

async function scanShard(shard, entry, micros) {
  return tracer.startActiveSpan('search.shard', async (span) => {
    try {
      await sleep(shard % 2);
      spendCpu(micros * 0.15, searchScanShard, entry);
      await Promise.resolve();
      spendCpu(micros * 0.05, searchRankHits, entry);
    } finally {
      span.end();
    }
  });
}

async function handleSearch(entry, micros) {
  await tracer.startActiveSpan('search.plan', async (span) => {
    try {
      spendCpu(micros * 0.1, searchPlanQuery, entry);
      await null;
    } finally {
      span.end();
    }
  });
  await Promise.all(Array.from({ length: SHARDS }, (_, shard) => scanShard(shard, entry, micros)));
  spendCpu(micros * 0.1, searchMergeResults, entry);
}

module.exports = {
  path: '/search',
  handle: handleSearch,
  functions: [searchPlanQuery, searchScanShard, searchRankHits, searchMergeResults].map((fn) => fn.name),
  sink: () => sink,
};
