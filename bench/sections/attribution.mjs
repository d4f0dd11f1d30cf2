// Attribution accuracy: the workload app under the agent, for each Node version (and so each
// context-binding mode), driven by 32 concurrent connections; its profiles go to a local Pyroscope
// receiver and its spans to a local OTLP receiver, then attribution-analysis.mjs scores them.
import { fileURLToPath } from 'node:url';
import { nodeBinary } from '../../test/helpers/node-versions.mjs';
import { startOtlpReceiver } from '../../test/helpers/otlp-receiver.mjs';
import { startPyroscopeReceiver } from '../../test/helpers/pyroscope-receiver.mjs';
import { analyzeAttribution } from '../lib/attribution-analysis.mjs';
import { CONFIGURATIONS } from '../lib/configurations.mjs';
import { readCpuMs } from '../lib/proc.mjs';
import { runLoad, startServer } from '../lib/processes.mjs';
import { formatTable, percent } from '../lib/table.mjs';

const APP = fileURLToPath(new URL('../workload/attribution-app.js', import.meta.url));
const ROUTES = ['/orders', '/search', '/report', '/users'];
/** CPU per request in ms: three ordinary sizes and one above the coverage threshold, equally likely. */
const CPU_MS = [3, 6, 10, 45];
const CONNECTIONS = 32;
const UPLOAD_INTERVAL = '3s';

const VARIANTS = [
  { id: 'node24', major: 24, nodeArgs: [], expectedMode: 'AsyncContextFrame' },
  { id: 'node22', major: 22, nodeArgs: [], expectedMode: 'async hooks' },
  { id: 'node22-acf', major: 22, nodeArgs: ['--experimental-async-context-frame'], expectedMode: 'AsyncContextFrame (flag)', fullOnly: true },
  { id: 'node26', major: 26, nodeArgs: [], expectedMode: 'AsyncContextFrame' },
];

export const name = 'attribution';

export async function run({ quick, log }) {
  const durationMs = quick ? 3000 : 20_000;
  const variants = [];
  for (const variant of VARIANTS) {
    if (quick && variant.fullOnly) continue;
    log(`attribution: Node ${variant.major}${variant.nodeArgs.length ? ` ${variant.nodeArgs.join(' ')}` : ''}, ${durationMs / 1000} s`);
    try {
      variants.push(await runVariant(variant, durationMs));
    } catch (err) {
      log(`attribution: Node ${variant.major} failed: ${err.message}`);
      variants.push({ id: variant.id, node: `v${variant.major}`, nodeArgs: variant.nodeArgs, error: err.message });
    }
  }
  return {
    method: {
      routes: ROUTES,
      cpuMsPerRequest: CPU_MS,
      connections: CONNECTIONS,
      durationMs,
      uploadInterval: UPLOAD_INTERVAL,
      groundTruth:
        'the app records each request\'s root span id (active span in the node:http handler) and the hrtime of ' +
        'the synchronous stretches it spends in its route\'s functions (one JS thread: a stretch belongs to one request)',
    },
    variants,
  };
}

