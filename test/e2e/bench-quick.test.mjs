// The benchmark's quick mode runs end to end so it cannot rot: every section must produce its
// figures, and each figure must be a real number. No thresholds: timings are never asserted.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

function runQuickBench(outFile) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'bench', 'run.mjs'), '--quick', '--out', outFile], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Asserts `value` is a finite number (JSON turns NaN and Infinity into null). */
function assertFigure(value, what) {
  assert.equal(typeof value, 'number', `${what} should be a number, got ${JSON.stringify(value)}`);
  assert.ok(Number.isFinite(value), `${what} should be finite, got ${value}`);
}

/** Asserts a 0..1 fraction. */
function assertFraction(value, what) {
  assertFigure(value, what);
  assert.ok(value >= 0 && value <= 1, `${what} should be within 0..1, got ${value}`);
}

test('npm run bench -- --quick produces every section with real figures', { timeout: 480_000 }, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-quick-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const outFile = path.join(dir, 'results.json');

  const run = await runQuickBench(outFile);
  assert.equal(run.code, 0, `bench exited with ${run.code ?? run.signal}\n--- stderr ---\n${run.stderr}\n--- stdout ---\n${run.stdout}`);
  for (const heading of ['== attribution', '== overhead', '== startup', '== memory']) {
    assert.ok(run.stdout.includes(heading), `the table lacks "${heading}":\n${run.stdout}`);
  }

  const report = JSON.parse(readFileSync(outFile, 'utf8'));
  const markdown = readFileSync(path.join(dir, 'results.md'), 'utf8');
  for (const workload of ['http', 'express', 'pg']) assert.match(markdown, new RegExp(`^### ${workload}: `, 'm'), `the Markdown tables have ${workload}`);
  assert.equal(report.quick, true);
  assert.ok(report.machine.cpuModel, 'machine.cpuModel is recorded');
  assertFigure(report.machine.cores, 'machine.cores');
  assert.match(report.benchNode, /^v\d+\./);
  for (const name of ['attribution', 'overhead', 'startup', 'memory']) {
    assert.ok(report.sections[name], `section ${name} is present`);
    assert.equal(report.sections[name].error, undefined, `section ${name} failed: ${report.sections[name].error}`);
  }

  const { attribution, overhead, startup, memory } = report.sections;
  const majors = attribution.variants.map((v) => Number(/^v(\d+)/.exec(v.node)?.[1]));
  assert.deepEqual([...new Set(majors)].sort(), [22, 24, 26], 'attribution ran on Node 22, 24 and 26');
  for (const v of attribution.variants) {
    const where = `attribution ${v.id}`;
    assert.equal(v.error, undefined, `${where} failed: ${v.error}`);
    assert.ok(v.bindingMode && !v.bindingMode.startsWith('unknown'), `${where}: binding mode reported (${v.bindingMode})`);
    assert.ok(v.requests > 0, `${where}: requests were served`);
    assert.ok(v.samples.inRouteFunctions.count > 0, `${where}: samples landed in route functions`);
    for (const weight of ['count', 'cpu']) {
      assertFraction(v.precision[weight], `${where} precision.${weight}`);
      assertFraction(v.recall[weight], `${where} recall.${weight}`);
    }
    assert.ok(v.coverage.spans > 0, `${where}: some spans used >= ${v.coverage.minCpuMs} ms of CPU`);
    assertFraction(v.coverage.fraction, `${where} coverage`);
    assertFigure(v.profiledOverMeasuredCpu, `${where} profiledOverMeasuredCpu`);
  }

  // The overhead section: three workloads x four configurations, each figure real, each comparison
  // with bare and OpenTelemetry alone present, and each configuration doing what it claims.
  for (const workload of ['http', 'express', 'pg']) {
    const w = overhead.workloads[workload];
    assert.ok(w, `overhead workload ${workload} is present`);
    assert.equal(w.error, undefined, `overhead ${workload} failed: ${w.error}`);
    if (w.skipped) {
      // Only outside CI (.ci/run installs PostgreSQL); under CI=true startPostgres throws instead.
      t.diagnostic(`overhead ${workload} skipped: ${w.skipped}`);
      continue;
    }
    for (const id of ['bare', 'otel', 'tracingOnly', 'agent']) {
      const s = w.summary[id];
      const where = `overhead ${workload} ${id}`;
      assert.ok(s.runs >= 1 && s.failed === 0, `${where}: ran (${s.runs} runs, ${s.failed} failed)`);
      assert.equal(s.errors, 0, `${where}: every answer was a 200`);
      for (const key of ['cpuMicrosPerRequest', 'requestsPerSecond', 'p99Ms', 'longestStallMs', 'longestOutsideGcMs', 'longestGcPauseMs', 'eldMaxMs', 'peakRssMb', 'youngGenMb', 'oldUsedMb']) {
        assertFigure(s[key]?.median, `${where} ${key}`);
      }
      assert.ok(s.requestsPerSecond.median > 0, `${where}: requests were served`);
      for (const base of ['bare', 'otel'].filter((b) => b !== id)) {
        for (const key of [`cpuMicrosPerRequestVs_${base}`, `requestsPerSecondVs_${base}`, `peakRssMbVs_${base}`, `p99MsMinus_${base}`]) {
          assertFigure(s[key]?.median, `${where} ${key}`);
          assert.equal(typeof s[key].insideNoise, 'boolean', `${where} ${key}: says whether it is inside the noise`);
        }
      }
    }
    for (const [id, runs] of Object.entries(w.runs)) {
      for (const r of runs.filter((run) => !run.failed)) {
        assert.ok(r.stall.longestOutsideGcMs <= r.stall.longestMs, `overhead ${workload} ${id}: the stall outside GC is part of the longest stall`);
        assert.ok(r.stall.gcPauseMs >= r.stall.longestGcPauseMs, `overhead ${workload} ${id}: the GC total holds the longest pause`);
      }
    }
    const exported = (id) => w.runs[id].reduce((sum, r) => sum + r.exported.profileUploads, 0);
    assert.ok(exported('agent') > 0, `overhead ${workload}: span-profiles uploaded profiles during the windows`);
    assert.equal(exported('tracingOnly'), 0, `overhead ${workload}: span-profiles with the profiler off uploaded none`);
  }

  assert.ok(Object.keys(startup.emptyScript).length >= 3, 'startup measured several configurations');
  for (const [id, r] of Object.entries(startup.emptyScript)) {
    assertFigure(r.wallMs, `startup ${id} wallMs`);
    assertFigure(r.peakRssMb, `startup ${id} peakRssMb`);
    assert.deepEqual(r.exitCodes, [0], `startup ${id}: node -e 0 exits with 0`);
  }
  for (const [id, r] of Object.entries(startup.firstResponse)) {
    assertFigure(r.firstResponseMs, `startup ${id} firstResponseMs`);
    assertFigure(r.rssAfterFirstResponseMb, `startup ${id} rssAfterFirstResponseMb`);
  }

  for (const id of ['bare', 'otel', 'agent']) {
    const r = memory.results[id];
    for (const point of ['atFirst', 'atSecond']) {
      assertFigure(r[point].rssMb, `memory ${id} ${point}.rssMb`);
      assertFigure(r[point].heapUsedMb, `memory ${id} ${point}.heapUsedMb`);
    }
    assertFigure(r.heapSlopeBytesPerRequest, `memory ${id} heapSlopeBytesPerRequest`);
    assert.equal(r.readings.length, 10, `memory ${id}: ten readings`);
    assert.equal(r.errors, 0, `memory ${id}: no failed requests`);
  }
});
