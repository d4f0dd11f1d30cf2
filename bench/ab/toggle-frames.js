'use strict';
// In-process A/B of the pooled-connection frame path (src/linking/operation-context.ts): `--require` it after
// the agent (`--require <dist>/register.js --require bench/ab/toggle-frames.js app.js`, e.g. bench/ab/pg-app.js
// against a filled PostgreSQL) and drive load. After WARMUP_MS (2000) it turns the frame path off and on every
// PHASE_MS (1000): off, replies run with `context.with` (two frames, two native sample-context sets when the
// span changes), as before the frame path. On SIGUSR2 it prints one JSON line: CPU per request of every
// phase, and the ratio on ÷ off per pair of phases with its median and distribution-free 95 % interval.
// Phases serving 50 requests or fewer are left out.
const http = require('node:http');
const path = require('node:path');

const register = process.execArgv.find((arg, i) => i > 0 && process.execArgv[i - 1] === '--require' && arg.endsWith('register.js'));
if (register === undefined) throw new Error('toggle-frames.js: run it after --require <dist>/register.js');
const operations = require(path.join(path.dirname(register), 'linking', 'operation-context.js'));

const PHASE_MS = Number(process.env.PHASE_MS ?? 1000);
let requests = 0;
const emit = http.Server.prototype.emit;
http.Server.prototype.emit = function (event, ...args) {
  if (event === 'request') requests++;
  return emit.call(this, event, ...args);
};

const phases = [];
let on = true;
let cpu = process.cpuUsage();
let seen = 0;
setTimeout(() => {
  cpu = process.cpuUsage();
  seen = requests;
  setInterval(() => {
    const used = process.cpuUsage(cpu);
    phases.push({ on, requests: requests - seen, cpuUsPerRequest: (used.user + used.system) / (requests - seen) });
    on = !on;
    operations.setFramesCarrySampleContext(on);
    cpu = process.cpuUsage();
    seen = requests;
  }, PHASE_MS).unref();
}, Number(process.env.WARMUP_MS ?? 2000)).unref();

/** Median and the order statistics around it that cover it with >= 95 % (binomial, as bench/lib/median-ci.mjs). */
function medianWithInterval(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const median = n % 2 ? sorted[n >> 1] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  const cdf = (k) => {
    let sum = 0;
    let term = 0.5 ** n;
    for (let i = 0; i <= k; i++) {
      sum += term;
      term = (term * (n - i)) / (i + 1);
    }
    return sum;
  };
  let k = 0;
  while (k + 1 <= n && cdf(k) <= 0.025) k++;
  return k === 0 ? { median, low: sorted[0], high: sorted[n - 1], n } : { median, low: sorted[k - 1], high: sorted[n - k], n };
}

process.on('SIGUSR2', () => {
  const ratios = [];
  for (let i = 0; i + 1 < phases.length; i += 2) {
    const [a, b] = [phases[i], phases[i + 1]];
    if (a.requests <= 50 || b.requests <= 50) continue;
    ratios.push(a.on ? a.cpuUsPerRequest / b.cpuUsPerRequest : b.cpuUsPerRequest / a.cpuUsPerRequest);
  }
  const round = (x) => Math.round(x);
  console.error(
    JSON.stringify({
      onOverOff: ratios.length > 0 ? medianWithInterval(ratios) : null,
      onCpuUsPerRequest: phases.filter((p) => p.on).map((p) => round(p.cpuUsPerRequest)),
      offCpuUsPerRequest: phases.filter((p) => !p.on).map((p) => round(p.cpuUsPerRequest)),
    }),
  );
  process.exit(0);
});