async function runVariant(variant, durationMs) {
  const node = await nodeBinary(variant.major);
  const pyroscope = await startPyroscopeReceiver();
  const otlp = await startOtlpReceiver();
  let server;
  try {
    server = await startServer({
      node,
      script: APP,
      nodeArgs: [...variant.nodeArgs, ...CONFIGURATIONS.agent.nodeArgs],
      env: CONFIGURATIONS.agent.env({
        otlpUrl: otlp.url,
        pyroscopeUrl: pyroscope.url,
        serviceName: 'bench-attribution',
        extra: { PYROSCOPE_UPLOAD_INTERVAL: UPLOAD_INTERVAL, OTEL_LOG_LEVEL: 'info' },
      }),
    });
    const paths = ROUTES.flatMap((route) => CPU_MS.map((ms) => `${route}?cpu=${ms}`));
    const cpuBefore = readCpuMs(server.pid);
    const load = await runLoad({ port: server.port, connections: CONNECTIONS, paths, durationMs });
    // Under 1 when something else took the app core: the app's hrtime-measured CPU is then inflated.
    const coreShare = (readCpuMs(server.pid) - cpuBefore) / load.elapsedMs;
    const groundTruth = await settledGroundTruth(server.port);
    const exit = await server.stop('SIGTERM');
    const stderr = server.stderr();
    // Heap profiles (memory types) travel beside the CPU ones; attribution is about CPU samples.
    const cpuUploads = pyroscope.uploads.filter((upload) => upload.sampleTypes.includes('cpu/nanoseconds'));
    const samples = cpuUploads.flatMap((upload) => upload.samples);
    const sampleTypes = cpuUploads[0]?.sampleTypes ?? [];
    const analysis = samples.length
      ? analyzeAttribution({ samples, sampleTypes, groundTruth, exportedSpans: otlp.spans })
      : { error: 'no profile was uploaded' };
    return {
      id: variant.id,
      node: groundTruth.node,
      nodeArgs: variant.nodeArgs,
      bindingMode: /context binding (\S+)/.exec(stderr)?.[1] ?? `unknown (agent said: ${firstLine(stderr)})`,
      expectedMode: variant.expectedMode,
      load: { completed: load.completed, errors: load.errors, requestsPerSecond: load.requestsPerSecond, p99Ms: load.latencyMs.p99 },
      coreShare,
      uploads: { accepted: pyroscope.uploads.length, rejected: pyroscope.rejections.map((r) => r.reason) },
      exit,
      agentWarnings: stderr.split('\n').filter((line) => /\[span-profiles\] (warn|error)/.test(line)),
      ...analysis,
    };
  } finally {
    await server?.stop('SIGKILL');
    await pyroscope.close();
    await otlp.close();
  }
}

/** The ground truth once the requests cut off by the end of the load have finished. */
async function settledGroundTruth(port, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const truth = await (await fetch(`http://127.0.0.1:${port}/ground-truth`)).json();
    if (truth.inFlight === 0 || Date.now() > deadline) return truth;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const firstLine = (text) => text.trim().split('\n')[0] ?? '';

const both = (pair) => (pair ? `${percent(pair.count)} / ${percent(pair.cpu)}` : 'n/a');

export function table(result) {
  const rows = result.variants.map((v) => ({
    node: `${v.node}${v.nodeArgs.length ? ' +flag' : ''}`,
    mode: v.bindingMode,
    requests: v.requests ?? 'n/a',
    'route samples': v.samples?.inRouteFunctions.count ?? 'n/a',
    'precision (n / cpu)': both(v.precision),
    'recall (n / cpu)': both(v.recall),
    coverage: v.coverage ? `${percent(v.coverage.fraction)} of ${v.coverage.spans}` : 'n/a',
    'background labelled': v.background ? percent(v.background.labelledFraction.count) : 'n/a',
    'profiled/measured cpu': v.profiledOverMeasuredCpu?.toFixed(3) ?? 'n/a',
    'app core': percent(v.coreShare, 0),
  }));
  const lines = [formatTable(rows)];
  for (const v of result.variants) {
    if (v.error) lines.push(`  ${v.node}: ${v.error}`);
    for (const miss of v.misattributed ?? []) lines.push(`  ${v.node} misattributed: ${miss.key} x${miss.count} [${miss.exampleStack.slice(0, 4).join(' < ')}]`);
    for (const miss of v.unlabelled ?? []) lines.push(`  ${v.node} unlabelled: ${miss.key} x${miss.count} [${miss.exampleStack.slice(0, 4).join(' < ')}]`);
    for (const leak of v.background?.leaks ?? []) lines.push(`  ${v.node} background labelled: ${leak.key} x${leak.count}`);
    for (const span of v.coverage?.uncoveredExamples ?? []) lines.push(`  ${v.node} uncovered span: ${span.spanId} ${span.route} ${span.cpuMs.toFixed(1)} ms`);
  }
  return lines.join('\n');
}
