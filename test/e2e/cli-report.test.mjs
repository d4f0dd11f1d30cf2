// `span-profiles report` run as users run it (the bin, a child process) on stores written by the
// store's own writers: text output in 80 columns, --json, filters, and exit codes.
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { runCli as run } from '../helpers/cli-run.mjs';
import { buildCpuProfile, labelsOf, makeSpans, T0, writeShopStore, writeStore } from '../helpers/store-fixtures.mjs';

const scratch = mkdtempSync(path.join(tmpdir(), 'span-profiles-cli-report-'));
const store = path.join(scratch, 'store');
let shop;
before(async () => {
  shop = await writeShopStore(store);
});
after(() => rmSync(scratch, { recursive: true, force: true }));

const runCli = (args, env = {}) => run(args, { env, cwd: scratch });

test('report: root spans by CPU, CPU by name, hottest functions of the top ones, within 80 columns', async () => {
  const { code, stdout, stderr } = await runCli(['report', store], { COLUMNS: '80' });
  assert.equal(code, 0, stderr);
  const lines = stdout.split('\n');
  for (const line of lines) assert.ok(line.length <= 80, `too wide (${line.length}): ${line}`);
  const table = lines.slice(lines.findIndex((l) => l.startsWith('Root spans by CPU time')) + 2);
  assert.match(table[0], /330 ms +33 +400 ms +[0-9a-f]{8} +POST \/checkout$/);
  assert.match(table[1], /80 ms +8 +120 ms +[0-9a-f]{8} +GET \/products$/);
  assert.ok(table[0].includes(shop.checkout.spanContext().traceId.slice(0, 8)));
  assert.match(stdout, /CPU sampled 510 ms, 98% of it in 4 root spans/);
  assert.match(stdout, /130 ms +2 GET \/products +sortProducts/);
  assert.match(stdout, /#1 POST \/checkout: 330 ms CPU, took 400 ms, 33 samples/);
  assert.ok(stdout.includes(`trace ${shop.checkout.spanContext().traceId}  span ${shop.checkout.spanContext().spanId}`));
  assert.match(stdout, /300 ms +300 ms hashPassword +\/app\/src\/checkout\.js:7/);
  assert.match(stdout, /20 ms +80 ms renderProducts +\/app\/src\/catalog\.js:30/);
  assert.equal(stderr, '');
});

test('report --json: every listed root span with its hottest functions', async () => {
  const { code, stdout } = await runCli(['report', store, '--json', '--limit', '2']);
  assert.equal(code, 0);
  const report = JSON.parse(stdout);
  assert.equal(report.matchingRootSpans, 4);
  assert.equal(report.rootSpans.length, 2);
  const [top] = report.rootSpans;
  assert.equal(top.name, 'POST /checkout');
  assert.equal(top.spanId, shop.checkout.spanContext().spanId);
  assert.equal(top.traceId, shop.checkout.spanContext().traceId);
  assert.equal(top.cpuNanos, 330e6);
  assert.equal(top.samples, 33);
  assert.equal(top.durationMs, 400);
  assert.deepEqual(top.hottestFunctions[0], { name: 'hashPassword', file: '/app/src/checkout.js', line: 7, selfNanos: 300e6, totalNanos: 300e6 });
  assert.equal(report.cpuNanos, 510e6);
  assert.deepEqual(report.byName.map((n) => [n.name, n.spans]), [['POST /checkout', 1], ['GET /products', 2], ['GET /search', 1]]);
  assert.deepEqual(report.problems, []);
});

test('report filters: --name, --span and --trace (prefixes too), --service, --since/--until', async () => {
  const names = async (...args) => {
    const { code, stdout, stderr } = await runCli(['report', store, '--json', ...args]);
    return code === 0 ? JSON.parse(stdout).rootSpans.map((r) => r.name) : { code, stderr };
  };
  assert.deepEqual(await names('--name', 'GET /products'), ['GET /products', 'GET /products']);
  assert.deepEqual(await names('--span', shop.search.spanContext().spanId), ['GET /search']);
  assert.deepEqual(await names('--span', shop.search.spanContext().spanId.slice(0, 8).toUpperCase()), ['GET /search']);
  assert.deepEqual(await names('--trace', shop.checkout.spanContext().traceId), ['POST /checkout']);
  assert.deepEqual(await names('--service', 'shop', '--limit', '1'), ['POST /checkout']);
  assert.deepEqual(await names('--since', '2026-11-24T20:15:31.000Z'), ['GET /products']); // products2 starts at +900 ms
  assert.deepEqual(await names('--until', '2026-11-24T20:15:30.250Z'), ['GET /products']); // products1 only
  const none = await names('--name', 'GET /nothing');
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no root span with CPU samples matches --name "GET \/nothing"/);
  assert.match(none.stderr, /Span names seen: "POST \/checkout"/);
  const otherService = await runCli(['report', store, '--service', 'billing']);
  assert.equal(otherService.code, 1);
  assert.match(otherService.stderr, /no CPU profiles of service "billing"/);
  const future = await runCli(['report', store, '--since', '1m']); // the fixture is in 2026-11; "now" is earlier or later, never within a minute
  assert.equal(future.code, 1);
});

