// The native profiler cannot load (no @datadog/pprof prebuild for this platform/ABI): a copy of the
// image's /autoinstrumentation tree with the prebuilds deleted, injected by NODE_OPTIONS. Tracing runs,
// one warning says why profiling is off, nothing is uploaded, and the app serves untouched.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { startOtlpReceiver } from '../helpers/otlp-receiver.mjs';
import { startPyroscopeReceiver } from '../helpers/pyroscope-receiver.mjs';
import { pinnedNode, repoRoot, spawnApp } from '../helpers/spawn-app.mjs';
import { GUARDED_APP, agentLines, agentStatsOf, assertAllServed, assertNoFaultsReachedApp, startLoad } from '../helpers/reliability-harness.mjs';

const run = promisify(execFile);
let workDir;
let treeEntry;

before(async () => {
  workDir = mkdtempSync(path.join(os.tmpdir(), 'span-profiles-no-native-'));
  const tree = path.join(workDir, 'autoinstrumentation');
  await run(pinnedNode(), [path.join(repoRoot, 'autoinstrumentation', 'build.mjs'), tree, '--skip-build'], {
    cwd: repoRoot,
    maxBuffer: 16 * 1024 * 1024,
    timeout: 5 * 60 * 1000,
  });
  const pprofDir = path.join(tree, 'node_modules', '@datadog', 'pprof');
  assert.ok(existsSync(path.join(pprofDir, 'prebuilds')), 'the tree ships the pprof prebuilds');
  rmSync(path.join(pprofDir, 'prebuilds'), { recursive: true });
  rmSync(path.join(pprofDir, 'build'), { recursive: true, force: true });
  treeEntry = path.join(tree, 'autoinstrumentation.js');
});

after(() => {
  if (workDir && !process.env.KEEP_TEST_ARTIFACTS) rmSync(workDir, { recursive: true, force: true });
});

test('without a loadable native profiler: tracing runs, one warning says why, the app serves', async (t) => {
  const pyroscope = await startPyroscopeReceiver();
  const otlp = await startOtlpReceiver();
  t.after(() => Promise.all([pyroscope.close(), otlp.close()]));
  const app = await spawnApp({
    app: GUARDED_APP,
    loader: 'none',
    env: {
      NODE_OPTIONS: `--require ${treeEntry}`,
      PYROSCOPE_SERVER_ADDRESS: pyroscope.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      PYROSCOPE_UPLOAD_INTERVAL: '1s',
      OTEL_BSP_SCHEDULE_DELAY: '200',
    },
  });
  const startedAt = Date.now();
  const load = startLoad(app);
  // Served spans from more than two upload intervals after the start: the profiler would have cut twice by then.
  await otlp.waitForSpans((spans) => spans.some((s) => s.kind === 'SERVER' && Number(s.startTimeUnixNano / 1_000_000n) > startedAt + 2500));
  const result = await load.stop();
  assertAllServed(result);
  await assertNoFaultsReachedApp(app);

  const lines = agentLines(app.stderr());
  assert.equal(lines.length, 1, `exactly one line from the agent:\n${lines.join('\n')}`);
  assert.match(
    lines[0],
    new RegExp(
      `warn: CPU profiling is off: the native profiler \\(@datadog/pprof\\) did not load for ${process.platform}-${process.arch}, ` +
        `Node ABI ${process.versions.modules}: .*No native build was found.*; tracing continues`,
    ),
  );
  const stats = await agentStatsOf(app);
  assert.equal(stats.profilerState.running, false);
  assert.equal(pyroscope.requests.length, 0, 'nothing is uploaded');
  assert.ok(otlp.spans.every((s) => s.attributes['pyroscope.profile.id'] === undefined), 'no span promises a profile that does not exist');
});
