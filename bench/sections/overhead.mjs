// Overhead: what the agent costs per request on three workloads, against the same app bare and under
// OpenTelemetry's own register, with 95 % intervals from many short interleaved rounds.
//
// Workloads (bench/workload/): `http` a plain node:http server; `express` an async-heavy Express app
// (awaits, a timer, setImmediate, a Promise.all fan-out, a nested manual span); `pg` a node:http app
// running two queries per request through `pg` against a real PostgreSQL that this section starts on
// 127.0.0.1 (ephemeral port, temp data dir, stopped after; test/helpers/databases.mjs). Each does the
// same calibrated ~0.3 ms of CPU work per request in every configuration.
//
// Configurations: bare; OpenTelemetry alone (`--require @opentelemetry/auto-instrumentations-node/register`);
// span-profiles with the profiler off; span-profiles (profiler on, span linking, a profile cut and
// upload every UPLOAD_INTERVAL to a local Pyroscope-compatible /ingest). Spans go by OTLP/HTTP
// protobuf to the same local counting sink in all three instrumented configurations.
//
// One run = one fresh server process on the app core (with bench/workload/stall-monitor.js preloaded):
//   warm-up, closed loop        the JIT settles and the first profile cut (a one-off) is made
//   closed-loop window          CPU per request (utime + stime from /proc over the window / answers)
//                               and throughput, 16 keep-alive connections (the app core saturated)
//   open-loop window            OPEN_LOOP_RATE req/s whatever the answers do: p99 latency, and the
//                               longest event-loop stall (setImmediate chain, and monitorEventLoopDelay
//                               with resolution 1 beside it)
//   then                        peak RSS (VmHWM) of the whole run
// Each window is as long as the upload interval, so each holds one profile cut. A round runs every
// configuration once, in alternating order (forward, then backward); ratios are taken within a round
// (runs seconds apart share the machine's state) and summarised by their median with a
// distribution-free 95 % interval (lib/median-ci.mjs). A ratio whose interval contains 1 (a
// difference whose interval contains 0) is reported as inside the noise.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { startPostgres } from '../../test/helpers/databases.mjs';
import { pinnedNode } from '../../test/helpers/node-versions.mjs';
import { startSink } from '../lib/backends.mjs';
import { CONFIGURATIONS } from '../lib/configurations.mjs';
import { LOAD_CORE, SERVER_CORE, pinProcessTree } from '../lib/cores.mjs';
import { formatInterval, medianWithInterval } from '../lib/median-ci.mjs';
import { readCoreBusyMs, readCpuMs, readMemory } from '../lib/proc.mjs';
import { runLoad, runToExit, startServer } from '../lib/processes.mjs';
import { ratio } from '../lib/stats.mjs';
import { fixed, formatTable, percent } from '../lib/table.mjs';

const workloadFile = (name) => fileURLToPath(new URL(`../workload/${name}`, import.meta.url));
const CPU_WORK = workloadFile('cpu-work.js');
const STALL_MONITOR = workloadFile('stall-monitor.js');
const WORK_MICROS = 300;
const CONNECTIONS = 16;
const OPEN_LOOP_RATE = 1000;
/**
 * A closed-loop run whose app used less of its core than this, or during which other processes took more
 * of the app core than FOREIGN_CORE_SHARE, was disturbed (a shared machine, or a starved load generator):
 * run again, within a retry budget per workload.
 */
const UNDISTURBED_CORE_SHARE = 0.9;
const FOREIGN_CORE_SHARE = 0.05;

const pathsFor = (prefix, count) => Array.from({ length: count }, (_, i) => `${prefix}${1 + ((i * 37) % 1000)}`);

