// The agent's event-loop stall at its profile cuts, measured on a shared machine (see span-loop-app.js): interleaved
// A/B of builds, the app making RATE root spans per second itself, the stall probe noting every turn over 1 ms with
// its wall time and the main thread's CPU. Per cut: the longest turn in the 0.8 s window 50 ms after the cut; the same
// window 1 s earlier is the floor. CPU per turn does not count time the thread was preempted by other processes.
//   UPLOAD=2s node bench/ab/cut-stall.mjs <rounds> <seconds> <distA> <distB> ...
// EXTRA=./bench/ab/stage-timer.js prints each synchronous stage of the cut. TRACES=none: no span export (its batches are long turns of their own). EXTRA=<preload> adds a preload after the agent (e.g. bench/ab/stop-split.js; it prints per-stop parts).
import { spawn } from 'node:child_process';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { medianWithInterval, formatInterval } from '../lib/median-ci.mjs';
const [,, rounds = '3', durationS = '12', ...dists] = process.argv;
const node = process.execPath;
const I = parseFloat(process.env.UPLOAD ?? '2');
const sink = http.createServer((req, res) => { req.resume(); req.on('end', () => res.end()); });
await new Promise((r) => sink.listen(0, '127.0.0.1', r));
async function once(dist) {
  const out = `/tmp/cut-stall-${process.pid}-${Math.random()}.json`;
  const env = { ...process.env, STALL_OUT: out, STAGE_OUT: out + '.stages', STAGE_DIST: path.resolve(dist), OTEL_LOG_LEVEL: 'none', PYROSCOPE_UPLOAD_INTERVAL: `${I}s`,
    OTEL_TRACES_EXPORTER: process.env.TRACES ?? 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sink.address().port}`,
    OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none', OTEL_PROFILES_EXPORTER: process.env.PROFILES ?? 'store', PYROSCOPE_SERVER_ADDRESS: `http://127.0.0.1:${sink.address().port}`,
    BENCH_WORK_ITERATIONS: process.env.BENCH_WORK_ITERATIONS ?? '3000', SPAN_PROFILES_DIR: `/tmp/cut-stall-store-${process.pid}` };
  const args = ['--require', './bench/ab/stall-probe.js', ...(dist === 'bare' ? [] : ['--require', `${dist}/register.js`]), ...(process.env.EXTRA ? ['--require', process.env.EXTRA] : []), 'bench/ab/span-loop-app.js'];
  const child = spawn('taskset', ['-c', '0', node, ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    child.stdout.once('data', resolve);
    child.once('exit', (code) => reject(new Error(`${dist}: the app exited (${code}) before it started`)));
  });
  await new Promise((r) => setTimeout(r, durationS * 1000));
  let stops = [];
  if (process.env.EXTRA) { child.kill('SIGUSR1'); await new Promise((r) => setTimeout(r, 300)); try { stops = JSON.parse(fs.readFileSync(out + '.stages', 'utf8')); fs.unlinkSync(out + '.stages'); } catch {} }
  child.kill('SIGUSR2'); for (let i = 0; i < 50 && !fs.existsSync(out); i++) await new Promise((r) => setTimeout(r, 100));
  if (!fs.existsSync(out)) { child.kill('SIGKILL'); return null; }
  const res = JSON.parse(fs.readFileSync(out, 'utf8')); fs.unlinkSync(out);
  child.kill('SIGKILL');
  res.stages = Array.isArray(stops) ? {} : stops;
  res.stageLog = res.stages.__log ?? []; delete res.stages.__log;
  res.stops = Array.isArray(stops) ? stops : [];
  return res;
}
function windows(gaps, col) {
  const longest = (lo, hi) => Math.max(0, ...gaps.filter((g) => g[1] >= lo && g[1] < hi).map((g) => g[col] ?? 0));
  const cuts = []; const other = [];
  for (let k = 1; (k * I + 0.6) < +durationS; k++) {
    cuts.push(longest(k * I + 0.05, k * I + 0.85));
    if (k * I - 0.95 > 2.5) other.push(longest(k * I - 0.95, k * I - 0.15));
  }
  return { cuts, other };
}
// What the longest turn (by CPU) of each cut's window held: the stages (stage-timer.js) that ran inside it.
function heldByLongest(x) {
  if (!x.stageLog?.length || x.t0 === undefined) return [];
  const held = [];
  for (let k = 1; (k * I + 0.6) < +durationS; k++) {
    const inWindow = x.gaps.filter((g) => g[1] >= k * I + 0.05 && g[1] < k * I + 0.85);
    if (inWindow.length === 0) continue;
    const [g, t, c] = inWindow.reduce((a, b) => ((b[2] ?? 0) > (a[2] ?? 0) ? b : a));
    const end = x.t0 + t * 1000; const start = end - g;
    const inside = x.stageLog.filter(([, d, s]) => s >= start - 0.5 && s + d <= end + 0.5);
    held.push({ cpu: c, stages: inside.map(([l, d]) => `${l} ${d.toFixed(2)}`) });
  }
  return held;
}
const all = Object.fromEntries(dists.map((d) => [d, []]));
for (let r = 0; r < +rounds; r++) for (const d of (r % 2 ? [...dists].reverse() : dists)) {
  const x = await once(d); if (!x) continue;
  const wall = windows(x.gaps, 0); const cpu = windows(x.gaps, 2);
  const y = { wall, cpu, stops: x.stops, stages: x.stages, eld_max: x.eld_max, held: heldByLongest(x) };
  all[d].push(y);
  console.error(r, d, JSON.stringify({ cpuCuts: cpu.cuts, cpuOther: cpu.other, wallCuts: wall.cuts, wallOther: wall.other }));
}
const f = (v) => formatInterval(medianWithInterval(v), 2);
for (const d of dists) {
  const runs = all[d];
  console.log(`${d}: runs ${runs.length}, cuts ${runs.flatMap((x) => x.cpu.cuts).length}`);
  console.log('  longest turn at a cut:      CPU ms', f(runs.flatMap((x) => x.cpu.cuts)), '  wall ms', f(runs.flatMap((x) => x.wall.cuts)));
  console.log('  longest turn between cuts:  CPU ms', f(runs.flatMap((x) => x.cpu.other)), '  wall ms', f(runs.flatMap((x) => x.wall.other)));
  const stops = runs.flatMap((x) => x.stops);
  if (stops.length) {
    const keys = Object.keys(stops[0]).filter((k) => typeof stops[0][k] === 'number');
    console.log('  per stop:', keys.map((k) => `${k} ${f(stops.map((s) => s[k]))}`).join('  '), ' stops', stops.length);
  }
  const stages = {};
  for (const x of runs) for (const [k, v] of Object.entries(x.stages ?? {})) (stages[k] ??= []).push(...v);
  for (const [k, v] of Object.entries(stages)) console.log(`  stage ${k.padEnd(30)} median ${f(v)}  max ${Math.max(...v).toFixed(2)}  n ${v.length}`);
  const held = runs.flatMap((x) => x.held ?? []);
  if (held.length) {
    // Outermost stages only would double-count nothing; list what each longest turn held, longest first.
    console.log('  longest turn of each cut (CPU ms): stages inside it');
    for (const h of held.sort((a, b) => b.cpu - a.cpu)) console.log(`    ${h.cpu.toFixed(2)}: ${h.stages.join(', ') || '(no stage of the cut)'}`);
  }
}
sink.close(); process.exit(0);
