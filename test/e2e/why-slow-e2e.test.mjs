// "Why was it slow" end to end: a request that only waits on a timer, stuck behind another request's long
// synchronous loop. From the store alone, `report --sort duration --json` blames the loop's span name
// and function for most of the waiting request's duration, and does not call the loop's own CPU blocked.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { runCli } from '../helpers/cli-run.mjs';
import { fixturePath, killAllApps, spawnApp } from '../helpers/spawn-app.mjs';

after(killAllApps);

let report;
let stalls;
let text;
before(async () => {
  const app = await spawnApp({
    app: fixturePath('blocking-app/index.js'),
    env: { PYROSCOPE_UPLOAD_INTERVAL: '2s', OTEL_BSP_SCHEDULE_DELAY: '100' },
  });
  await app.request('/wait?ms=1'); // warm up Express and the instrumentation
  const waiting = app.request('/wait?ms=50');
  await new Promise((resolve) => setTimeout(resolve, 15)); // /wait's timer is set, then the loop starts
  // 900 ms of CPU: on a loaded machine the sampler can miss a tick and cut the loop's stretch in two, and
  // the longest piece must still be a stall of over 300 ms.
  const spinning = app.request('/spin?ms=900');
  const [w, s] = await Promise.all([waiting, spinning]);
  assert.equal(w.status, 200);
  assert.equal(s.status, 200);
  // Requests that only wait, with nobody else running: almost surely at least one of them without a CPU sample.
  // (Two were not always enough: once, under the whole suite's load, each caught one sample.)
  await Promise.all([app.request('/wait?ms=300'), app.request('/wait?ms=250'), ...[120, 90, 60, 30].map((ms) => app.request(`/wait?ms=${ms}`))]);
  app.kill('SIGTERM'); // flushes the last profile and the spans to the store
  const exit = await app.waitForExit(20_000);
  assert.equal(exit.signal ?? exit.code, exit.signal ? 'SIGTERM' : 143);

  const json = await runCli(['report', app.storeDir, '--sort', 'duration', '--json']);
  assert.equal(json.code, 0, json.stderr);
  report = JSON.parse(json.stdout);
  const stallRun = await runCli(['report', app.storeDir, '--stalls', '--json']);
  assert.equal(stallRun.code, 0, stallRun.stderr);
  stalls = JSON.parse(stallRun.stdout).stalls;
  text = await runCli(['report', app.storeDir, '--sort', 'duration']);
});

test('the waiting request is blamed on the loop: span name and function, most of its duration', () => {
  const wait = report.rootSpans.find((r) => r.name === 'GET /wait' && r.durationMs > 300);
  assert.ok(wait, `a slow GET /wait among ${JSON.stringify(report.rootSpans.map((r) => [r.name, r.durationMs]))}`);
  const b = wait.breakdown;
  assert.equal(b.cpuNanos + b.blockedNanos + b.waitingNanos, b.durationNanos, 'the parts add up to the duration');
  assert.ok(Math.abs(b.durationNanos / 1e6 - wait.durationMs) < 0.01);
  const [top] = b.blockedBy;
  assert.equal(top.name, 'GET /spin', JSON.stringify(b));
  assert.equal(top.functions[0], 'spinEventLoop');
  assert.ok(top.cpuNanos > 0.5 * b.durationNanos, `blocked by the loop ${top.cpuNanos / 1e6} ms of ${b.durationNanos / 1e6} ms`);
  assert.ok(b.cpuNanos < 0.1 * b.durationNanos, 'the waiting request itself hardly ran');
  // The event-loop delay the agent measured independently (perf_hooks) confirms the stall.
  assert.ok(wait.loopDelayMaxNanos > 300e6, `event-loop delay while it was open: ${wait.loopDelayMaxNanos / 1e6} ms`);
});

test('the loop\'s own CPU is its CPU, not "blocked"', () => {
  const spin = report.rootSpans.find((r) => r.name === 'GET /spin');
  const b = spin.breakdown;
  assert.equal(b.cpuNanos + b.blockedNanos + b.waitingNanos, b.durationNanos);
  assert.ok(!b.blockedBy.some((x) => x.name === 'GET /spin'), JSON.stringify(b.blockedBy));
  assert.ok(b.cpuNanos > 0.5 * b.durationNanos, `own CPU ${b.cpuNanos / 1e6} ms of ${b.durationNanos / 1e6} ms`);
  assert.ok(b.blockedNanos < 0.25 * b.durationNanos, `blocked ${b.blockedNanos / 1e6} ms`);
});

test('--sort duration lists every root span slowest first, those without samples too', () => {
  const durations = report.rootSpans.map((r) => r.durationMs);
  assert.deepEqual(durations, [...durations].sort((a, b) => b - a));
  assert.equal(report.sort, 'duration');
  assert.ok(report.rootSpans.some((r) => r.samples === 0), `a root span with no samples among ${JSON.stringify(report.rootSpans.map((r) => [r.name, r.durationMs, r.samples]))}`);

  assert.match(text.stdout, /Root spans, slowest first/);
  assert.match(text.stdout, /blocked by:/);
  assert.match(text.stdout, /GET \/spin +spinEventLoop/);
});

test('--stalls: the loop is the longest stall, with the waiting request open meanwhile', () => {
  const [longest] = stalls;
  assert.equal(longest.name, 'GET /spin');
  assert.equal(longest.functions[0], 'spinEventLoop');
  assert.ok(longest.durationNanos > 300e6, `${longest.durationNanos / 1e6} ms`);
  assert.ok(longest.othersOpen >= 1);
  assert.ok(longest.loopDelayMaxNanos > 300e6, `event-loop delay in those seconds: ${longest.loopDelayMaxNanos / 1e6} ms`);
});