/** The three apps. `needs: 'postgres'` gets DATABASE_URL (the section starts and fills the server). */
export const WORKLOADS = {
  http: { id: 'http', label: 'plain node:http', script: workloadFile('overhead-server.js'), paths: ['/'] },
  express: {
    id: 'express',
    label: 'async-heavy Express (awaits, timer, setImmediate, Promise.all fan-out, nested manual span)',
    script: workloadFile('express-app.js'),
    paths: pathsFor('/orders/', 64),
  },
  pg: {
    id: 'pg',
    label: 'pg: two queries per request on a real PostgreSQL',
    script: workloadFile('pg-app.js'),
    paths: pathsFor('/customers/', 64),
    needs: 'postgres',
  },
};

/** The agent with its profiler off: what its tracing set-up costs, so the profiler's share shows. */
const TRACING_ONLY = {
  ...CONFIGURATIONS.agent,
  id: 'tracingOnly',
  label: 'span-profiles, profiler off',
  env: (options) => CONFIGURATIONS.agent.env({ ...options, extra: { ...options.extra, OTEL_PYROSCOPE_START_PROFILING: 'false' } }),
};
const CONFIGS = { bare: CONFIGURATIONS.bare, otel: CONFIGURATIONS.otel, tracingOnly: TRACING_ONLY, agent: CONFIGURATIONS.agent };
const ORDER = Object.keys(CONFIGS);
/** What every configuration is compared with. */
const BASES = ['bare', 'otel'];

export const name = 'overhead';

/**
 * Rounds, windows and retries: full, or shortened to a smoke test. With a time budget (`minutes`), each
 * workload runs whole rounds until its share of the budget would be overrun (at most `rounds`, default 50).
 */
function plan({ quick, rounds, minutes }) {
  if (quick) return { rounds: rounds ?? 1, warmupMs: 500, windowMs: 1000, uploadInterval: '1s', retries: 0 };
  // The warm-up outlasts one upload interval: the process's first cut (which loads and compiles the upload
  // path once, a start-up cost) falls before the window, and the window holds one steady cut.
  return { rounds: rounds ?? (minutes ? 50 : 10), minutes, warmupMs: 2500, windowMs: 2000, uploadInterval: '2s', retries: 4 };
}

/**
 * Runs the section. `workloads`: ids to run (default all); `rounds`: interleaved rounds per workload
 * (default 10, quick 1); `minutes`: a time budget for the whole section, shared by the workloads.
 */
export async function run({ quick, log, workloads = Object.keys(WORKLOADS), rounds, minutes }) {
  const p = plan({ quick, rounds, minutes });
  const sectionStart = Date.now();
  const node = pinnedNode();
  const calibration = await runToExit({ node, args: [CPU_WORK, String(WORK_MICROS)] });
  if (calibration.code !== 0) throw new Error(`calibration failed: ${calibration.stderr}`);
  const work = JSON.parse(calibration.stdout.trim());
  log(
    `overhead: work ${work.iterations} iterations = ${work.micros} µs; workloads ${workloads.join(', ')}; ${p.rounds} rounds x ` +
      `${ORDER.length} configurations x (${p.warmupMs / 1000} s warm-up + ${p.windowMs / 1000} s closed loop + ${p.windowMs / 1000} s at ${OPEN_LOOP_RATE} req/s)`,
  );
  const sink = await startSink();
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'span-profiles-bench-overhead-'));
  const results = {};
  try {
    for (const [i, id] of workloads.entries()) {
      const workload = WORKLOADS[id];
      if (!workload) throw new Error(`unknown workload ${id} (${Object.keys(WORKLOADS).join(', ')})`);
      const started = Date.now();
      // Time left over by one workload goes to the next.
      const deadline = p.minutes ? sectionStart + ((i + 1) * p.minutes * 60_000) / workloads.length : undefined;
      try {
        results[id] = await runWorkload(workload, { ...p, node, sink, work, scratch, log, deadline });
      } catch (err) {
        log(`overhead: ${id} failed: ${err.stack}`);
        results[id] = { error: String(err.message) };
      }
      results[id].elapsedMs = Date.now() - started;
    }
  } finally {
    await sink.close();
    rmSync(scratch, { recursive: true, force: true });
  }
  return {
    method: {
      configurations: Object.fromEntries(ORDER.map((id) => [id, CONFIGS[id].label])),
      rounds: p.rounds,
      minutes: p.minutes,
      warmupMs: p.warmupMs,
      closedLoop: { connections: CONNECTIONS, windowMs: p.windowMs },
      openLoop: { rate: OPEN_LOOP_RATE, windowMs: p.windowMs },
      agentUploadInterval: p.uploadInterval,
      agentProfileDestination: 'local Pyroscope-compatible /ingest (counting sink), spans by OTLP/HTTP protobuf to the same sink',
      work,
      node: process.version,
      order: 'configurations in alternating order: forward in even rounds, backward in odd ones',
      intervals: 'median of per-round values with its distribution-free 95 % interval; * = fewer than 6 values: the range',
      noise: 'a ratio whose interval contains 1, or a difference whose interval contains 0, is inside the noise',
      undisturbedCoreShare: UNDISTURBED_CORE_SHARE,
      foreignCoreShareAllowed: FOREIGN_CORE_SHARE,
      retriesPerWorkload: p.retries,
    },
    workloads: results,
  };
}

