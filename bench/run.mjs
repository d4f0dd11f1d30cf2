#!/usr/bin/env node
// `npm run bench [-- <section>...] [--quick] [--out <file.json>] [--workloads http,express,pg] [--rounds N] [--minutes M]`
//
// Measures the agent on this machine and prints a table per section; every figure also goes to
// bench/results/<timestamp>.json (or --out). Sections (default: all, in this order):
//   attribution  precision, recall and span coverage of span labels, per Node version / binding mode
//   overhead     CPU per request, throughput, p99, event-loop stall and peak RSS on three workloads
//                (node:http, async-heavy Express, pg on PostgreSQL): bare, OpenTelemetry alone, this agent
//                with its profiler off and on; ratios with 95 % intervals from interleaved rounds
//   startup      `node -e 0` wall time and peak RSS, time to the fixture's first response
//   memory       the fixture's RSS and heap after 10,000 and 100,000 requests (leak check)
//   source-maps  start-up time and RSS of a 500-module TypeScript app, source maps on and off
//   heap         CPU per request and RSS with the heap profiler on and off
// --quick shortens everything to a smoke test (about 2 minutes). --workloads / BENCH_WORKLOADS,
// --rounds / BENCH_ROUNDS (default 10) and --minutes / BENCH_MINUTES (a time budget: whole rounds while
// it lasts) shape the overhead section. Measurements only: nothing here
// passes or fails on a number. Progress goes to stderr, tables to stdout. See bench/README.md.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LOAD_CORE, pinThisProcess, pinningSupport } from './lib/cores.mjs';
import { AGENT_REGISTER, REPO_ROOT } from './lib/configurations.mjs';
import * as attribution from './sections/attribution.mjs';
import * as heap from './sections/heap.mjs';
import * as memory from './sections/memory.mjs';
import * as overhead from './sections/overhead.mjs';
import * as sourceMaps from './sections/source-maps.mjs';
import * as startup from './sections/startup.mjs';

const SECTIONS = [attribution, overhead, startup, memory, sourceMaps, heap];

function usage() {
  return (
    `usage: node bench/run.mjs [${SECTIONS.map((s) => s.name).join('|')}]... [--quick] [--out <file.json>] ` +
    `[--workloads ${Object.keys(overhead.WORKLOADS).join(',')}] [--rounds N] [--minutes M]`
  );
}

function parseCommandLine() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      workloads: { type: 'string', default: process.env.BENCH_WORKLOADS },
      rounds: { type: 'string', default: process.env.BENCH_ROUNDS },
      minutes: { type: 'string', default: process.env.BENCH_MINUTES },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(usage());
    process.exit(0);
  }
  const unknown = positionals.filter((p) => !SECTIONS.some((s) => s.name === p));
  if (unknown.length) {
    console.error(`unknown section ${unknown.join(', ')}; ${usage()}`);
    process.exit(2);
  }
  const selected = positionals.length ? SECTIONS.filter((s) => positionals.includes(s.name)) : SECTIONS;
  const workloads = values.workloads ? values.workloads.split(',').map((w) => w.trim()).filter(Boolean) : undefined;
  const badWorkloads = (workloads ?? []).filter((w) => !overhead.WORKLOADS[w]);
  const rounds = values.rounds === undefined || values.rounds === '' ? undefined : Number(values.rounds);
  const minutes = values.minutes === undefined || values.minutes === '' ? undefined : Number(values.minutes);
  if (badWorkloads.length || (rounds !== undefined && !(Number.isInteger(rounds) && rounds > 0)) || (minutes !== undefined && !(minutes > 0))) {
    console.error(`bad --workloads ${values.workloads ?? ''}, --rounds ${values.rounds ?? ''} or --minutes ${values.minutes ?? ''}; ${usage()}`);
    process.exit(2);
  }
  return { quick: values.quick, out: values.out, selected, workloads, rounds, minutes };
}

function machine() {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    availableToBench: os.availableParallelism(),
    memoryGb: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    kernel: `${os.type()} ${os.release()}`,
    arch: process.arch,
    loadAverageAtStart: os.loadavg().map((n) => Number(n.toFixed(2))),
    pinning: pinningSupport(),
  };
}

