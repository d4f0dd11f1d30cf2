// Source maps: start-up time and memory of a TypeScript service of 500 compiled modules (each with its
// .js.map, as tsc --sourceMap writes them) under the agent with source maps on and off. Start-up is
// spawn to listening; memory is RSS at listening and after load, once a profile naming (nearly) every
// module has been cut and symbolized, i.e. with the maps read. Runs interleaved (on, off, off, on, ...);
// medians with 95 % intervals. Sampling at 1 ms here so one cut sees most of the 500 functions.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { readFileSync } from 'node:fs';
import { pinnedNode } from '../../test/helpers/node-versions.mjs';
import { CONFIGURATIONS, REPO_ROOT } from '../lib/configurations.mjs';
import { formatInterval, medianWithInterval } from '../lib/median-ci.mjs';
import { readMemory } from '../lib/proc.mjs';
import { runLoad, startServer } from '../lib/processes.mjs';
import { formatTable } from '../lib/table.mjs';
import { writeManyModulesApp } from '../workload/many-modules.mjs';

const { Profile } = createRequire(path.join(REPO_ROOT, 'package.json'))('pprof-format');

export const name = 'source-maps';
const MODULES = 500;

export async function run({ quick, log }) {
  const runs = quick ? 2 : 10;
  const requests = quick ? 40 : 120;
  const node = pinnedNode();
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'span-profiles-bench-maps-'));
  try {
    log(`source-maps: compiling a ${MODULES}-module TypeScript app`);
    const app = await writeManyModulesApp(scratch, MODULES);
    const results = { on: [], off: [] };
    log(`source-maps: ${runs} runs per configuration, interleaved, ${requests} requests each`);
    for (let i = 0; i < runs; i++) {
      const order = i % 2 === 0 ? ['on', 'off'] : ['off', 'on'];
      for (const id of order) results[id].push(await measure({ node, app, maps: id === 'on', requests, storeDir: path.join(scratch, `store-${id}-${i}`) }));
    }
    const summary = (id) => ({
      startupMs: medianWithInterval(results[id].map((r) => r.startupMs)),
      rssAtListenMb: medianWithInterval(results[id].map((r) => r.rssAtListenKb / 1024)),
      rssAfterMapsMb: medianWithInterval(results[id].map((r) => r.rssAfterKb / 1024)),
      tsFilesInProfile: medianWithInterval(results[id].map((r) => r.tsFiles)),
      jsFilesInProfile: medianWithInterval(results[id].map((r) => r.jsFiles)),
    });
    return { method: { modules: MODULES, runs, requests, node: process.version, interleaved: true }, on: summary('on'), off: summary('off'), runs: results };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

async function measure({ node, app, maps, requests, storeDir }) {
  const server = await startServer({
    node,
    script: app.entry,
    nodeArgs: CONFIGURATIONS.agent.nodeArgs,
    env: CONFIGURATIONS.agent.env({
      serviceName: 'bench-maps',
      extra: {
        SPAN_PROFILES_DIR: storeDir,
        SPAN_PROFILES_SOURCE_MAPS: String(maps),
        SPAN_PROFILES_HEAP: 'false',
        OTEL_TRACES_EXPORTER: 'none',
        PYROSCOPE_UPLOAD_INTERVAL: '1s',
        PYROSCOPE_PROFILING_INTERVAL: '1ms',
      },
    }),
  });
  try {
    const rssAtListenKb = readMemory(server.pid)?.rssKb;
    await runLoad({ port: server.port, connections: 2, paths: ['/?n=20000'], requests });
    // Two cuts after the load: the maps of every module named are read by then.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const rssAfterKb = readMemory(server.pid)?.rssKb;
    await server.stop('SIGTERM');
    return { startupMs: server.readyMs, rssAtListenKb, rssAfterKb, ...filesInProfiles(storeDir, app) };
  } catch (err) {
    await server.stop('SIGKILL');
    throw err;
  }
}

/** How many distinct module files (.ts and compiled .js) the stored CPU profiles name. */
function filesInProfiles(storeDir, app) {
  const ts = new Set();
  const js = new Set();
  for (const service of readdirSync(storeDir)) {
    for (const name of readdirSync(path.join(storeDir, service)).filter((n) => n.endsWith('.cpu.pb.gz'))) {
      const profile = Profile.decode(zlib.gunzipSync(readFileSync(path.join(storeDir, service, name))));
      for (const fn of profile.function) {
        const file = profile.stringTable.strings[Number(fn.filename)] ?? '';
        if (file.startsWith(app.srcDir)) ts.add(file);
        else if (file.startsWith(app.outDir)) js.add(file);
      }
    }
  }
  return { tsFiles: ts.size, jsFiles: js.size };
}

export function table(result) {
  const row = (label, s) => ({
    'source maps': label,
    'start-up ms': formatInterval(s.startupMs, 0),
    'RSS at listen MB': formatInterval(s.rssAtListenMb, 1),
    'RSS after maps read MB': formatInterval(s.rssAfterMapsMb, 1),
    '.ts files in profile': formatInterval(s.tsFilesInProfile, 0),
    '.js files in profile': formatInterval(s.jsFilesInProfile, 0),
  });
  return [
    formatTable([row('on', result.on), row('off', result.off)]),
    `${result.method.modules} modules, ${result.method.runs} interleaved runs each; median [95 % interval] (* fewer than 6 runs: range)`,
  ].join('\n');
}