async function runWorkload(workload, options) {
  const { rounds, retries, log, deadline } = options;
  let database;
  if (workload.needs === 'postgres') {
    database = await startPostgres();
    if (database.skip) {
      log(`overhead: ${workload.id} skipped: ${database.skip}`);
      return { label: workload.label, skipped: database.skip };
    }
    // PostgreSQL is a backend, as the receivers: on the load core, away from the app's.
    pinProcessTree(database.pid, LOAD_CORE);
    const seeded = await runToExit({
      node: options.node,
      args: [workload.script, '--seed'],
      env: { ...process.env, DATABASE_URL: database.url, NODE_OPTIONS: '' },
      cwd: path.dirname(workload.script),
      core: LOAD_CORE,
    });
    if (seeded.code !== 0) {
      await database.stop();
      throw new Error(`seeding PostgreSQL failed: ${seeded.stderr}`);
    }
  }
  const runs = Object.fromEntries(ORDER.map((id) => [id, []]));
  const repeated = [];
  let retriesLeft = retries;
  try {
    let roundMs = 0;
    for (let round = 0; round < rounds; round++) {
      if (deadline !== undefined && round > 0 && Date.now() + roundMs > deadline) {
        log(`overhead: ${workload.id}: time budget reached after ${round} rounds`);
        break;
      }
      const roundStart = Date.now();
      const order = round % 2 === 0 ? ORDER : [...ORDER].reverse();
      for (const id of order) {
        for (;;) {
          let result;
          try {
            result = await measure(workload, CONFIGS[id], { ...options, database, round });
          } catch (err) {
            log(`overhead: ${workload.id} round ${round + 1} ${id} failed: ${err.message.split('\n')[0]}`);
            result = { failed: String(err.message) };
          }
          const disturbed =
            !result.failed && (result.closed.coreShare < UNDISTURBED_CORE_SHARE || result.closed.foreignCoreShare > FOREIGN_CORE_SHARE);
          if (!result.failed) {
            log(
              `overhead: ${workload.id} round ${round + 1} ${id}: ${fixed(result.closed.requestsPerSecond, 0)} req/s, ` +
                `${fixed(result.closed.cpuMicrosPerRequest, 0)} µs CPU/req, app core ${percent(result.closed.coreShare, 0)} ` +
                `(other processes ${percent(result.closed.foreignCoreShare, 0)}); ` +
                `at ${OPEN_LOOP_RATE}/s p99 ${fixed(result.open.latencyMs.p99, 2)} ms, longest stall ${fixed(result.stall?.longestMs, 1)} ms; ` +
                `peak RSS ${fixed(result.peakRssMb, 0)} MB` +
                (disturbed ? (retriesLeft > 0 ? ': disturbed, again' : ': disturbed, kept (no retries left)') : ''),
            );
          }
          if (disturbed && retriesLeft > 0) {
            retriesLeft--;
            repeated.push({ id, round, ...result });
            continue;
          }
          runs[id].push({ round, disturbed, ...result });
          break;
        }
      }
      roundMs = Date.now() - roundStart;
    }
  } finally {
    await database?.stop();
  }
  return { label: workload.label, rounds: Math.max(...ORDER.map((id) => runs[id].length)), summary: summarise(runs), runs, repeated };
}

