// The longest synchronous slice of each step of a cut, from a real cut of SECONDS (default 15: the default upload
// interval) of RATE (default 1000) request-like root spans per second, replayed REPS times: the cut's own build
// (sampler stop + raw cut builder, pieces included), then what each destination does with it (the store's build,
// Pyroscope's relabel + build, the OTLP profiles build + encode). A turn monitor (setImmediate chain) notes the longest
// turn of each replay; on a shared machine preemption inflates some of them, so the minimum over the replays is the
// step's own longest slice, the median what it usually is.
//   CUTS=3 SECONDS=15 node bench/ab/destination-slices.mjs [dist=./dist] [reps=7]
import { createRequire } from 'node:module';
import path from 'node:path';
const require = createRequire(import.meta.url);
const dist = path.resolve(process.argv[2] ?? './dist');
const reps = Number(process.argv[3] ?? 7);
const SECONDS = Number(process.env.SECONDS ?? 15);
const RATE = Number(process.env.RATE ?? 1000);
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
const { createContextKey, ROOT_CONTEXT } = require('@opentelemetry/api');
const { loadNativeProfiler } = require(`${dist}/profiler/native-profiler.js`);
const { RawCutBuilder } = require(`${dist}/profiler/raw-cut-builder.js`);
const finish = RawCutBuilder.prototype.finish;
let longestSlice = 0;
RawCutBuilder.prototype.finish = function () {
  longestSlice = this.longestSliceMs;
  return finish.call(this);
};
const { createContextBinding } = require(`${dist}/profiler/context-binding.js`);
const { CpuProfiler } = require(`${dist}/profiler/cpu-profiler.js`);
const { SpanLabels } = require(`${dist}/profiler/span-labels.js`);
const { buildProfilesOfCut } = require(`${dist}/profiler/profile-builder.js`);
const { relabelForPyroscope, SpanNameGuard } = require(`${dist}/export/pyroscope-labels.js`);
const otlpEncoder = require(`${dist}/export/otlp-profiles-encoder.js`);
const { buildOtlpProfiles } = otlpEncoder;
// What the exporter calls: the sliced encoding where the build has it.
const encodeOtlp = otlpEncoder.encodeOtlpProfilesProtobufSliced ?? otlpEncoder.encodeOtlpProfilesProtobuf;

/** Runs `work` and resolves with it the longest event-loop turn meanwhile, ms. */
async function longestTurn(work) {
  let longest = 0;
  let last = performance.now();
  let running = true;
  const tick = () => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  await work();
  running = false;
  await new Promise((resolve) => setImmediate(resolve));
  longest = Math.max(longest, performance.now() - last);
  return longest;
}

const { pprof } = loadNativeProfiler();
const manager = new AsyncLocalStorageContextManager().enable();
const key = createContextKey('labels');
const { binding } = createContextBinding({ mode: 'async-context-frame' }, pprof.time, manager, (ctx) => ctx.getValue(key));
let captured;
const profiler = new CpuProfiler({ pprof, binding, samplingIntervalMicros: 10_000, uploadIntervalMs: 3_600_000, wall: false, addSpanName: true, exporters: [{ export: (cut) => (captured = cut), shutdown: async () => {} }] });
profiler.start();
// Request-like work: a root span per request, a few distinct functions, an await in between.
const fns = Array.from({ length: 12 }, (_, k) => new Function('n', `let x = 0; for (let i = 1; i <= n; i++) x += Math.sqrt(i + ${k}) * Math.sin(i); return x;`));
const routes = ['/orders/:id', '/users/:id', '/cart', '/search'];
let made = 0;
/** SECONDS of requests, then a cut; resolves with the longest turn while cutting. */
async function intervalThenCut() {
  const t0 = performance.now();
  const made0 = made;
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      const due = made0 + Math.floor(((performance.now() - t0) / 1000) * RATE);
      if (made < due) {
        const k = made++;
        const labels = new SpanLabels(k.toString(16).padStart(16, '0'), k.toString(16).padStart(32, '0'), { name: 'GET' }, Date.now() * 1e6);
        manager.with(ROOT_CONTEXT.setValue(key, labels), () => {
          fns[k % 12](1500);
          setImmediate(() => {
            fns[(k * 5) % 12](600);
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
  const pieces = profiler.stats.pieces;
  let stopMs = 0;
  const turn = await longestTurn(() => {
    const start = performance.now();
    const work = profiler.collect(false);
    stopMs = performance.now() - start;
    return work;
  });
  console.log(`cut of ${SECONDS} s at ${Math.round((made - made0) / SECONDS)} requests/s: ${captured.raw.sample.length} raw samples, ${captured.raw.location.length} locations, ${pieces} pieces so far; longest turn while cutting ${turn.toFixed(2)} ms (the stop ${stopMs.toFixed(2)} ms, the builder's longest slice ${longestSlice.toFixed(2)} ms)`);
  return turn;
}
const cutTurns = [];
for (let i = 0; i < Number(process.env.CUTS ?? 3); i++) cutTurns.push(await intervalThenCut());
cutTurns.sort((a, b) => a - b);
console.log(`${'the cut (stop, build, passes)'.padEnd(34)} longest turn: min ${cutTurns[0].toFixed(2)} ms, median ${cutTurns[cutTurns.length >> 1].toFixed(2)} ms, max ${cutTurns.at(-1).toFixed(2)} ms`);
await profiler.shutdown(Date.now() + 5000);

const context = { resourceAttributes: { 'service.name': 'bench' }, scopeName: 'span-profiles', scopeVersion: '0' };
const steps = {
  'store build (keep sample times)': () => buildProfilesOfCut(captured, { keepSampleTimes: true }),
  'pyroscope relabel + build': async () => buildProfilesOfCut({ ...captured, raw: await relabelForPyroscope(captured.raw, { includeTraceId: true, spanNames: new SpanNameGuard(1000) }) }),
  'otlp build + encode': async () => encodeOtlp(await buildOtlpProfiles(captured, context)),
};
for (const [name, step] of Object.entries(steps)) {
  const turns = [];
  for (let i = 0; i < reps; i++) turns.push(await longestTurn(step));
  turns.sort((a, b) => a - b);
  console.log(`${name.padEnd(34)} longest turn: min ${turns[0].toFixed(2)} ms, median ${turns[turns.length >> 1].toFixed(2)} ms, max ${turns.at(-1).toFixed(2)} ms`);
}
manager.disable();
process.exit(0);
