// The span linker's and the context binding's own cost, in one process, load-robust: for each build
// (dist directory) given, a tracer provider whose only processor is that build's SpanLinker, its own
// AsyncLocalStorage context manager and that build's context binding, all against one running pprof
// sampler (10 ms, contexts in the AsyncContextFrame, as the agent starts it); plus a `tracing` setup with
// no linker and no binding. Batches of request-shaped span trees run alternately on every setup.
//   node bench/ab/linking-micro.mjs <batches> <dist> [<dist> ...]
// Prints ns per "request" (a local root span, 3 nested children each entered with with(), and a 4th
// level child under the second, all ended) per setup: median [95 % interval] over the batches, and the
// linking's cost = setup - tracing, batch by batch.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { medianWithInterval, formatInterval } from '../lib/median-ci.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(path.join(root, 'package.json'));
const [, , batchesArg = '40', ...dists] = process.argv;
const { trace, ROOT_CONTEXT, SpanKind } = require('@opentelemetry/api');
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
const { TracerProvider } = require('@opentelemetry/sdk-trace');
const time = require('@datadog/pprof/out/src/time-profiler');

time.start({ intervalMicros: 10_000, durationMillis: 60_000, withContexts: true, useCPED: true, lineNumbers: false, workaroundV8Bug: true, collectCpuTime: true });

function setup(label, dist, parts = 'both') {
  const manager = new AsyncLocalStorageContextManager().enable();
  let spanProcessors = [];
  if (dist) {
    const { SpanLinker } = require(path.resolve(dist, 'profiler/span-linker.js'));
    const { createContextBinding } = require(path.resolve(dist, 'profiler/context-binding.js'));
    const linker = new SpanLinker({ rootSpanOnly: true });
    linker.active = true;
    const { binding } = createContextBinding({ mode: 'async-context-frame', reason: '' }, time, manager, (ctx) => linker.labelsFor(ctx));
    if (parts !== 'linker') binding.install();
    spanProcessors = parts === 'binding' ? [] : [linker];
    if (parts === 'binding') linker.labelsFor = () => undefined;
  }
  const tracer = new TracerProvider({ spanProcessors }).getTracer('micro');
  const attributes = { 'http.method': 'GET', 'http.target': '/orders/1' };
  const request = () => {
    const rootSpan = tracer.startSpan('GET', { kind: SpanKind.SERVER, attributes }, ROOT_CONTEXT);
    manager.with(trace.setSpan(ROOT_CONTEXT, rootSpan), () => {
      for (let k = 0; k < 3; k++) {
        const child = tracer.startSpan('middleware', undefined, manager.active());
        manager.with(trace.setSpan(manager.active(), child), () => {
          if (k === 1) {
            const leaf = tracer.startSpan('leaf', undefined, manager.active());
            manager.with(trace.setSpan(manager.active(), leaf), () => leaf.end());
          }
        });
        child.end();
      }
    });
    rootSpan.end();
  };
  return { label, request, ns: [] };
}

// PARTS=linker: the span processor alone (no binding); PARTS=split: each build as linker alone and as both.
const parts = process.env.PARTS ?? 'both';
const setups = [setup('tracing'), ...dists.flatMap((d) => (parts === 'split' ? [setup(`${d} linker`, d, 'linker'), setup(d, d)] : [setup(d, d, parts)]))];
const PER_BATCH = 2000;
for (let b = -5; b < Number(batchesArg); b++) {
  for (const s of b % 2 ? [...setups].reverse() : setups) {
    const t0 = process.cpuUsage();
    for (let i = 0; i < PER_BATCH; i++) s.request();
    const t = process.cpuUsage(t0);
    if (b >= 0) s.ns.push(((t.user + t.system) * 1000) / PER_BATCH);
  }
}
console.log(`${batchesArg} batches of ${PER_BATCH} requests per setup, alternating; ns per request`);
for (const s of setups) {
  const linking = s === setups[0] ? '' : `  linking ${formatInterval(medianWithInterval(s.ns.map((v, i) => v - setups[0].ns[i])), 0)}`;
  console.log(`${s.label.padEnd(28)} ${formatInterval(medianWithInterval(s.ns), 0)}${linking}`);
}
time.stop(false);
