// Instructions per request under valgrind's callgrind, by kind of work and by function, for each config against
// the first (needs valgrind: Debian's valgrind package):
//   APP=http|express|pg taskset -c 1 node bench/ab/callgrind-diff.mjs <config> <config> ...
// config: [label=]kind[:dist][,VAR=value...] as in ab-configs.mjs. Each config's app runs once on core 0 under
// callgrind with --perf-basic-prof (unless NAMES=0); after WARMUP_S (default 90) of closed-loop load (CONNECTIONS, default 4) the
// counters are zeroed, DURATION_S (default 30) more are counted, and the count is dumped. JavaScript functions
// are named from V8's perf map with their tier (* TurboFan, + Maglev, ^ Sparkplug, ~ interpreter).
// Instruction counts do not drift with the machine's speed the way CPU time does, which makes a difference of a
// few percent visible in one run; what still moves them from process to process is the JIT's choices (a hot
// function left in Maglev instead of TurboFan calls the runtime where TurboFan would not) and whether a major GC
// fell inside the window: read the kinds of work, not only the total, and repeat a run before trusting a
// function's difference. Under valgrind a request takes ~50-150 times longer, so per-request shares of
// time-driven work (samples, cuts, batch timers) are inflated that much: give the profiler
// PYROSCOPE_PROFILING_INTERVAL=1s and read the sampler's own cost from cpu-ab.mjs instead. The perf map makes
// V8 log code creation and object moves (Heap::OnMoveEvent) in every config, as a running CPU profiler does:
// with NAMES=0 the app runs without it (JavaScript unnamed) and the profiler's share of that logging shows.
// Env: WORK_ITERS (default 1000: a light request, so the agent's share is large), OUT (default /tmp/callgrind-diff),
// TOP (functions listed per direction, default 20).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { AS_IN_THE_BENCH, abConfigs, startAbSink, withoutAgentEnv } from './ab-configs.mjs';

const specs = process.argv.slice(2);
const outDir = process.env.OUT ?? '/tmp/callgrind-diff';
const TOP = Number(process.env.TOP ?? 20);
for (const tool of ['valgrind', 'callgrind_control', 'callgrind_annotate']) {
  if (spawnSync(tool, ['--help'], { stdio: 'ignore' }).error) throw new Error(`${tool} is not installed (Debian: apt-get install valgrind)`);
}
const sink = await startAbSink();
const configs = abConfigs(specs, sink.url, AS_IN_THE_BENCH);
// Started once the configs are known to be valid: with APP=pg it starts PostgreSQL.
const { abApp: makeAbApp, startAbServer, runAbLoad } = await import('./ab-app.mjs');
const abApp = await makeAbApp();
fs.mkdirSync(outDir, { recursive: true });
const connections = Number(process.env.CONNECTIONS ?? 4);

/** Kinds of work, first match wins; matched against the function's name and its object file. */
const KINDS = [
  ['JavaScript (JIT code)', /^(JS:|RegExp|JIT )/],
  ['V8 CPU and heap profilers, pprof', /OnMoveEvent|CpuProfiler|ProfilerListener|ProfilerEventsProcessor|ProfileTree|CodeMap|CodeEntry|StringsStorage|String::ToCString|GetPositionInfo|SourcePositionTableIterator|TickSample|Sampler|SamplingHeapProfiler|dd_pprof|dd::/],
  ['V8 compilers', /compiler::|maglev::|turboshaft::|baseline::|Zone::|Compiler::|CompilationJob|Builtins_Optimize|LiveRange|RegisterAllocat/],
  ['garbage collection', /Scaveng|MarkCompact|Marking|Sweep|Evacuat|IterateObjectCache|BodyDescriptor|GlobalHandles|Heap::|cppgc|RememberedSet|SlotSet|RecordWrite|MinorM|Compaction/],
  ['V8 builtins', /Builtins_/],
  ['V8 runtime: property and IC slow paths', /LookupIterator|Transition|FeedbackNexus|FeedbackIterator|MigrateToMap|AddDataProperty|DefineKeyedOwn|DefineOwnProperty|UpdateDescriptor|Runtime_|_Miss|FieldIndex|set_map|DescriptorArray|JSObject::|Object::|IC::/],
  ['malloc and memory copies', /malloc|free|memcpy|memmove|memset|operator new|operator delete/],
  ['other native code (V8, Node, libuv, libc)', /./],
];
const kindOf = (name) => KINDS.find(([, re]) => re.test(name))[0];

/** Names JIT addresses from V8's perf map: the last mapping written that covers the address. */
function perfMapNamer(pid) {
  const file = `/tmp/perf-${pid}.map`;
  if (!fs.existsSync(file)) return (address) => `JIT 0x${address.toString(16)}`;
  const entries = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [start, size, ...name] = line.split(' ');
      return [parseInt(start, 16), parseInt(size, 16), name.join(' ')];
    });
  fs.rmSync(file);
  return (address) => {
    for (let i = entries.length - 1; i >= 0; i--) {
      const [start, size, name] = entries[i];
      if (address >= start && address < start + size) return name.replace(/\S*\/dist\//, 'dist/');
    }
    return 'JIT (unnamed)';
  };
}

