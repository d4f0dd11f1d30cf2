// The README's demo (`npm run demo`: fixtures/shop/demo.mjs), run as a user runs it but shorter: the
// shop under the agent, traffic, SIGTERM, the report. Then, from what it left in its store, checks the
// claim the demo makes: each endpoint's CPU-heavy function is found under that endpoint's span name
// (report --json, and the merged pprof of each span name), and nowhere else; and the checkout's
// downstream call to /inventory/:sku nests as client and server spans in the same trace.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { zstdText } from '../helpers/zstd.mjs';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCli } from '../helpers/cli-run.mjs';
import { readPprofFile } from '../helpers/pprof-samples.mjs';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const demo = path.join(repo, 'fixtures', 'shop', 'demo.mjs');
const scratch = mkdtempSync(path.join(tmpdir(), 'span-profiles-demo-'));
const store = path.join(scratch, 'store');

// Each endpoint's span name, the function its CPU goes to, and the module that function lives in.
const ENDPOINTS = [
  // Now and then it also rebuilds the bestsellers ranking, synchronously (the demo's event-loop stall).
  { span: 'GET /products', fn: 'renderCatalogJson', file: 'catalog-json.mjs', helpers: ['rankBestsellers'] },
  { span: 'GET /products/:id', fn: 'renderProductPage', file: 'product-page.mjs', helpers: ['renderReviewMarkdown', 'renderTemplate', 'renderTokens', 'escapeHtml', 'lookup'] },
  { span: 'GET /search', fn: 'matchSearchTerms', file: 'search.mjs' },
  { span: 'GET /recommendations', fn: 'rankRecommendations', file: 'recommendations.mjs' },
  { span: 'POST /checkout', fn: 'signOrder', file: 'checkout.mjs' },
];
const ownFunctions = (endpoint) => [endpoint.fn, ...(endpoint.helpers ?? [])];

const DEMO_SCRIPT = 'node fixtures/shop/demo.mjs';
const demoScript = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')).scripts?.demo;

/** npm itself: the one running `npm test` when there is one, else the npm on PATH. */
function npm() {
  const cli = process.env.npm_execpath;
  return cli && /npm-cli\.c?js$/.test(cli) ? [process.execPath, [cli]] : ['npm', []];
}

/**
 * Runs the demo to completion, as the README says (`npm run demo`) when `viaNpm`, else its script
 * directly; resolves { code, signal, stdout, stderr }.
 */
function runDemo(env, { viaNpm = false } = {}) {
  // The developer's own agent settings must not steer the run.
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(OTEL_|PYROSCOPE_|SPAN_PROFILES_|DEMO_|NODE_OPTIONS$|NODE_TEST_CONTEXT$)/.test(k)));
  const [command, args] = viaNpm ? [npm()[0], [...npm()[1], 'run', '--silent', 'demo']] : [process.execPath, [demo]];
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: repo, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

let run;
before(async () => {
  // Without the script (a test below says so), the demo itself still gets checked.
  run = await runDemo({ DEMO_SECONDS: '8', DEMO_DIR: store }, { viaNpm: demoScript === DEMO_SCRIPT });
});
after(() => {
  if (!process.env.KEEP_TEST_ARTIFACTS) rmSync(scratch, { recursive: true, force: true });
});

const describeRun = () => `exit ${run.code} (signal ${run.signal})\n--- stdout ---\n${run.stdout}\n--- stderr ---\n${run.stderr}`;

test('package.json has the README\'s `npm run demo`', () => {
  assert.equal(demoScript, DEMO_SCRIPT);
});

test('the demo runs the shop under the agent, drives traffic, and ends with the report and what to do next', () => {
  assert.equal(run.code, 0, describeRun());
  const { stdout } = run;
  assert.match(stdout, new RegExp(`Store +${store.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} +\\(emptied`), 'says where the store is');
  // Progress: without a terminal, whole lines (no carriage returns), with per-endpoint counts.
  assert.ok(!stdout.includes('\r'), 'no in-place updates without a TTY');
  assert.match(stdout, /\d+\/8 s +[\d,]+ requests, \d+\/s \| \/products\/:id [\d,]+ +\/search [\d,]+/);
  assert.match(stdout, /Stopping the shop with SIGTERM.*stopped in/);
  assert.match(stdout, /Wrote +\d+ CPU profiles? and \d+ span files?/);
  // The report itself, then where to look further and how to send to Grafana.
  assert.match(stdout, /CPU by span name/);
  for (const { span } of ENDPOINTS) assert.ok(stdout.includes(span), `the report names ${span}`);
  for (const command of ['report', 'pprof', 'view']) assert.ok(stdout.includes(`npx span-profiles ${command} ${store}`), `suggests ${command}`);
  assert.match(stdout, /PYROSCOPE_SERVER_ADDRESS=\S+ \\\n\s+OTEL_EXPORTER_OTLP_ENDPOINT=\S+/);
  assert.doesNotMatch(run.stderr, /\[span-profiles\]/, 'the agent had nothing to warn about');
});

