// A/B of the profile cut's event-loop stall at RATE req/s (default 1000), open loop, server on core 0, from the checkout:
//   PROFILES=store UPLOAD=2s node bench/ab/stall-run.mjs <rounds> <seconds> <distA|bare> <distB> ...
// 'stall at a cut' = longest setImmediate gap within 0.05-0.85 s after each cut; 'between cuts' = the same-width window before it.
// RT=<priority>: the server runs under SCHED_RR at that priority, so a loaded machine's other processes do not
// preempt it: its long turns are then its own work (the load generator still competes for the other core).
// STAGES=1 also times the cut's synchronous stages (bench/ab/stage-timer.js).
// TRACES=store sends spans to the local store instead of the OTLP sink.
// 'longest own-time turn' = the run's longest turn counted by its own time (wall less time preempted), anywhere.
// OTEL_PYROSCOPE_START_PROFILING=false (passed through) leaves no cut: the longest turns are then the span pipeline's.
// A/B: overhead server under each dist at ~RATE req/s open loop; longest stall of each run; interleaved rounds.
import { spawn } from 'node:child_process';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { medianWithInterval, formatInterval } from '../lib/median-ci.mjs';
const [,, rounds = '3', durationS = '12', ...dists] = process.argv;
const RATE = +(process.env.RATE ?? 1000);
const node = process.execPath;
const sink = http.createServer((req, res) => { req.resume(); req.on('end', () => res.end()); });
await new Promise((r) => sink.listen(0, '127.0.0.1', r));
async function once(dist) {
  const out = `/tmp/stall-${process.pid}-${Math.random()}.json`;
  const env = { ...process.env, STALL_OUT: out, STAGE_OUT: out + '.stages', STAGE_DIST: path.resolve(dist), OTEL_LOG_LEVEL: 'none', PYROSCOPE_UPLOAD_INTERVAL: process.env.UPLOAD ?? '4s',
    OTEL_TRACES_EXPORTER: process.env.TRACES ?? 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sink.address().port}`,
    OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none', OTEL_PROFILES_EXPORTER: process.env.PROFILES ?? 'pyroscope', PYROSCOPE_SERVER_ADDRESS: `http://127.0.0.1:${sink.address().port}`, BENCH_WORK_ITERATIONS: '3000', SPAN_PROFILES_DIR: '/tmp/stall-store' };
  const args = ['--require', './bench/ab/stall-probe.js', ...(dist === 'bare' ? [] : ['--require', `${dist}/register.js`]), ...(process.env.STAGES && dist !== 'bare' ? ['--require', process.env.STAGES === '1' ? './bench/ab/stage-timer.js' : process.env.STAGES] : []), 'bench/workload/overhead-server.js'];
  const child = spawn('taskset', ['-c', '0', ...(process.env.RT ? ['chrt', '-r', process.env.RT, node] : [node]), ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((r) => child.stdout.on('data', (d) => { const m = /"listening":(\d+)/.exec(String(d)); if (m) r(+m[1]); }));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const lat = []; let sent = 0;
  const t0 = performance.now();
  await new Promise((resolve) => {
    const iv = setInterval(() => {
      const due = Math.floor(((performance.now() - t0) / 1000) * RATE);
      while (sent < due) { sent++; const s = performance.now(); http.get({ port, host: '127.0.0.1', path: '/', agent }, (res) => { res.resume(); res.on('end', () => lat.push(performance.now() - s)); }).on('error', () => {}); }
      if (performance.now() - t0 > durationS * 1000) { clearInterval(iv); resolve(); }
    }, 2);
  });
  await new Promise((r) => setTimeout(r, 300));
  if (process.env.STAGES) { child.kill('SIGUSR1'); await new Promise((r) => setTimeout(r, 500)); try { const text = fs.readFileSync(out + '.stages', 'utf8'); console.error('stages', dist, text); const parsed = JSON.parse(text); if (Array.isArray(parsed)) (stagesOf[dist] ??= []).push(...parsed); } catch {} }
  child.kill('SIGUSR2'); for (let i = 0; i < 50 && !fs.existsSync(out); i++) await new Promise((r) => setTimeout(r, 100));
  if (!fs.existsSync(out)) { child.kill('SIGKILL'); agent.destroy(); return null; }
  const res = JSON.parse(fs.readFileSync(out, 'utf8')); fs.unlinkSync(out);
  child.kill('SIGKILL'); agent.destroy();
  lat.sort((a, b) => a - b); res.p99 = lat[Math.floor(lat.length * 0.99)]; res.n = lat.length;
  return res;
}
const stagesOf = {};
const all = Object.fromEntries(dists.map((d) => [d, []]));
const I = parseFloat(process.env.UPLOAD ?? '4');
// Longest gap (wall: column 0, CPU: column 2) in the 0.8 s window 50 ms after each cut, and in the same window 1 s earlier.
function windows(gaps, col) {
  const longest = (lo, hi) => Math.max(0, ...gaps.filter((g) => g[1] >= lo && g[1] < hi).map((g) => g[col] ?? 0));
  const cuts = []; const other = [];
  for (let k = 1; (k * I + 0.6) < +durationS; k++) {
    cuts.push(longest(k * I + 0.05, k * I + 0.85));
    if (k * I - 0.95 > 2.5) other.push(longest(k * I - 0.95, k * I - 0.15));
  }
  return { cuts, other };
}
for (let r = 0; r < +rounds; r++) for (const d of (r % 2 ? [...dists].reverse() : dists)) {
  const x = await once(d); if (!x) continue;
  const wall = windows(x.gaps, 0); const cpu = windows(x.gaps, 2); x.ownMax = Math.max(0, ...x.gaps.map((g) => g[2] ?? 0));
  x.cuts = wall.cuts; x.other = wall.other; x.cpuCuts = cpu.cuts; x.cpuOther = cpu.other; delete x.gaps; all[d].push(x);
  console.error(r, d, JSON.stringify({ cuts: x.cuts, other: x.other, cpuCuts: x.cpuCuts, cpuOther: x.cpuOther, top: x.top.slice(0, 4), p99: x.p99 }));
}
const f = (v) => formatInterval(medianWithInterval(v), 2);
for (const d of dists) {
  const runs = all[d];
  console.log(d.padEnd(22), 'stall at a cut ms', f(runs.flatMap((x) => x.cuts)), ' same window between cuts', f(runs.flatMap((x) => x.other)),
    ' | CPU in the longest turn: at a cut', f(runs.flatMap((x) => x.cpuCuts)), ' between cuts', f(runs.flatMap((x) => x.cpuOther)),
    ' | max stall ms', f(runs.map((x) => x.max)), ' longest own-time turn ms', f(runs.map((x) => x.ownMax)), ' eld max', f(runs.map((x) => x.eld_max)), ' p99 ms', f(runs.map((x) => x.p99)), ' runs', runs.length);
}
for (const d of dists) {
  const stops = stagesOf[d]; if (!stops?.length) continue;
  const keys = Object.keys(stops[0]).filter((k) => typeof stops[0][k] === 'number');
  console.log(d.padEnd(22), 'per stop:', keys.map((k) => `${k} ${f(stops.map((s) => s[k]))}`).join('  '), ' stops', stops.length);
}
sink.close(); process.exit(0);
