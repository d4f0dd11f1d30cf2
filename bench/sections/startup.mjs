// Startup: wall time and peak RSS of `node -e 0` under each configuration (the agent also with its
// default local store, and with a backend that refuses connections or never answers: the process
// must still exit at once), and the overhead fixture's time to first response. Runs interleaved,
// medians reported. The app runs on its own core, as in the overhead bench.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { pinnedNode } from '../../test/helpers/node-versions.mjs';
import { refusedUrl, startHangingBackend, startSink } from '../lib/backends.mjs';
import { CONFIGURATIONS } from '../lib/configurations.mjs';
import { readMemory } from '../lib/proc.mjs';
import { runToExit, startServer } from '../lib/processes.mjs';
import { median } from '../lib/stats.mjs';
import { fixed, formatTable } from '../lib/table.mjs';

const FIXTURE = fileURLToPath(new URL('../workload/overhead-server.js', import.meta.url));
const PEAK_RSS_REPORTER = fileURLToPath(new URL('../workload/report-peak-rss.js', import.meta.url));

/** How long a fixture gets to exit after SIGTERM before it is killed (and reported as not exiting). */
const STOP_WAIT_MS = 3000;

export const name = 'startup';

/** The `node -e 0` cases: a configuration and the backends it is pointed at. */
function emptyScriptCases({ sink, refused, hanging }) {
  return [
    { id: 'bare', label: 'bare', configuration: CONFIGURATIONS.bare, backends: {} },
    { id: 'otel', label: 'OpenTelemetry alone', configuration: CONFIGURATIONS.otel, backends: { otlpUrl: sink } },
    { id: 'agent-store', label: 'span-profiles, local store (default)', configuration: CONFIGURATIONS.agent, backends: {} },
    { id: 'agent', label: 'span-profiles, backends reachable', configuration: CONFIGURATIONS.agent, backends: { otlpUrl: sink, pyroscopeUrl: sink } },
    { id: 'agent-refused', label: 'span-profiles, backends refuse', configuration: CONFIGURATIONS.agent, backends: { otlpUrl: refused, pyroscopeUrl: refused } },
    { id: 'agent-hanging', label: 'span-profiles, backends never answer', configuration: CONFIGURATIONS.agent, backends: { otlpUrl: hanging, pyroscopeUrl: hanging } },
  ];
}

export async function run({ quick, log }) {
  const emptyRuns = quick ? 3 : 15;
  const fixtureRuns = quick ? 2 : 7;
  const node = pinnedNode();
  const sink = await startSink();
  const hanging = await startHangingBackend();
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'span-profiles-bench-rss-'));
  try {
    const cases = emptyScriptCases({ sink: sink.url, refused: await refusedUrl(), hanging: hanging.url });
    log(`startup: node -e 0, ${cases.length} cases x ${emptyRuns} runs`);
    const empty = Object.fromEntries(cases.map((c) => [c.id, []]));
    for (let i = 0; i < emptyRuns; i++) {
      for (const c of rotate(cases, i)) empty[c.id].push(await runEmptyScript(node, c, path.join(scratch, `${c.id}-${i}`)));
    }

    const fixtureCases = cases.filter((c) => ['bare', 'otel', 'agent'].includes(c.id));
    log(`startup: fixture first response, ${fixtureCases.length} configurations x ${fixtureRuns} runs`);
    const fixture = Object.fromEntries(fixtureCases.map((c) => [c.id, []]));
    for (let i = 0; i < fixtureRuns; i++) {
      for (const c of rotate(fixtureCases, i)) fixture[c.id].push(await firstResponse(node, c));
    }

    return {
      method: { emptyRuns, fixtureRuns, node: process.version, peakRss: 'getrusage maxRSS at exit (preloaded after the agent)' },
      emptyScript: Object.fromEntries(
        cases.map((c) => [
          c.id,
          {
            label: c.label,
            wallMs: median(empty[c.id].map((r) => r.wallMs)),
            maxWallMs: Math.max(...empty[c.id].map((r) => r.wallMs)),
            peakRssMb: median(empty[c.id].map((r) => r.peakRssMb)),
            exitCodes: [...new Set(empty[c.id].map((r) => r.code))],
            stderr: [...new Set(empty[c.id].map((r) => r.stderr).filter(Boolean))].slice(0, 3),
          },
        ]),
      ),
      firstResponse: Object.fromEntries(
        fixtureCases.map((c) => [
          c.id,
          {
            label: c.label,
            listeningMs: median(fixture[c.id].map((r) => r.listeningMs)),
            firstResponseMs: median(fixture[c.id].map((r) => r.firstResponseMs)),
            rssAfterFirstResponseMb: median(fixture[c.id].map((r) => r.rssMb)),
            stopMs: median(fixture[c.id].map((r) => r.stopMs)),
            exitedOnSigterm: fixture[c.id].every((r) => r.exitedOnSigterm),
          },
        ]),
      ),
      runs: { emptyScript: empty, firstResponse: fixture },
    };
  } finally {
    await sink.close();
    await hanging.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}

