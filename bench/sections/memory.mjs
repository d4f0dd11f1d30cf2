// Memory: the overhead fixture's memory from 10,000 to 100,000 requests, per configuration, read
// every 10,000 requests: RSS from /proc, and the V8 heap after two full GCs (the fixture runs with
// --expose-gc), the steadier signal. A leak shows as a slope of the heap over requests (least squares
// over all readings: the heap of every configuration wobbles by about half a megabyte from one
// reading to the next, so two readings alone can't tell). Requests are the cheap /light route: the
// per-request cost of a leak does not depend on the work the handler does.
import { fileURLToPath } from 'node:url';
import { pinnedNode } from '../../test/helpers/node-versions.mjs';
import { startSink } from '../lib/backends.mjs';
import { CONFIGURATIONS } from '../lib/configurations.mjs';
import { readMemory } from '../lib/proc.mjs';
import { runLoad, startServer } from '../lib/processes.mjs';
import { leastSquaresSlope } from '../lib/stats.mjs';
import { fixed, formatTable } from '../lib/table.mjs';

const FIXTURE = fileURLToPath(new URL('../workload/overhead-server.js', import.meta.url));
const CONNECTIONS = 16;
const READINGS = 10;
const ORDER = ['bare', 'otel', 'agent'];
const MB = 1024 * 1024;
const ROUTE = '/light';

export const name = 'memory';

export async function run({ quick, log }) {
  const step = quick ? 1000 : 10_000;
  const node = pinnedNode();
  const sink = await startSink();
  const results = {};
  try {
    for (const id of ORDER) {
      log(`memory: ${CONFIGURATIONS[id].label}, ${READINGS} readings ${step} requests apart`);
      results[id] = await measure(CONFIGURATIONS[id], { node, sink, step });
    }
  } finally {
    await sink.close();
  }
  return {
    method: { first: step, last: step * READINGS, step, connections: CONNECTIONS, route: ROUTE, node: process.version },
    results,
  };
}

async function measure(configuration, { node, sink, step }) {
  const server = await startServer({
    node,
    script: FIXTURE,
    nodeArgs: ['--expose-gc', ...configuration.nodeArgs],
    env: configuration.env({ otlpUrl: sink.url, pyroscopeUrl: sink.url, serviceName: 'bench-memory' }),
  });
  try {
    const load = { port: server.port, connections: CONNECTIONS, paths: [ROUTE], requests: step };
    const readings = [];
    let errors = 0;
    const rates = [];
    for (let i = 1; i <= READINGS; i++) {
      const result = await runLoad(load);
      errors += result.errors;
      rates.push(result.requestsPerSecond);
      readings.push({ requests: i * step, ...(await reading(server)) });
    }
    const first = readings[0];
    const last = readings.at(-1);
    const heapBytes = readings.map((r) => r.heapUsedMb * MB);
    return {
      label: configuration.label,
      atFirst: first,
      atSecond: last,
      rssGrowthMb: last.rssMb - first.rssMb,
      heapGrowthMb: last.heapUsedMb - first.heapUsedMb,
      heapSlopeBytesPerRequest: leastSquaresSlope(readings.map((r) => r.requests), heapBytes),
      heapRangeMb: (Math.max(...heapBytes) - Math.min(...heapBytes)) / MB,
      readings,
      requestsPerSecond: rates,
      errors,
    };
  } finally {
    await server.stop('SIGTERM', 3000);
  }
}

async function reading(server) {
  const usage = await (await fetch(`http://127.0.0.1:${server.port}/memory`)).json();
  const proc = readMemory(server.pid);
  return {
    rssMb: proc.rssKb / 1024,
    peakRssMb: proc.peakRssKb / 1024,
    heapUsedMb: usage.heapUsed / MB,
    heapTotalMb: usage.heapTotal / MB,
    externalMb: usage.external / MB,
    afterGc: usage.gc,
  };
}

export function table(result) {
  const { first, last } = result.method;
  const k = (n) => `${n / 1000}k`;
  const change = (a, b, digits) => `${fixed(a, digits)} -> ${fixed(b, digits)} (${b >= a ? '+' : ''}${fixed(b - a, digits)})`;
  const rows = ORDER.map((id) => {
    const r = result.results[id];
    return {
      configuration: r.label,
      [`RSS MB ${k(first)} -> ${k(last)}`]: change(r.atFirst.rssMb, r.atSecond.rssMb, 1),
      'heap used MB (after GC)': change(r.atFirst.heapUsedMb, r.atSecond.heapUsedMb, 2),
      'heap slope B/req': fixed(r.heapSlopeBytesPerRequest, 1),
      'heap range MB': fixed(r.heapRangeMb, 2),
      'heap committed MB': change(r.atFirst.heapTotalMb, r.atSecond.heapTotalMb, 1),
    };
  });
  return [
    formatTable(rows),
    `  ${result.method.connections} connections on ${result.method.route}, a reading every ${k(result.method.step)} requests. ` +
      'The leak signal is the heap used after two full GCs: its least-squares slope over all readings ' +
      '(a leak of 10 B/req adds 0.9 MB over 90k requests; "heap range" is the wobble between readings). ' +
      'RSS also follows the heap V8 keeps committed, which grows with the allocation rate and is not given back at once.',
  ].join('\n');
}
