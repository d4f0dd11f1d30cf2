// Heap profiler cost: CPU per request and RSS of the overhead fixture (0.3 ms of CPU per request)
// under the agent with heap profiles on (the default: 512 KiB sampling interval, stack depth 64) and
// off, in interleaved rounds (on, off, off, on, ...). CPU per request is the server's user + system
// time from /proc over the measured load divided by the requests served, so it includes the heap
// profiler's sampling and its snapshot every upload interval (5 s here). Medians with 95 % intervals,
// and the median of the per-round differences.
import { fileURLToPath } from 'node:url';
import { pinnedNode } from '../../test/helpers/node-versions.mjs';
import { startSink } from '../lib/backends.mjs';
import { CONFIGURATIONS } from '../lib/configurations.mjs';
import { formatInterval, medianWithInterval } from '../lib/median-ci.mjs';
import { readCpuMs, readMemory } from '../lib/proc.mjs';
import { runLoad, runToExit, startServer } from '../lib/processes.mjs';
import { formatTable } from '../lib/table.mjs';

const FIXTURE = fileURLToPath(new URL('../workload/overhead-server.js', import.meta.url));
const CONNECTIONS = 16;
const WORK_MICROS = 300;
const UPLOAD_INTERVAL = '5s';

export const name = 'heap';

export async function run({ quick, log }) {
  const rounds = quick ? 2 : 8;
  const warmupMs = quick ? 500 : 2000;
  const durationMs = quick ? 2000 : 10_000;
  const node = pinnedNode();
  const calibration = await runToExit({ node, args: [FIXTURE, '--calibrate', String(WORK_MICROS)] });
  if (calibration.code !== 0) throw new Error(`calibration failed: ${calibration.stderr}`);
  const work = JSON.parse(calibration.stdout.trim());
  const sink = await startSink();
  const runs = { on: [], off: [] };
  try {
    log(`heap: ${rounds} rounds x 2 configurations x ${durationMs / 1000} s, work ${work.iterations} iterations = ${work.micros} µs`);
    for (let i = 0; i < rounds; i++) {
      const order = i % 2 === 0 ? ['on', 'off'] : ['off', 'on'];
      for (const id of order) runs[id].push(await measure({ node, sink, heap: id === 'on', work, warmupMs, durationMs }));
    }
  } finally {
    await sink.close();
  }
  const summary = (id) => ({
    cpuMicrosPerRequest: medianWithInterval(runs[id].map((r) => r.cpuMicrosPerRequest)),
    requestsPerSecond: medianWithInterval(runs[id].map((r) => r.requestsPerSecond)),
    rssMb: medianWithInterval(runs[id].map((r) => r.rssKb / 1024)),
  });
  const diffs = runs.on.map((r, i) => r.cpuMicrosPerRequest - runs.off[i].cpuMicrosPerRequest);
  return {
    method: { rounds, durationMs, connections: CONNECTIONS, uploadInterval: UPLOAD_INTERVAL, workMicros: work.micros, node: process.version },
    on: summary('on'),
    off: summary('off'),
    heapCpuMicrosPerRequest: medianWithInterval(diffs),
    runs,
  };
}

async function measure({ node, sink, heap, work, warmupMs, durationMs }) {
  const server = await startServer({
    node,
    script: FIXTURE,
    nodeArgs: CONFIGURATIONS.agent.nodeArgs,
    env: CONFIGURATIONS.agent.env({
      otlpUrl: sink.url,
      pyroscopeUrl: sink.url,
      serviceName: 'bench-heap',
      extra: { BENCH_WORK_ITERATIONS: work.iterations, PYROSCOPE_UPLOAD_INTERVAL: UPLOAD_INTERVAL, SPAN_PROFILES_HEAP: String(heap) },
    }),
  });
  try {
    const load = { port: server.port, connections: CONNECTIONS, paths: ['/'] };
    await runLoad({ ...load, durationMs: warmupMs });
    const cpuBefore = readCpuMs(server.pid);
    const result = await runLoad({ ...load, durationMs });
    const cpuAfter = readCpuMs(server.pid);
    const rssKb = readMemory(server.pid)?.rssKb;
    await server.stop('SIGTERM');
    return {
      cpuMicrosPerRequest: ((cpuAfter - cpuBefore) * 1000) / Math.max(1, result.completed),
      requestsPerSecond: result.requestsPerSecond,
      completed: result.completed,
      rssKb,
    };
  } catch (err) {
    await server.stop('SIGKILL');
    throw err;
  }
}

export function table(result) {
  const row = (label, s) => ({
    'heap profiles': label,
    'CPU µs / request': formatInterval(s.cpuMicrosPerRequest, 1),
    'req/s': formatInterval(s.requestsPerSecond, 0),
    'RSS MB': formatInterval(s.rssMb, 1),
  });
  return [
    formatTable([row('on (default)', result.on), row('off', result.off)]),
    `heap profiler, per request (on − off, paired rounds): ${formatInterval(result.heapCpuMicrosPerRequest, 1)} µs of CPU`,
    `${result.method.rounds} interleaved rounds of ${result.method.durationMs / 1000} s; median [95 % interval] (* fewer than 6: range)`,
  ].join('\n');
}