/** One fresh server of `configuration` through warm-up, the closed-loop window and the open-loop window. */
async function measure(workload, configuration, { node, sink, work, scratch, database, round, warmupMs, windowMs, uploadInterval }) {
  const stallFile = path.join(scratch, `${workload.id}-${configuration.id}-${round}-${Date.now()}.jsonl`);
  const server = await startServer({
    node,
    script: workload.script,
    nodeArgs: [...configuration.nodeArgs, '--require', STALL_MONITOR],
    env: configuration.env({
      otlpUrl: sink.url,
      pyroscopeUrl: sink.url,
      serviceName: `bench-${workload.id}`,
      extra: {
        BENCH_WORK_ITERATIONS: work.iterations,
        BENCH_STALL_FILE: stallFile,
        PYROSCOPE_UPLOAD_INTERVAL: uploadInterval,
        DATABASE_URL: database?.url,
      },
    }),
  });
  try {
    const load = { port: server.port, paths: workload.paths };
    await runLoad({ ...load, connections: CONNECTIONS, durationMs: warmupMs });

    const before = sink.counts();
    const cpuBefore = readCpuMs(server.pid);
    const coreBefore = readCoreBusyMs(SERVER_CORE);
    const closed = await runLoad({ ...load, connections: CONNECTIONS, durationMs: windowMs });
    const cpuAfter = readCpuMs(server.pid);
    const coreAfter = readCoreBusyMs(SERVER_CORE);

    process.kill(server.pid, 'SIGUSR2'); // open the stall window
    const open = await runLoad({ ...load, connections: CONNECTIONS, rate: OPEN_LOOP_RATE, durationMs: windowMs });
    process.kill(server.pid, 'SIGUSR2'); // close it: the monitor writes its line
    const stall = await readStallLine(stallFile);
    const peakRssKb = readMemory(server.pid)?.peakRssKb;
    const after = sink.counts();
    const non200 = (statuses) => Object.entries(statuses).reduce((sum, [status, count]) => sum + (status === '200' ? 0 : count), 0);
    const errors = closed.errors + open.errors + non200(closed.statuses) + non200(open.statuses);
    if (closed.completed === 0) throw new Error(`no answers in the closed-loop window: ${server.stderr().slice(-500)}`);
    return {
      closed: {
        requestsPerSecond: closed.requestsPerSecond,
        completed: closed.completed,
        cpuMicrosPerRequest: ((cpuAfter - cpuBefore) * 1000) / closed.completed,
        coreShare: (cpuAfter - cpuBefore) / closed.elapsedMs,
        // The app core's busy time not spent by the app: another process took the core (a shared machine).
        foreignCoreShare: Math.max(0, (coreAfter - coreBefore - (cpuAfter - cpuBefore)) / closed.elapsedMs),
        loadAverage: os.loadavg()[0],
        latencyMs: closed.latencyMs,
        statuses: closed.statuses,
        errors: closed.errors,
      },
      open: {
        rate: OPEN_LOOP_RATE,
        requestsPerSecond: open.requestsPerSecond,
        // Under 1 when the app could not keep up with the rate: requests of the window still unanswered 5 s
        // after it (the client awaits them, so the slow ones count in p99), or never sent for want of connections.
        answeredShare: open.completed / ((OPEN_LOOP_RATE * open.elapsedMs) / 1000),
        unanswered: open.unanswered,
        completed: open.completed,
        sent: open.sent,
        latencyMs: open.latencyMs,
        sendLagMs: open.sendLagMs,
        connectionsOpened: open.connectionsOpened,
        statuses: open.statuses,
        errors: open.errors,
      },
      stall,
      peakRssMb: peakRssKb / 1024,
      errors,
      exported: { traceRequests: after.traces.requests - before.traces.requests, profileUploads: after.profiles.requests - before.profiles.requests },
    };
  } finally {
    await server.stop('SIGKILL');
  }
}

