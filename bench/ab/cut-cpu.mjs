// CPU of the profile cut per upload interval, load-robust: a real CPU cut (the agent's CpuProfiler, request-like
// root spans at RATE/s for SECONDS, then a cut) and a real heap cut (V8's sampling heap profiler over the same
// work), then each step replayed REPS times in this otherwise idle process; each step's time is the minimum over
// the replays (preemption on a shared machine only adds), reported in ms per cut and µs per raw sample.
//   SECONDS=2 RATE=1500 node bench/ab/cut-cpu.mjs [dist=./dist] [reps=15]
// Steps: Pyroscope's relabel + build + encode + gzip (what the bench's destination does per cut); the store's
// build; the heap cut (v8Profile, buildHeapCut, encodeHeapCut with gzip). The cut's own stop + raw build runs
// once per interval and is timed from the profiler's collect() (median of CUTS cuts).
import { createRequire } from 'node:module';
import path from 'node:path';
const require = createRequire(import.meta.url);
const dist = path.resolve(process.argv[2] ?? './dist');
const reps = Number(process.argv[3] ?? 15);
const SECONDS = Number(process.env.SECONDS ?? 2);
const RATE = Number(process.env.RATE ?? 1500);
const WORK = Number(process.env.WORK ?? 3000);
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
const { createContextKey, ROOT_CONTEXT } = require('@opentelemetry/api');
const { loadNativeProfiler } = require(`${dist}/profiler/native-profiler.js`);
const { createContextBinding } = require(`${dist}/linking/context-binding.js`);
const { CpuProfiler } = require(`${dist}/profiler/cpu-profiler.js`);
const { SpanLabels } = require(`${dist}/linking/span-labels.js`);
const { buildProfilesOfCut } = require(`${dist}/profiler/profile-builder.js`);
const { relabelForPyroscope, SpanNameGuard } = require(`${dist}/export/pyroscope-labels.js`);
const { buildHeapCut } = require(`${dist}/profiler/heap-cut-builder.js`);
const { encodeHeapCut } = require(`${dist}/profiler/heap-profiler.js`);

const { pprof } = loadNativeProfiler();
const manager = new AsyncLocalStorageContextManager().enable();
const key = createContextKey('labels');
const { binding } = createContextBinding({ mode: 'async-context-frame' }, pprof.time, manager, (ctx) => ctx.getValue(key));
let captured;
const profiler = new CpuProfiler({ pprof, binding, samplingIntervalMicros: 10_000, uploadIntervalMs: 3_600_000, wall: false, addSpanName: true, exporters: [{ export: (cut) => (captured = cut), shutdown: async () => {} }] });
profiler.start();
pprof.heap.start(512 * 1024, 64);
// Request-like work: a root span per request, a few distinct functions and allocations, an await in between.
const fns = Array.from({ length: 24 }, (_, k) => new Function('n', `let x = 0; const a = []; for (let i = 1; i <= n; i++) { x += Math.sqrt(i + ${k}) * Math.sin(i); if (i % 50 === 0) a.push({ i, s: 'v' + i }); } return x + a.length;`));
const routes = ['/orders/:id', '/users/:id', '/cart', '/search'];
const keep = [];
let made = 0;
async function interval() {
  const t0 = performance.now();
  const made0 = made;
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      const due = made0 + Math.floor(((performance.now() - t0) / 1000) * RATE);
      while (made < due) {
        const k = made++;
        const labels = new SpanLabels(k.toString(16).padStart(16, '0'), k.toString(16).padStart(32, '0'), { name: 'GET' }, Date.now() * 1e6);
        manager.with(ROOT_CONTEXT.setValue(key, labels), () => {
          keep[k % 5000] = fns[k % 24](WORK);
          setImmediate(() => {
            fns[(k * 5) % 24](WORK >> 1);
            labels.ended(`GET ${routes[k % 4]}`, Date.now() * 1e6);
          });
        });
      }
      if (performance.now() - t0 > SECONDS * 1000) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
}
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const collectMs = [];
for (let i = 0; i < Number(process.env.CUTS ?? 3); i++) {
  await interval();
  const c0 = cpuMs();
  await profiler.collect(false);
  collectMs.push(cpuMs() - c0);
}
const heapTree = pprof.heap.v8Profile();
const cut = captured;
await profiler.shutdown(Date.now() + 5000);
captured = cut;
const samples = captured.raw.sample.length;
console.log(`cut of ${SECONDS} s at ${RATE} requests/s: ${samples} raw samples, ${captured.raw.location.length} locations; collect() CPU per cut (stop, raw build, passes; 4 ms clock) ${collectMs.map((x) => x.toFixed(0)).join(' / ')} ms`);

async function minOf(name, step, perSample) {
  const times = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    await step();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  console.log(`${name.padEnd(40)} min ${times[0].toFixed(2)} ms, median ${times[reps >> 1].toFixed(2)} ms per cut${perSample ? `; ${((times[0] * 1000) / perSample).toFixed(2)} µs per raw sample` : ''}`);
}
const spanNames = new SpanNameGuard(1000);
await minOf('pyroscope relabel + build + encode + gzip', async () => buildProfilesOfCut({ ...captured, raw: await relabelForPyroscope(captured.raw, { includeTraceId: false, spanNames }) }, { limits: { maxBytes: 1 << 20 } }), samples);
await minOf('store build (keep sample times)', () => buildProfilesOfCut(captured, { keepSampleTimes: true }), samples);
await minOf('heap: v8Profile (native tree)', async () => pprof.heap.v8Profile());
let heapCut;
await minOf('heap: buildHeapCut', async () => (heapCut = await buildHeapCut(heapTree, { intervalBytes: 512 * 1024, externalBytes: 1, keepColumns: true })));
console.log(`heap cut: ${heapCut.sample.length} samples, ${heapCut.location.length} locations`);
await minOf('heap: encodeHeapCut (encode + gzip)', () => encodeHeapCut({ raw: heapCut, startMs: 0, endMs: 1, intervalBytes: 512 * 1024 }));
manager.disable();
process.exit(0);