test('report --json: every endpoint under its own span name, its own code the hottest', async (t) => {
  if (run.code !== 0) return t.skip('the demo failed (see the first test)');
  const { code, stdout, stderr } = await runCli(['report', store, '--json', '--service', 'shop', '--limit', '1000000']);
  assert.equal(code, 0, stderr);
  const report = JSON.parse(stdout);
  const byName = new Map(report.byName.map((entry) => [entry.name, entry]));
  // The downstream call of /checkout is a server span with a remote parent: a local root of its own.
  for (const name of [...ENDPOINTS.map((e) => e.span), 'GET /inventory/:sku']) {
    assert.ok(byName.get(name)?.spans > 0, `report lists ${name}; it has ${[...byName.keys()].join(', ')}`);
  }
  const otherFunctions = (endpoint) => ENDPOINTS.filter((e) => e !== endpoint).flatMap(ownFunctions);
  for (const endpoint of ENDPOINTS) {
    const hottest = byName.get(endpoint.span).hottestFunction;
    assert.ok(hottest, `${endpoint.span} has a hottest function`);
    assert.ok(!otherFunctions(endpoint).includes(hottest.name), `${endpoint.span}'s hottest function ${hottest.name} belongs to another endpoint`);
  }
  // Where the work is all in one function, the report names it, with its file.
  for (const endpoint of ENDPOINTS.filter((e) => !e.helpers && e.span !== 'POST /checkout')) {
    const hottest = byName.get(endpoint.span).hottestFunction;
    assert.equal(hottest.name, endpoint.fn, `${endpoint.span}: hottest ${hottest.name} (${hottest.file})`);
    assert.ok(hottest.file.endsWith(`fixtures/shop/${endpoint.file}`), `${hottest.name} is in ${hottest.file}`);
  }
  // The product page's work is spread over the page, the Markdown and the template engine: together
  // they outweigh any other function (socket writes, Express). Self CPU summed over its spans' hottest
  // functions (the report lists 5 per span; a span has a few samples, so that is nearly all of them).
  const page = ENDPOINTS.find((e) => e.span === 'GET /products/:id');
  const self = new Map();
  for (const root of report.rootSpans.filter((r) => r.name === page.span)) {
    for (const fn of root.hottestFunctions) self.set(fn.name, (self.get(fn.name) ?? 0) + fn.selfNanos);
  }
  const own = ownFunctions(page).reduce((sum, name) => sum + (self.get(name) ?? 0), 0);
  const [topOther, topOtherNanos] = [...self].filter(([name]) => !ownFunctions(page).includes(name)).sort((a, b) => b[1] - a[1])[0] ?? ['none', 0];
  assert.ok(own > topOtherNanos, `${page.span}: its own functions ${(own / 1e6).toFixed(0)} ms, ${topOther} alone ${(topOtherNanos / 1e6).toFixed(0)} ms`);
});

test('the closing report names the requests that were slow because of the bestsellers rebuild', async (t) => {
  if (run.code !== 0) return t.skip('the demo failed (see the first test)');
  const closing = run.stdout.slice(run.stdout.indexOf('--sort blocked'));
  assert.match(closing, /Root spans, most blocked first/, describeRun());
  assert.match(closing, /blocked by:[\s\S]*GET \/products +rankBestsellers/, 'the text names the blocker and its function');

  const { code, stdout, stderr } = await runCli(['report', store, '--sort', 'blocked', '--json', '--limit', '30']);
  assert.equal(code, 0, stderr);
  const { rootSpans } = JSON.parse(stdout);
  // Requests that spent most of their time blocked, by the ranking rebuilt in another request.
  const victims = rootSpans.filter((r) => {
    const [top] = r.breakdown?.blockedBy ?? [];
    return top?.name === 'GET /products' && top.functions.includes('rankBestsellers') && r.breakdown.blockedNanos > r.breakdown.durationNanos / 3;
  });
  assert.ok(victims.length >= 1, `no slow request blamed on rankBestsellers: ${JSON.stringify(rootSpans.slice(0, 8).map((r) => [r.name, r.durationMs, r.breakdown?.blockedBy?.[0]]))}`);
  for (const r of rootSpans) {
    const b = r.breakdown;
    assert.equal(b.cpuNanos + b.blockedNanos + b.waitingNanos, b.durationNanos, `${r.name} ${r.spanId}: the parts add up`);
  }
});