const rotate = (list, by) => [...list.slice(by % list.length), ...list.slice(0, by % list.length)];

async function runEmptyScript(node, c, rssFile) {
  const env = c.configuration.env({ ...c.backends, serviceName: 'bench-startup', extra: { BENCH_PEAK_RSS_FILE: rssFile } });
  const result = await runToExit({ node, args: [...c.configuration.nodeArgs, '--require', PEAK_RSS_REPORTER, '-e', '0'], env, timeoutMs: 30_000 });
  let peakRssKb = NaN;
  try {
    peakRssKb = Number(readFileSync(rssFile, 'utf8'));
  } catch {
    // No file: the process died before its exit handlers ran; the NaN shows in the results.
  }
  return { wallMs: result.wallMs, peakRssMb: peakRssKb / 1024, code: result.code, stderr: result.stderr.trim().slice(0, 500) };
}

async function firstResponse(node, c) {
  const server = await startServer({
    node,
    script: FIXTURE,
    nodeArgs: c.configuration.nodeArgs,
    env: c.configuration.env({ ...c.backends, serviceName: 'bench-startup' }),
  });
  try {
    await get(server.port, '/');
    const firstResponseMs = performance.now() - server.spawnedAt;
    const rssMb = (readMemory(server.pid)?.rssKb ?? NaN) / 1024;
    const stop = await server.stop('SIGTERM', STOP_WAIT_MS);
    return { listeningMs: server.readyMs, firstResponseMs, rssMb, stopMs: stop.ms, exitedOnSigterm: stop.signal !== 'SIGKILL' };
  } finally {
    await server.stop('SIGKILL');
  }
}

function get(port, requestPath) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: requestPath, agent: false }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`GET ${requestPath}: ${res.statusCode}`))));
    });
    req.on('error', reject);
  });
}

export function table(result) {
  const empty = formatTable(
    Object.values(result.emptyScript).map((r) => ({
      'node -e 0': r.label,
      'wall ms (median)': fixed(r.wallMs, 0),
      'wall ms (max)': fixed(r.maxWallMs, 0),
      'peak RSS MB': fixed(r.peakRssMb, 1),
      'exit code': r.exitCodes.join(','),
    })),
  );
  const fixture = formatTable(
    Object.values(result.firstResponse).map((r) => ({
      fixture: r.label,
      'listening ms': fixed(r.listeningMs, 0),
      'first response ms': fixed(r.firstResponseMs, 0),
      'RSS MB after it': fixed(r.rssAfterFirstResponseMb, 1),
      'SIGTERM to exit ms': r.exitedOnSigterm ? fixed(r.stopMs, 0) : `no exit (killed after ${STOP_WAIT_MS / 1000} s)`,
    })),
  );
  const m = result.method;
  return `${empty}\n  medians of ${m.emptyRuns} interleaved runs\n\n${fixture}\n  medians of ${m.fixtureRuns} interleaved runs`;
}
