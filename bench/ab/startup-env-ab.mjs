// Start-up A/B with the peers' environment: `node [preload] -e <code>`, interleaved (order alternating
// per round), wall ms (spawn to exit), CPU ms and peak RSS (/usr/bin/time), median [95 % interval].
//   node bench/ab/startup-env-ab.mjs <rounds> <spec>...
// spec: label=kind[:dist][,VAR=value...] (values URI-decoded: %2C for a comma); kind: bare | otel (upstream register) | full | noprof (ours,
// OTLP traces + Pyroscope at a loopback sink, as ../shared/peers-bench runs it). CODE (env) replaces `0`.
// Example: node bench/ab/startup-env-ab.mjs 12 bare a=full:.bench-base/dist b=full:dist c=full:dist,OTEL_NODE_ENABLED_INSTRUMENTATIONS=http
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { medianWithInterval, formatInterval } from '../lib/median-ci.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const [, , roundsArg = '10', ...specs] = process.argv;
const rounds = Number(roundsArg);
const node = process.execPath;
const code = process.env.CODE ?? '0';
const otelRegister = createRequire(path.join(root, 'package.json')).resolve('@opentelemetry/auto-instrumentations-node/register');

// The sink runs in a child so that this process's event loop stays free while spawnSync waits.
const sinkCode = `const s=require('node:http').createServer((q,r)=>{q.resume();q.on('end',()=>r.end(''))});s.listen(0,'127.0.0.1',()=>process.stdout.write(String(s.address().port)+'\\n'))`;
const sink = spawn(node, ['-e', sinkCode], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise((resolve) => sink.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
sink.stdout.destroy();
sink.unref();
process.on('exit', () => sink.kill('SIGKILL'));
const SINK = `http://127.0.0.1:${port}`;

const otelEnv = { OTEL_EXPORTER_OTLP_ENDPOINT: SINK, OTEL_SERVICE_NAME: 'bench-app', OTEL_NODE_RESOURCE_DETECTORS: 'env,host,os,process,serviceinstance,container' };
const oursEnv = { ...otelEnv, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none', PYROSCOPE_SERVER_ADDRESS: SINK };

const configs = specs.map((spec) => {
  const [head, ...vars] = spec.split(',');
  const eq = head.indexOf('=');
  const label = eq > 0 ? head.slice(0, eq) : head;
  const [kind, dist] = (eq > 0 ? head.slice(eq + 1) : head).split(':');
  const extra = Object.fromEntries(vars.map((v) => [v.slice(0, v.indexOf('=')), decodeURIComponent(v.slice(v.indexOf('=') + 1))]));
  let args = [];
  let env = {};
  if (kind === 'otel') [args, env] = [['--require', otelRegister], otelEnv];
  else if (kind === 'full' || kind === 'noprof') {
    args = ['--require', path.resolve(dist ?? 'dist', 'register.js')];
    env = kind === 'full' ? oursEnv : { ...oursEnv, OTEL_PYROSCOPE_START_PROFILING: 'false' };
  } else if (kind !== 'bare') throw new Error(`unknown config ${spec}`);
  return { label, args, env: { ...env, ...extra }, wall: [], rss: [], cpu: [] };
});

function cleanEnv() {
  const base = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(OTEL_|DD_|PYROSCOPE_|SPAN_PROFILES_|NODE_OPTIONS$|CODE$)/.test(k)) base[k] = v;
  return base;
}

// An empty working directory, as the peers' harness uses: no node_modules of this checkout's around.
const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'startup-ab-'));
const timeFile = path.join(cwd, 'time.txt');
for (let r = -1; r < rounds; r++) {
  const order = r % 2 ? configs : [...configs].reverse();
  for (const c of order) {
    const t0 = performance.now();
    const p = spawnSync('/usr/bin/time', ['-f', '%M %U %S', '-o', timeFile, node, ...c.args, '-e', code], {
      cwd,
      encoding: 'utf8',
      env: { ...cleanEnv(), ...c.env },
    });
    const wall = performance.now() - t0;
    if (p.status !== 0) console.error(`${c.label}: exit ${p.status} ${p.stderr.slice(0, 400)}`);
    const [m, u, s] = fs.readFileSync(timeFile, 'utf8').trim().split('\n').pop().split(' ').map(Number);
    if (r >= 0) {
      c.wall.push(wall);
      c.rss.push(m / 1024);
      c.cpu.push((u + s) * 1000);
    }
  }
}
fs.rmSync(cwd, { recursive: true, force: true });
const w = Math.max(...configs.map((c) => c.label.length));
console.log(`${rounds} interleaved rounds, code: ${code}; median [95 % interval]; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
for (const c of configs) {
  console.log(
    c.label.padEnd(w),
    ' wall ms',
    formatInterval(medianWithInterval(c.wall), 0).padEnd(18),
    ' cpu ms',
    formatInterval(medianWithInterval(c.cpu), 0).padEnd(18),
    ' peak RSS MB',
    formatInterval(medianWithInterval(c.rss)),
  );
}