test('pprof --name: most of each endpoint\'s CPU is under its function, none under another endpoint\'s', async (t) => {
  if (run.code !== 0) return t.skip('the demo failed (see the first test)');
  for (const endpoint of ENDPOINTS) {
    const file = path.join(scratch, `${endpoint.fn}.pb.gz`);
    const { code, stderr } = await runCli(['pprof', store, '--name', endpoint.span, '-o', file]);
    assert.equal(code, 0, stderr);
    const { samples, sampleTypes } = readPprofFile(file);
    const cpu = sampleTypes.indexOf('cpu/nanoseconds');
    assert.ok(cpu >= 0, `cpu/nanoseconds in ${sampleTypes}`);
    const total = samples.reduce((sum, s) => sum + s.values[cpu], 0);
    const under = (names) => samples.filter((s) => s.stack.some((frame) => names.includes(frame))).reduce((sum, s) => sum + s.values[cpu], 0);
    const share = under([endpoint.fn]) / total;
    // Measured 44-94% (the rest: Express, the agent's spans, socket writes, more of them on a busy
    // machine); 30% leaves a margin and is still far above what mixed-up labels would give.
    assert.ok(share >= 0.3, `${endpoint.span}: ${(share * 100).toFixed(0)}% of ${(total / 1e6).toFixed(0)} ms CPU under ${endpoint.fn}`);
    for (const other of ENDPOINTS.filter((e) => e !== endpoint)) {
      const stray = under(ownFunctions(other));
      assert.equal(stray, 0, `${endpoint.span}: ${(stray / 1e6).toFixed(1)} ms CPU under ${other.fn}, which only ${other.span} runs`);
    }
  }
});

test('the checkout\'s call to /inventory/:sku nests: client span under POST /checkout, server span under the client', (t) => {
  if (run.code !== 0) return t.skip('the demo failed (see the first test)');
  const dir = path.join(store, 'shop');
  const spans = [];
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.spans.jsonl.zst'))) {
    for (const line of zstdText(path.join(dir, name)).split('\n')) {
      if (line === '') continue;
      for (const resourceSpans of JSON.parse(line).resourceSpans) for (const scope of resourceSpans.scopeSpans) spans.push(...scope.spans);
    }
  }
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const attribute = (span, key) => span.attributes?.find((a) => a.key === key)?.value?.stringValue;
  const SERVER = 2;
  const CLIENT = 3;
  const inventory = spans.filter((s) => s.name === 'GET /inventory/:sku' && s.kind === SERVER);
  assert.ok(inventory.length > 0, 'inventory server spans were exported');
  let nested = 0;
  for (const server of inventory) {
    const client = byId.get(server.parentSpanId);
    if (client === undefined) continue; // its client span may be in a batch not yet written at exit
    assert.equal(client.kind, CLIENT, 'the inventory server span\'s parent is the outgoing call');
    assert.equal(client.traceId, server.traceId);
    let root = client;
    while (root.parentSpanId && byId.has(root.parentSpanId)) root = byId.get(root.parentSpanId);
    assert.equal(root.name, 'POST /checkout');
    assert.equal(root.traceId, server.traceId);
    // Both local roots carry their own profile id, so each gets its own CPU in Grafana.
    assert.equal(attribute(root, 'pyroscope.profile.id'), root.spanId);
    assert.equal(attribute(server, 'pyroscope.profile.id'), server.spanId);
    nested++;
  }
  assert.ok(nested > inventory.length / 2, `${nested} of ${inventory.length} inventory calls nest under a checkout`);
});

test('a bad DEMO_SECONDS is refused with a message naming it, exit 2', async () => {
  const { code, stderr, stdout } = await runDemo({ DEMO_SECONDS: 'soon', DEMO_DIR: path.join(scratch, 'unused') });
  assert.equal(code, 2, stdout + stderr);
  assert.match(stderr, /DEMO_SECONDS="soon" is not a number from 1 to 3600; unset it to use 20/);
});

test('a DEMO_DIR holding anything but a store is refused, not emptied', async () => {
  const foreign = path.join(scratch, 'my-project');
  mkdirSync(foreign);
  writeFileSync(path.join(foreign, 'notes.txt'), 'keep me');
  const { code, stderr } = await runDemo({ DEMO_SECONDS: '1', DEMO_DIR: foreign });
  assert.equal(code, 1, stderr);
  assert.match(stderr, /my-project holds files that are not a span-profiles store \(notes\.txt\); set DEMO_DIR to a new or empty directory/);
  assert.ok(existsSync(path.join(foreign, 'notes.txt')));
});

test('no profile written (profiler switched off) fails the demo with a clear message', async () => {
  const unused = path.join(scratch, 'no-profiles');
  const { code, stderr } = await runDemo({ DEMO_SECONDS: '1', DEMO_DIR: unused, OTEL_PYROSCOPE_START_PROFILING: 'false' });
  assert.equal(code, 1, stderr);
  assert.match(stderr, /demo failed: no CPU profile was written to .*shop after [\d,]+ requests/);
  assert.match(stderr, /npx span-profiles doctor/);
});