async function readStallLine(file) {
  for (let i = 0; i < 40; i++) {
    try {
      const line = readFileSync(file, 'utf8').trim().split('\n').at(-1);
      if (line) return JSON.parse(line);
    } catch {
      // not written yet
    }
    await sleep(50);
  }
  return undefined;
}

/** Figures of one run used in the summary: name -> run -> number. */
const FIGURES = {
  cpuMicrosPerRequest: (r) => r.closed.cpuMicrosPerRequest,
  requestsPerSecond: (r) => r.closed.requestsPerSecond,
  p99Ms: (r) => r.open.latencyMs.p99,
  p50Ms: (r) => r.open.latencyMs.p50,
  longestStallMs: (r) => r.stall?.longestMs,
  // Older results have no GC figures: undefined, left out of the medians.
  longestOutsideGcMs: (r) => r.stall?.longestOutsideGcMs,
  longestGcPauseMs: (r) => r.stall?.longestGcPauseMs,
  gcPauseMs: (r) => r.stall?.gcPauseMs,
  eldMaxMs: (r) => r.stall?.eldMaxMs,
  peakRssMb: (r) => r.peakRssMb,
  youngGenMb: (r) => r.stall?.youngGenMb,
  oldUsedMb: (r) => r.stall?.oldUsedMb,
  coreShare: (r) => r.closed.coreShare,
  foreignCoreShare: (r) => r.closed.foreignCoreShare,
  answeredShare: (r) => r.open.answeredShare,
};
/** Compared as ratios to the bases. */
const RATIOS = ['cpuMicrosPerRequest', 'requestsPerSecond', 'peakRssMb'];
/** Compared as differences (ms) to the bases. */
const DIFFERENCES = ['p99Ms', 'longestStallMs', 'longestOutsideGcMs', 'longestGcPauseMs'];

// Fewer than 6 values give no 95 % interval (only the range): never a claimed difference.
const insideNoise = (stat, neutral) => !stat || !stat.exact || (stat.low <= neutral && stat.high >= neutral);

function summarise(runs) {
  const byRound = Object.fromEntries(ORDER.map((id) => [id, new Map(runs[id].filter((r) => !r.failed).map((r) => [r.round, r]))]));
  const summary = {};
  for (const id of ORDER) {
    const ok = [...byRound[id].values()];
    const s = { label: CONFIGS[id].label, runs: ok.length, failed: runs[id].length - ok.length, disturbedKept: ok.filter((r) => r.disturbed).length };
    for (const [figure, get] of Object.entries(FIGURES)) s[figure] = medianWithInterval(ok.map(get));
    s.maxStallMs = ok.length ? Math.max(...ok.map((r) => r.stall?.longestMs ?? 0)) : null;
    s.errors = ok.reduce((sum, r) => sum + r.errors, 0);
    for (const base of BASES) {
      if (base === id) continue;
      // Paired by round: only rounds where both ran.
      const pairs = ok.map((r) => [r, byRound[base].get(r.round)]).filter(([, b]) => b);
      for (const figure of RATIOS) {
        const stat = medianWithInterval(pairs.map(([r, b]) => ratio(FIGURES[figure](r), FIGURES[figure](b))));
        s[`${figure}Vs_${base}`] = stat && { ...stat, insideNoise: insideNoise(stat, 1) };
      }
      for (const figure of DIFFERENCES) {
        const difference = (x, y) => (Number.isFinite(x) && Number.isFinite(y) ? x - y : null);
        const stat = medianWithInterval(pairs.map(([r, b]) => difference(FIGURES[figure](r), FIGURES[figure](b))));
        s[`${figure}Minus_${base}`] = stat && { ...stat, insideNoise: insideNoise(stat, 0) };
      }
    }
    summary[id] = s;
  }
  return summary;
}