/** Which agent was measured: the commit, whether src/ differs from it, and when dist/ was built. */
function agentBuild() {
  const git = (...args) => spawnSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' });
  const head = git('rev-parse', '--short', 'HEAD');
  const dirty = git('status', '--porcelain', '--', 'src');
  return {
    commit: head.status === 0 ? head.stdout.trim() : 'unknown',
    srcChangedSinceCommit: dirty.status === 0 ? dirty.stdout.trim().length > 0 : null,
    distBuiltAt: statSync(AGENT_REGISTER).mtime.toISOString(),
  };
}

/** The line that says what was measured where: agent build, machine, pinning, load average, date. */
function header(report) {
  return (
    `span-profiles ${report.agentVersion} (${report.agentBuild.commit}${report.agentBuild.srcChangedSinceCommit ? ' + uncommitted src changes' : ''}) ` +
    `bench${report.quick ? ' (quick)' : ''} ${report.startedAt}: ${report.machine.cpuModel}, ${report.machine.cores} cores, bench on Node ${report.benchNode}; ` +
    `${report.machine.pinning.reason}; load average ${report.machine.loadAverageAtStart[0]} at start, ${report.machine.loadAverageAtEnd[0]} at end`
  );
}

const timestamp = () => new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');

async function main() {
  const { quick, out, selected, workloads, rounds, minutes } = parseCommandLine();
  if (!existsSync(AGENT_REGISTER)) {
    console.error(`${path.relative(process.cwd(), AGENT_REGISTER)} is missing: build first (npm run build, or use npm run bench)`);
    process.exit(2);
  }
  const machineInfo = machine(); // before pinning, which narrows what this process sees
  pinThisProcess(LOAD_CORE);
  const log = (message) => process.stderr.write(`[bench] ${message}\n`);
  const started = performance.now();
  const report = {
    startedAt: new Date().toISOString(),
    quick,
    machine: machineInfo,
    benchNode: process.version,
    agentVersion: (await import(path.join(REPO_ROOT, 'package.json'), { with: { type: 'json' } })).default.version,
    agentBuild: agentBuild(),
    sections: {},
  };
  log(`${selected.map((s) => s.name).join(', ')}${quick ? ' (quick)' : ''} on ${report.machine.cpuModel}, ${report.machine.cores} cores; ${report.machine.pinning.reason}`);

  let failed = false;
  for (const section of selected) {
    const sectionStart = performance.now();
    try {
      report.sections[section.name] = await section.run({ quick, log, workloads, rounds, minutes });
    } catch (err) {
      failed = true;
      log(`${section.name} failed: ${err.stack}`);
      report.sections[section.name] = { error: String(err.message) };
    }
    report.sections[section.name].elapsedMs = Math.round(performance.now() - sectionStart);
  }
  report.elapsedMs = Math.round(performance.now() - started);
  const builtAtEnd = statSync(AGENT_REGISTER).mtime.toISOString();
  if (builtAtEnd !== report.agentBuild.distBuiltAt) {
    report.agentBuild.rebuiltDuringRun = builtAtEnd;
    log(`warning: dist/ was rebuilt during the run (${builtAtEnd}): sections may have measured different builds`);
  }
  report.machine.loadAverageAtEnd = os.loadavg().map((n) => Number(n.toFixed(2)));

  const outFile = out ? path.resolve(out) : path.join(fileURLToPath(new URL('./results/', import.meta.url)), `${timestamp()}.json`);
  mkdirSync(path.dirname(outFile), { recursive: true });
  writeFileSync(outFile, `${JSON.stringify(report, null, 2)}\n`);
  // Markdown tables of the sections that have them (the README's cost table is taken from these).
  const markdown = selected.filter((s) => s.markdown && !report.sections[s.name].error).map((s) => `## ${s.name}\n\n${s.markdown(report.sections[s.name])}`);
  const markdownFile = outFile.replace(/\.json$/, '') + '.md';
  if (markdown.length) writeFileSync(markdownFile, `${[header(report), ...markdown].join('\n\n')}\n`);

  const lines = [header(report)];
  if (report.agentBuild.rebuiltDuringRun) lines.push('warning: dist/ was rebuilt during the run: sections may have measured different builds');
  for (const section of selected) {
    const result = report.sections[section.name];
    lines.push('', `== ${section.name} (${(result.elapsedMs / 1000).toFixed(0)} s) ==`);
    lines.push(result.error ? `failed: ${result.error}` : section.table(result));
  }
  lines.push('', `total ${(report.elapsedMs / 1000).toFixed(0)} s; every figure: ${path.relative(process.cwd(), outFile)}`);
  console.log(lines.join('\n'));
  process.exitCode = failed ? 1 : 0;
}

await main();
