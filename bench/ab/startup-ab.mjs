// A/B of two builds' start-up (run from the checkout): node bench/ab/startup-ab.mjs <rounds> <distA> <distB>
// Interleaved A/B start-up: node --require <dist>/register.js -e 0, wall ms + peak RSS (/usr/bin/time %M).
import { spawnSync } from 'node:child_process';
import { medianWithInterval, formatInterval } from '../lib/median-ci.mjs';
const [,, rounds = '15', ...dists] = process.argv;
const node = process.execPath;
const res = Object.fromEntries(dists.map((d) => [d, { wall: [], rss: [], cpu: [] }]));
for (let r = -1; r < +rounds; r++) {
  const order = r % 2 ? dists : [...dists].reverse();
  for (const d of order) {
    const t0 = performance.now();
    const p = spawnSync('/usr/bin/time', ['-f', '%M %U %S', node, '--require', `${d}/register.js`, '-e', '0'], { encoding: 'utf8', env: { ...process.env, OTEL_LOG_LEVEL: 'none' } });
    const wall = performance.now() - t0;
    const [m, u, s] = p.stderr.trim().split('\n').pop().split(' ').map(Number); const rss = m / 1024; const cpu = (u + s) * 1000;
    if (r >= 0) { res[d].wall.push(wall); res[d].rss.push(rss); res[d].cpu.push(cpu); }
  }
}
for (const d of dists) console.log(d.padEnd(30), 'wall ms', formatInterval(medianWithInterval(res[d].wall)), ' peak RSS MB', formatInterval(medianWithInterval(res[d].rss)), ' cpu ms', formatInterval(medianWithInterval(res[d].cpu), 0));