test('report: bad arguments exit 2 with the reason and a pointer to --help', async () => {
  for (const [args, reason] of [
    [['--bogus'], /Unknown option '--bogus'/],
    [['--limit', 'ten'], /--limit 'ten' is not a positive whole number/],
    [['--limit', '0'], /--limit '0' is not a positive whole number/],
    [['--since', 'yesterday'], /--since 'yesterday' is neither an ISO time/],
    [['--span', 'xyz'], /--span 'xyz' is not a span id/],
    [['--trace', '1234'], /--trace '1234' is not a trace id/],
    [['--name'], /argument missing|requires an argument|option '--name <value>'/i],
    [[store, 'extra'], /unexpected argument 'extra'/],
  ]) {
    const { code, stdout, stderr } = await runCli(['report', ...args]);
    assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
    assert.match(stderr, reason);
    assert.match(stderr, /Run 'span-profiles report --help' for usage\./);
    assert.equal(stdout, '');
  }
});

test('report: missing and empty store directories exit 1 with what to do', async () => {
  const missing = await runCli(['report', path.join(scratch, 'nope')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no store at .*nope \(it does not exist\)/);
  assert.match(missing.stderr, /--require @acme\/span-profiles\/register/);
  const empty = path.join(scratch, 'empty');
  mkdirSync(empty);
  const result = await runCli(['report', empty]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /no CPU profiles in .*empty/);
  assert.equal(result.stdout, '');
});

test('report reads SPAN_PROFILES_DIR when no dir is given; --help exits 0', async () => {
  const { code, stdout } = await runCli(['report', '--limit', '1'], { SPAN_PROFILES_DIR: store });
  assert.equal(code, 0);
  assert.match(stdout, /POST \/checkout/);
  const help = await runCli(['report', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: span-profiles report \[dir\] \[options\]/);
  for (const line of help.stdout.split('\n')) assert.ok(line.length <= 80, line);
});

test('report: long span names and paths are cut to fit 80 columns, keeping the file end', async () => {
  const dir = path.join(scratch, 'long');
  const longName = 'GET /api/v1/organizations/:organizationId/projects/:projectId/environments/:environmentId/deployments';
  const [root] = await makeSpans('svc', [{ name: longName, startMs: T0, durationMs: 5 }]);
  const file = `/srv/${'deeply/nested/'.repeat(8)}handlers/deployments-controller.js`;
  const data = buildCpuProfile([{ stack: [['renderDeploymentListWithAllTheDetailsAndMore', file, 42]], cpuMs: 12, labels: labelsOf(root) }]);
  await writeStore(dir, { service: 'svc', spans: [root], profiles: [{ data, startMs: T0, endMs: T0 + 1000 }] });
  const { code, stdout } = await runCli(['report', dir], { COLUMNS: '80' });
  assert.equal(code, 0);
  for (const line of stdout.split('\n')) assert.ok(line.length <= 80, `too wide (${line.length}): ${line}`);
  assert.match(stdout, /~12 ms +1 +5\.0 ms +[0-9a-f]{8} +GET \/api\/v1\/organizations\S*…$/m);
  assert.match(stdout, /…\S*deployments-controller\.js:42$/m);
  assert.match(stdout, /^~ an estimate: the figure rests on 2 samples or fewer$/m);

  // Piped without COLUMNS nothing is cut; a wider COLUMNS is used.
  const piped = await runCli(['report', dir], { COLUMNS: '' });
  assert.ok(piped.stdout.includes(longName), piped.stdout);
  assert.ok(piped.stdout.includes(`${file}:42`), piped.stdout);
  const wide = await runCli(['report', dir], { COLUMNS: '300' });
  assert.ok(wide.stdout.includes(`${file}:42`), wide.stdout);
  for (const line of wide.stdout.split('\n')) assert.ok(line.length <= 300, `too wide (${line.length}): ${line}`);
  assert.ok(wide.stdout.split('\n').some((line) => line.length > 80), 'uses the width it is given');
});

test('report --details 0: no per-span details; a negative or fractional count is refused', async () => {
  const none = await runCli(['report', store, '--details', '0']);
  assert.equal(none.code, 0, none.stderr);
  assert.doesNotMatch(none.stdout, /^#1 /m);
  assert.match(none.stdout, /Root spans by CPU time/);
  for (const bad of ['-1', '1.5', 'x']) {
    const refused = await runCli(['report', store, `--details=${bad}`]);
    assert.equal(refused.code, 2, `--details ${bad}: ${refused.stdout}`);
    assert.match(refused.stderr, new RegExp(`--details '${bad.replace('.', '\\.')}' is not a whole number`));
  }
});