/** Runs one config; resolves to { label, requests, functions: Map<name, instructions per request> }. */
async function record(config) {
  const work = process.env.WORK_ITERS ?? '1000';
  const env = { ...withoutAgentEnv(), OTEL_LOG_LEVEL: 'none', ...abApp.env, WORK_ITERS: work, BENCH_WORK_ITERATIONS: work, SPAN_PROFILES_DIR: `/tmp/callgrind-diff-store-${process.pid}`, ...config.env };
  const prefix = path.join(outDir, `callgrind-${config.label}`);
  const wrapper = ['valgrind', '-q', '--tool=callgrind', '--smc-check=all-non-file', `--callgrind-out-file=${prefix}.%p`, '--dump-instr=no'];
  const names = process.env.NAMES !== '0';
  const server = await startAbServer(abApp, config, env, names ? ['--perf-basic-prof'] : [], wrapper);
  const pid = server.child.pid;
  await runAbLoad(abApp, server.port, Number(process.env.WARMUP_S ?? 90) * 1000, connections);
  spawnSync('callgrind_control', ['-z', String(pid)], { stdio: 'ignore' });
  const { completed } = await runAbLoad(abApp, server.port, Number(process.env.DURATION_S ?? 30) * 1000, connections);
  spawnSync('callgrind_control', ['-d', 'measured', String(pid)], { stdio: 'ignore' });
  server.child.kill('SIGKILL');
  await server.closed;
  const dump = `${prefix}.${pid}.1`;
  if (!fs.existsSync(dump)) throw new Error(`${config.label}: callgrind wrote no dump at ${dump}`);
  const annotated = spawnSync('callgrind_annotate', ['--threshold=100', '--inclusive=no', dump], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const name = names ? perfMapNamer(pid) : () => 'JIT (unnamed)';
  const functions = new Map();
  let total = 0;
  for (const line of annotated.stdout.split('\n')) {
    const m = /^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$/.exec(line);
    if (!m) continue;
    const count = Number(m[1].replaceAll(',', ''));
    if (m[2] === 'PROGRAM TOTALS') {
      total = count;
      continue;
    }
    // callgrind_annotate charges code it has no function for to its caller chain up to main: skip those lines.
    if (/\(below main\)|libc_start|:main |node::Start\(|SpinEventLoopInternal|NodeMainInstance::Run|start_thread|clone\.S|ld-linux/.test(m[2])) continue;
    const jit = /^\?\?\?:0x([0-9a-f]+) \[\?\?\?\]$/.exec(m[2]);
    const fn = jit ? name(parseInt(jit[1], 16)) : m[2].replace(/^\?\?\?:|^\S*:/, '').replace(/\s*\[\/.*\/([^/\]]+)\]$/, ' [$1]');
    functions.set(fn, (functions.get(fn) ?? 0) + count / completed);
  }
  return { label: config.label, requests: completed, total: total / completed, functions };
}

function byKind(run) {
  const kinds = new Map(KINDS.map(([k]) => [k, 0]));
  for (const [fn, n] of run.functions) {
    const kind = kindOf(fn);
    kinds.set(kind, kinds.get(kind) + n);
  }
  return kinds;
}

const k = (n) => `${(n / 1000).toFixed(1)}k`;
try {
  const runs = [];
  for (const config of configs) {
    const run = await record(config);
    runs.push(run);
    console.log(`${run.label}: ${k(run.total)} instructions per request (${run.requests} requests counted)`);
  }
  const [base, ...others] = runs;
  const kinds = runs.map(byKind);
  console.log(`\ninstructions per request by kind of work (${base.label} first; then each config and its difference):`);
  for (const [kind] of KINDS) console.log(`  ${kind.padEnd(44)} ${runs.map((r, i) => `${r.label} ${k(kinds[i].get(kind))}${i > 0 ? ` (${kinds[i].get(kind) >= kinds[0].get(kind) ? '+' : ''}${k(kinds[i].get(kind) - kinds[0].get(kind))})` : ''}`).join('  ')}`);
  for (const run of others) {
    const diffs = [];
    for (const fn of new Set([...base.functions.keys(), ...run.functions.keys()])) diffs.push([fn, (run.functions.get(fn) ?? 0) - (base.functions.get(fn) ?? 0)]);
    diffs.sort((a, b) => b[1] - a[1]);
    const show = ([fn, d]) => `  ${d >= 0 ? '+' : ''}${Math.round(d)}\t${fn.slice(0, 150)}`;
    console.log(`\n${run.label} against ${base.label}: ${run.total >= base.total ? '+' : ''}${k(run.total - base.total)} per request; grew most:`);
    console.log(diffs.slice(0, TOP).map(show).join('\n'));
    console.log('shrank most:');
    console.log(diffs.slice(-TOP).reverse().map(show).join('\n'));
  }
  fs.writeFileSync(path.join(outDir, 'callgrind-diff.json'), JSON.stringify(runs.map((r, i) => ({ label: r.label, requests: r.requests, total: r.total, kinds: Object.fromEntries(kinds[i]), functions: Object.fromEntries([...r.functions].filter(([, n]) => n >= 10)) })), null, 1));
} finally {
  sink.close();
  await abApp.stop();
}