const interval = (stat, digits) => (stat ? formatInterval(stat, digits) : 'n/a');
/** A compared figure: its interval, marked ~ when inside the noise. */
const compared = (stat, digits) => (stat ? `${formatInterval(stat, digits)}${stat.insideNoise ? ' ~' : ''}` : '');
const signedInterval = (stat, digits) => {
  if (!stat) return '';
  const sign = (v) => `${v >= 0 ? '+' : ''}${v.toFixed(digits)}`;
  return `${sign(stat.median)} [${sign(stat.low)}, ${sign(stat.high)}]${stat.exact ? '' : '*'}${stat.insideNoise ? ' ~' : ''}`;
};

/** Rows of one workload's two tables (cost; latency, stall, memory), as objects keyed by column title. */
function rows(summary) {
  const cost = ORDER.map((id) => {
    const s = summary[id];
    return {
      configuration: s.label,
      'CPU µs/req': interval(s.cpuMicrosPerRequest, 0),
      'CPU/req ÷ bare': compared(s.cpuMicrosPerRequestVs_bare, 3),
      'CPU/req ÷ OTel': compared(s.cpuMicrosPerRequestVs_otel, 3),
      'req/s': interval(s.requestsPerSecond, 0),
      'req/s ÷ bare': compared(s.requestsPerSecondVs_bare, 3),
      'req/s ÷ OTel': compared(s.requestsPerSecondVs_otel, 3),
    };
  });
  const latency = ORDER.map((id) => {
    const s = summary[id];
    return {
      configuration: s.label,
      [`p99 ms at ${OPEN_LOOP_RATE}/s`]: interval(s.p99Ms, 2),
      'p99 − OTel ms': signedInterval(s.p99MsMinus_otel, 2),
      'longest stall ms': `${interval(s.longestStallMs, 1)} (max ${fixed(s.maxStallMs, 1)})`,
      'stall − OTel ms': signedInterval(s.longestStallMsMinus_otel, 1),
      'outside GC ms; − OTel': `${interval(s.longestOutsideGcMs, 1)}; ${signedInterval(s.longestOutsideGcMsMinus_otel, 1)}`,
      'longest GC pause ms; − OTel': `${interval(s.longestGcPauseMs, 1)}; ${signedInterval(s.longestGcPauseMsMinus_otel, 1)}`,
      'peak RSS MB': interval(s.peakRssMb, 0),
      'RSS ÷ OTel': compared(s.peakRssMbVs_otel, 2),
      'V8 young gen, old used MB': `${fixed(s.youngGenMb?.median, 0)}, ${fixed(s.oldUsedMb?.median, 0)}`,
      'app core: app, other; answered': `${percent(s.coreShare?.median, 0)}, ${percent(s.foreignCoreShare?.median, 0)}; ${percent(s.answeredShare?.median, 0)}`,
      'runs (disturbed kept)': `${s.runs}${s.failed ? `, ${s.failed} failed` : ''} (${s.disturbedKept})`,
    };
  });
  return { cost, latency };
}

/** Sentences naming every comparison with OpenTelemetry alone that is inside the noise. */
function noiseNotes(summary) {
  const notes = [];
  const names = {
    cpuMicrosPerRequest: 'CPU/req',
    requestsPerSecond: 'req/s',
    peakRssMb: 'peak RSS',
    p99Ms: 'p99',
    longestStallMs: 'longest stall',
    longestOutsideGcMs: 'longest stall outside GC',
    longestGcPauseMs: 'longest GC pause',
  };
  for (const id of ['tracingOnly', 'agent']) {
    const s = summary[id];
    const inside = [
      ...RATIOS.map((f) => [f, s[`${f}Vs_otel`]]),
      ...DIFFERENCES.map((f) => [f, s[`${f}Minus_otel`]]),
    ].filter(([, stat]) => stat?.insideNoise);
    if (inside.length) notes.push(`${s.label} vs OpenTelemetry alone, inside the noise: ${inside.map(([f]) => names[f]).join(', ')}`);
  }
  return notes;
}

