// `span-profiles pprof`: the merged profile of a span, a trace or a span name, read back by
// pprof-format and by `go tool pprof` (the independent decoder), plus exit codes.
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { runCli as run } from '../helpers/cli-run.mjs';
import { goPprofRaw, goPprofSkipReason } from '../helpers/go-pprof.mjs';
import { decodePprof } from '../helpers/pprof-samples.mjs';
import { writeShopStore } from '../helpers/store-fixtures.mjs';

const scratch = mkdtempSync(path.join(tmpdir(), 'span-profiles-cli-pprof-'));
const store = path.join(scratch, 'store');
let shop;
before(async () => {
  shop = await writeShopStore(store);
});
after(() => rmSync(scratch, { recursive: true, force: true }));
const runCli = (args, options = {}) => run(args, { cwd: scratch, ...options });

test('pprof --name: the samples of every root span with that name, labels kept, merged', async () => {
  const out = path.join(scratch, 'products.pb.gz');
  const { code, stdout, stderr } = await runCli(['pprof', store, '--name', 'GET /products', '-o', out]);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^Wrote 130 ms CPU of 2 root spans to .*products\.pb\.gz\nOpen it: go tool pprof -http=: /);
  const profile = decodePprof(readFileSync(out));
  assert.deepEqual(profile.sampleTypes, ['samples/count', 'cpu/nanoseconds']);
  assert.equal(profile.periodType, 'cpu/nanoseconds');
  assert.equal(profile.period, 10_000_000);
  const spanIds = new Set(profile.samples.map((s) => s.labels.span_id));
  assert.deepEqual(spanIds, new Set([shop.products1.spanContext().spanId, shop.products2.spanContext().spanId]));
  assert.ok(profile.samples.every((s) => s.labels.span_name === 'GET /products'));
  assert.equal(profile.samples.reduce((sum, s) => sum + s.values[1], 0), 130e6);
});

test('pprof --span writes a profile `go tool pprof` reads', { skip: goPprofSkipReason() }, async () => {
  const out = path.join(scratch, 'checkout.pb.gz');
  const { code } = await runCli(['pprof', store, '--span', shop.checkout.spanContext().spanId, '-o', out]);
  assert.equal(code, 0);
  const raw = await goPprofRaw(out);
  assert.deepEqual(raw.sampleTypes, ['samples/count', 'cpu/nanoseconds']);
  assert.equal(raw.periodType, 'cpu/nanoseconds');
  const hash = raw.samples.find((s) => s.stack[0] === 'hashPassword');
  assert.ok(hash, JSON.stringify(raw.samples));
  assert.deepEqual(hash.values, [30, 300e6]);
  assert.deepEqual(hash.stack, ['hashPassword', 'checkout', 'handleRequest']);
  const frames = [...raw.locations.values()].flat();
  assert.deepEqual(frames.find((f) => f.name === 'hashPassword'), { name: 'hashPassword', file: '/app/src/checkout.js', line: 7 });
  assert.equal(hash.labels.span_id, shop.checkout.spanContext().spanId);
  assert.equal(hash.labels.trace_id, shop.checkout.spanContext().traceId);
});

test('pprof --trace with -o - writes to stdout', async () => {
  const { code, stdout, stderr } = await runCli(['pprof', store, '--trace', shop.search.spanContext().traceId, '-o', '-'], { binary: true });
  assert.equal(code, 0, stderr);
  assert.match(stderr, /wrote 40 ms CPU of 1 root span to stdout/);
  const profile = decodePprof(stdout);
  assert.deepEqual(profile.samples.map((s) => s.stack[0]), ['matchAll']);
});

test('pprof: choosing nothing, bad ids and unknown flags exit 2; no match and empty stores exit 1', async () => {
  for (const [args, reason] of [
    [[store], /choose the samples with --span ID, --trace ID or --name NAME/],
    [[store, '--span', 'nothex!!'], /--span 'nothex!!' is not a span id/],
    [[store, '--name', 'x', '--output', ''], /--output must not be empty/],
    [[store, '--name', 'x', '--format', 'svg'], /Unknown option '--format'/],
  ]) {
    const { code, stderr } = await runCli(['pprof', ...args]);
    assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
    assert.match(stderr, reason);
  }
  const none = await runCli(['pprof', store, '--span', 'ffffffffffffffff', '-o', path.join(scratch, 'none.pb.gz')]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no root span with CPU samples matches/);
  assert.ok(!existsSync(path.join(scratch, 'none.pb.gz')));
  const empty = path.join(scratch, 'empty');
  mkdirSync(empty);
  const emptyRun = await runCli(['pprof', empty, '--name', 'x']);
  assert.equal(emptyRun.code, 1);
  assert.match(emptyRun.stderr, /no CPU profiles in/);
  const missing = await runCli(['pprof', path.join(scratch, 'missing'), '--name', 'x']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no store at/);
  const help = await runCli(['pprof', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: span-profiles pprof/);
});
