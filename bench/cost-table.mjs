#!/usr/bin/env node
// `node bench/cost-table.mjs <results.json> [<results.json>...]`: the README's "What it costs" table, in Markdown,
// from the overhead section of bench runs (so the README is redone from the bench's own output, not by hand).
// With several files, a workload found in a later file replaces the earlier file's (a workload re-run alone).
// Every figure is the median over rounds with its 95 % interval; `~` marks one inside the noise.
import { readFileSync } from 'node:fs';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node bench/cost-table.mjs <bench/results/….json> [<bench/results/….json>...]');
  process.exit(2);
}
const workloads = {};
for (const file of files) {
  const overhead = JSON.parse(readFileSync(file, 'utf8')).sections?.overhead;
  if (!overhead?.workloads) {
    console.error(`${file} has no overhead section`);
    process.exit(1);
  }
  Object.assign(workloads, overhead.workloads);
}

const CONFIGS = ['otel', 'tracingOnly', 'agent'];
const WORKLOAD_NAMES = { http: 'plain `node:http`', express: 'async-heavy Express', pg: '`pg` on PostgreSQL' };

const num = (v, digits) => v.toFixed(digits);
const stat = (s, digits, unit = '') =>
  s ? `${num(s.median, digits)}${unit} [${num(s.low, digits)}, ${num(s.high, digits)}]${s.exact ? '' : '*'}${s.insideNoise ? ' ~' : ''}` : 'n/a';
const signed = (s, digits, unit = '') => {
  if (!s) return 'n/a';
  const f = (v) => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(digits)}`;
  return `${f(s.median)}${unit} [${f(s.low)}, ${f(s.high)}]${s.exact ? '' : '*'}${s.insideNoise ? ' ~' : ''}`;
};

const lines = ['| workload | figure | OpenTelemetry alone | span-profiles, profiler off | span-profiles |', '|---|---|---|---|---|'];
for (const [id, w] of Object.entries(workloads)) {
  if (!w.summary) {
    lines.push(`| ${WORKLOAD_NAMES[id] ?? id} | ${w.skipped ? `skipped: ${w.skipped}` : `failed: ${w.error}`} | | | |`);
    continue;
  }
  const s = w.summary;
  // A time in ms, and for span-profiles its difference from OpenTelemetry alone in the same rounds.
  const msVsOtel = (key, digits) => (c, id) =>
    id === 'otel' ? stat(c[key], digits, ' ms') : `${stat(c[key], digits, ' ms')}; ${signed(c[`${key}Minus_otel`], digits)} vs OTel`;
  const row = (figure, cell) => lines.push(`| ${figure.startsWith('CPU per request ÷ bare') ? `**${WORKLOAD_NAMES[id] ?? id}** (${w.rounds} rounds)` : ''} | ${figure} | ${CONFIGS.map((c) => cell(s[c], c)).join(' | ')} |`);
  row(`CPU per request ÷ bare (bare: ${num(s.bare.cpuMicrosPerRequest.median, 0)} µs)`, (c) => stat(c.cpuMicrosPerRequestVs_bare, 2));
  row('CPU per request ÷ OpenTelemetry alone', (c, id) => (id === 'otel' ? '1' : `**${stat(c.cpuMicrosPerRequestVs_otel, 2)}**`));
  row(`throughput ÷ bare (bare: ${num(s.bare.requestsPerSecond.median, 0)} req/s)`, (c) => stat(c.requestsPerSecondVs_bare, 2));
  row('throughput ÷ OpenTelemetry alone', (c, id) => (id === 'otel' ? '1' : stat(c.requestsPerSecondVs_otel, 2)));
  row(`p99 at 1,000 req/s (bare: ${num(s.bare.p99Ms.median, 2)} ms)`, msVsOtel('p99Ms', 2));
  row(`longest event-loop stall (bare: ${num(s.bare.longestStallMs.median, 1)} ms)`, (c, id) =>
    `${stat(c.longestStallMs, 1, ' ms')}, max ${num(c.maxStallMs, 1)}${id === 'otel' ? '' : `; ${signed(c.longestStallMsMinus_otel, 1)} vs OTel`}`,
  );
  // The longest stall split into the turn's own work and V8's collections (older results have neither).
  if (s.otel.longestOutsideGcMs) {
    row(`longest stall outside GC (bare: ${num(s.bare.longestOutsideGcMs.median, 1)} ms)`, msVsOtel('longestOutsideGcMs', 1));
    row(`longest GC pause (bare: ${num(s.bare.longestGcPauseMs.median, 1)} ms)`, msVsOtel('longestGcPauseMs', 1));
  }
  row(`peak RSS (bare: ${num(s.bare.peakRssMb.median, 0)} MB)`, (c, id) =>
    id === 'otel' ? stat(c.peakRssMb, 0, ' MB') : `${stat(c.peakRssMb, 0, ' MB')}; ${stat(c.peakRssMbVs_otel, 2)} of OTel`,
  );
  // What the peak RSS is made of (older results have no such figures: the row is left out).
  if (s.otel.youngGenMb) {
    row(`V8 young generation, old space used (bare: ${num(s.bare.youngGenMb.median, 0)}, ${num(s.bare.oldUsedMb.median, 0)} MB)`, (c) => `${num(c.youngGenMb.median, 0)} MB, ${num(c.oldUsedMb.median, 0)} MB`);
  }
}
console.log(lines.join('\n'));