/**
 * Above this share of what a configuration served under closed-loop load, the open-loop rate queues requests
 * behind one another: its p99 and stalls then measure the queue (and swing from round to round), not the agent.
 */
const NEAR_CAPACITY = 0.8;

/** Sentences naming every configuration the open-loop rate kept near its capacity. */
function capacityNotes(summary) {
  const notes = [];
  for (const id of ORDER) {
    const s = summary[id];
    const served = s.requestsPerSecond?.median;
    if (!(served > 0) || OPEN_LOOP_RATE / served <= NEAR_CAPACITY) continue;
    notes.push(
      `${s.label}: ${OPEN_LOOP_RATE} req/s is ${percent(OPEN_LOOP_RATE / served, 0)} of the ${fixed(served, 0)} req/s it served under ` +
        `closed-loop load (median): near capacity, its p99 and stalls measure queueing`,
    );
  }
  return notes;
}

/** Every note under a workload's tables: comparisons inside the noise, configurations near capacity. */
const notesOf = (summary) => [...noiseNotes(summary), ...capacityNotes(summary)];

function methodLine(m) {
  return (
    `${m.minutes ? `${m.minutes} min budget, up to ${m.rounds}` : m.rounds} interleaved rounds per workload (alternating order); per run: ${m.warmupMs / 1000} s warm-up, ${m.closedLoop.windowMs / 1000} s closed loop ` +
    `(${m.closedLoop.connections} connections: CPU/req from /proc, req/s), ${m.openLoop.windowMs / 1000} s at ${m.openLoop.rate} req/s open loop ` +
    `(p99, longest event-loop stall); work ${m.work.micros} µs/request; the agent cuts and uploads a profile every ${m.agentUploadInterval} ` +
    `(default 15 s) to a local Pyroscope /ingest. Median [95 % interval] (* fewer than 6: range); ratios and differences paired by round; ` +
    `~ = the interval contains 1 (ratios) or 0 (differences): inside the noise.`
  );
}

export function table(result) {
  const lines = [methodLine(result.method)];
  for (const [id, w] of Object.entries(result.workloads)) {
    lines.push('', `-- ${id}: ${w.label ?? ''} (${w.rounds ?? 0} rounds, ${((w.elapsedMs ?? 0) / 1000).toFixed(0)} s)`);
    if (w.error) lines.push(`failed: ${w.error}`);
    else if (w.skipped) lines.push(`skipped: ${w.skipped}`);
    else {
      const { cost, latency } = rows(w.summary);
      lines.push(formatTable(cost), '', formatTable(latency));
      for (const note of notesOf(w.summary)) lines.push(`  ${note}`);
    }
  }
  return lines.join('\n');
}

/** The same tables in Markdown (written beside the JSON), for the README's cost table. */
export function markdown(result) {
  const md = (objects) => {
    const columns = Object.keys(objects[0]);
    return [`| ${columns.join(' | ')} |`, `|${columns.map(() => '---').join('|')}|`, ...objects.map((o) => `| ${columns.map((c) => o[c]).join(' | ')} |`)].join('\n');
  };
  const lines = [methodLine(result.method)];
  for (const [id, w] of Object.entries(result.workloads)) {
    lines.push('', `### ${id}: ${w.label ?? ''} (${w.rounds ?? 0} rounds)`, '');
    if (w.error) lines.push(`failed: ${w.error}`);
    else if (w.skipped) lines.push(`skipped: ${w.skipped}`);
    else {
      const { cost, latency } = rows(w.summary);
      lines.push(md(cost), '', md(latency));
      const notes = notesOf(w.summary);
      if (notes.length) lines.push('', ...notes.map((n) => `- ${n}`));
    }
  }
  return lines.join('\n');
}
