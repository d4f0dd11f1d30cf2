// The local store: file names, the format read back by independent readers (gunzip + pprof-format,
// JSON.parse per line), spans file rotation, the size cap, unwritable directories, and the reader's
// tolerance of bad content.
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { buildCpuProfile, labelsOf, makeSpans, T0, writeShopStore } from '../helpers/store-fixtures.mjs';
import { zstdText, zstdUnavailable } from '../helpers/zstd.mjs';

const require = createRequire(import.meta.url);
const { Profile } = require('pprof-format');
const { ProfileStoreExporter } = require('../../dist/store/write/profile-store-exporter.js');
const { SpanStoreExporter } = require('../../dist/store/write/span-store-exporter.js');
const { StoreSizeCap } = require('../../dist/store/write/size-cap.js');
const { readStore, readProfile, resolveInside } = require('../../dist/store/read/reader.js');
const { formatStamp, parseStamp, serviceDirName } = require('../../dist/store/layout.js');
const span = require('../../dist/store/read/span-cpu.js');
const { getLogger } = require('../../dist/logger.js');

const scratch = mkdtempSync(path.join(tmpdir(), 'span-profiles-store-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let dirCount = 0;
const freshDir = () => path.join(scratch, `store-${++dirCount}`);

function captureWarnings() {
  const lines = [];
  getLogger().setSink((line) => lines.push(line));
  return { lines, restore: () => getLogger().setSink((line) => process.stderr.write(line + '\n')) };
}

function profileOf(data, startMs, endMs, kind = 'cpu') {
  return { kind, data, startMs, endMs, sampleCount: 1, intervalMicros: 10_000 };
}

function exportSpans(exporter, spans) {
  return new Promise((resolve) => exporter.export(spans, resolve));
}

test('stamps are compact UTC with milliseconds and round-trip', () => {
  assert.equal(formatStamp(T0), '20261124T201530.123Z');
  assert.equal(parseStamp('20261124T201530.123Z'), T0);
  assert.equal(parseStamp('2026-11-24T20:15:30Z'), undefined);
  assert.equal(serviceDirName('@acme/shop api'), '_acme_shop_api');
  assert.equal(serviceDirName('..'), '__');
  assert.equal(serviceDirName('shop-v1.2_x'), 'shop-v1.2_x');
});

test('profiles land as <service>/<from>_<until>_<pid>.<kind>.pb.gz, byte for byte, with no .tmp left', async () => {
  const dir = freshDir();
  const exporter = new ProfileStoreExporter({ dir, serviceName: '@acme/shop', maxBytes: 1 << 30 });
  const cpu = buildCpuProfile([{ stack: [['work', '/app/a.js', 3]], cpuMs: 20, labels: { span_id: '00f067aa0ba902b7', trace_id: '4bf92f3577b34da6a3ce929d0e0e4736', span_name: 'GET /x' } }]);
  exporter.enqueue(profileOf(cpu, T0, T0 + 15_000));
  exporter.enqueue(profileOf(cpu, T0, T0 + 15_000, 'wall'));
  await exporter.flush(Date.now() + 10_000);

  const files = readdirSync(path.join(dir, '_acme_shop')).sort();
  assert.deepEqual(files, [
    `20261124T201530.123Z_20261124T201545.123Z_${process.pid}.cpu.pb.gz`,
    `20261124T201530.123Z_20261124T201545.123Z_${process.pid}.wall.pb.gz`,
  ]);
  const bytes = readFileSync(path.join(dir, '_acme_shop', files[0]));
  assert.deepEqual(bytes, cpu);
  // Independent reader: gunzip + pprof-format.
  const decoded = Profile.decode(gunzipSync(bytes));
  const strings = decoded.stringTable.strings;
  assert.deepEqual(decoded.sampleType.map((t) => `${strings[Number(t.type)]}/${strings[Number(t.unit)]}`), ['samples/count', 'cpu/nanoseconds']);
  const labels = Object.fromEntries(decoded.sample[0].label.map((l) => [strings[Number(l.key)], strings[Number(l.str)]]));
  assert.equal(labels.span_id, '00f067aa0ba902b7');
  assert.deepEqual(exporter.stats, { written: 2, dropped: 0 });
  assert.match(exporter.description, /local store .*_acme_shop/);
});

test('spans are zstd-compressed OTLP/JSON lines with hex ids, one request per export, readable by zstd -dc and JSON.parse', { skip: zstdUnavailable() }, async () => {
  const dir = freshDir();
  const spans = await makeSpans('shop', [
    { name: 'GET /a', startMs: T0, durationMs: 10, children: [{ name: 'db', startMs: T0 + 1, durationMs: 2 }] },
    { name: 'GET /b', startMs: T0 + 20, durationMs: 5 },
  ]);
  const exporter = new SpanStoreExporter({ dir, serviceName: 'shop', maxBytes: 1 << 30 });
  assert.equal((await exportSpans(exporter, spans.slice(0, 2))).code, 0);
  assert.equal((await exportSpans(exporter, spans.slice(2))).code, 0);
  await exporter.shutdown();

  const files = readdirSync(path.join(dir, 'shop')).sort();
  assert.equal(files.length, 2);
  assert.match(files[0], new RegExp(`^\\d{8}T\\d{6}\\.\\d{3}Z_${process.pid}\\.roots\\.jsonl\\.zst$`));
  assert.match(files[1], new RegExp(`^\\d{8}T\\d{6}\\.\\d{3}Z_${process.pid}\\.spans\\.jsonl\\.zst$`));
  assert.equal(files[0].split('.roots')[0], files[1].split('.spans')[0], 'the index has the name of its spans file');
  const text = zstdText(path.join(dir, 'shop', files[1]));
  assert.ok(text.endsWith('\n'));
  const requests = text.trimEnd().split('\n').map((line) => JSON.parse(line));
  assert.equal(requests.length, 2);
  const written = requests.flatMap((r) => r.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)));
  assert.equal(written.length, 3);
  for (const s of written) {
    assert.match(s.traceId, /^[0-9a-f]{32}$/);
    assert.match(s.spanId, /^[0-9a-f]{16}$/);
    assert.match(s.startTimeUnixNano, /^\d+$/);
  }
  const root = written.find((s) => s.name === 'GET /a');
  assert.equal(BigInt(root.startTimeUnixNano), BigInt(T0) * 1_000_000n);
  const child = written.find((s) => s.name === 'db');
  assert.equal(child.parentSpanId, root.spanId);
  assert.deepEqual(requests[0].resourceSpans[0].resource.attributes.find((a) => a.key === 'service.name').value, { stringValue: 'shop' });
  assert.deepEqual(exporter.stats, { written: 3, dropped: 0 });
  // The index: the local roots, one line per export.
  const index = zstdText(path.join(dir, 'shop', files[0])).trimEnd().split('\n').map((line) => JSON.parse(line));
  assert.deepEqual(index.map((line) => line.roots.map((r) => r[3])), [['GET /a'], ['GET /b']]);
  assert.equal(index[0].roots[0][0], root.spanId);
  assert.equal(index[0].roots[0][5], root.startTimeUnixNano);
  assert.equal(index[0].pid, process.pid);
  // Read back whole, or roots only.
  assert.equal((await readStore(dir)).spans.length, 3);
  assert.deepEqual((await readStore(dir, { rootsOnly: true })).spans.map((s) => [s.name, s.spanId, s.startMs, s.endMs]), [
    ['GET /a', root.spanId, T0, T0 + 10],
    ['GET /b', written.find((s) => s.name === 'GET /b').spanId, T0 + 20, T0 + 25],
  ]);

  // After shutdown: refused, counted, reported as failed.
  const late = await exportSpans(exporter, spans.slice(0, 1));
  assert.equal(late.code, 1);
  assert.equal(exporter.stats.dropped, 1);
});

test('a spans file is closed and a new one started past maxFileBytes; every line stays whole', { skip: zstdUnavailable() }, async () => {
  const dir = freshDir();
  const spans = await makeSpans('shop', Array.from({ length: 6 }, (_, i) => ({ name: `GET /${i}`, startMs: T0 + i, durationMs: 1 })));
  const exporter = new SpanStoreExporter({ dir, serviceName: 'shop', maxBytes: 1 << 30, maxFileBytes: 900 });
  // Six exports at once: they must be serialized, never interleaved.
  const results = await Promise.all(spans.map((s) => exportSpans(exporter, [s])));
  assert.ok(results.every((r) => r.code === 0));
  await exporter.shutdown();
  const files = readdirSync(path.join(dir, 'shop')).filter((f) => f.includes('.spans.')).sort();
  assert.ok(files.length >= 2, `expected rotation, got ${files}`);
  assert.equal(new Set(files).size, files.length);
  let count = 0;
  for (const file of files) {
    const text = zstdText(path.join(dir, 'shop', file));
    for (const line of text.trimEnd().split('\n')) {
      JSON.parse(line);
      count++;
    }
  }
  assert.equal(count, 6);
  const contents = await readStore(dir);
  assert.equal(contents.spans.length, 6);
  assert.deepEqual(contents.problems, []);
});

test('size cap: the files whose data ends first go first, across services; the spans file being appended stays', async () => {
  const dir = freshDir();
  const cap = 25_000;
  const blob = Buffer.alloc(10_000, 1);
  // The oldest file of all: a spans file this process still appends to.
  const spanWriter = new SpanStoreExporter({ dir, serviceName: 'api', maxBytes: cap });
  const [oneSpan] = await makeSpans('api', [{ name: 'GET /', startMs: T0, durationMs: 1 }]);
  assert.equal((await exportSpans(spanWriter, [oneSpan])).code, 0);
  const [rootsFile, spansFile] = readdirSync(path.join(dir, 'api')).sort();
  const later = Date.now() + 60_000;
  const api = new ProfileStoreExporter({ dir, serviceName: 'api', maxBytes: cap });
  const worker = new ProfileStoreExporter({ dir, serviceName: 'worker', maxBytes: cap });
  // Written newest first, so removal follows the time in the name, not the order of writing.
  worker.enqueue(profileOf(blob, later + 30_000, later + 40_000));
  api.enqueue(profileOf(blob, later + 20_000, later + 30_000));
  worker.enqueue(profileOf(blob, later + 10_000, later + 20_000));
  api.enqueue(profileOf(blob, later, later + 10_000));
  await Promise.all([api.flush(Date.now() + 10_000), worker.flush(Date.now() + 10_000)]);
  await StoreSizeCap.for(dir, cap).enforce();

  const listing = ['api', 'worker'].flatMap((service) => readdirSync(path.join(dir, service)).map((f) => path.join(service, f)));
  const total = listing.reduce((sum, f) => sum + statSync(path.join(dir, f)).size, 0);
  assert.ok(total <= cap, `store is ${total} bytes`);
  assert.deepEqual(listing.map((f) => f.split('_')[0]).sort(), [
    'api/' + spansFile.split('_')[0],
    'api/' + rootsFile.split('_')[0],
    'api/' + formatStamp(later + 20_000),
    'worker/' + formatStamp(later + 30_000),
  ].sort());
  // The writer still appends to its file.
  assert.equal((await exportSpans(spanWriter, [oneSpan])).code, 0);
  await spanWriter.forceFlush();
  assert.equal((await readStore(dir)).spans.length, 2);
  await spanWriter.shutdown();
});

test('unwritable directory (a path under a regular file): one warning naming dir and code, nothing thrown, data dropped', async () => {
  const file = path.join(scratch, 'a-regular-file');
  writeFileSync(file, 'x');
  const dir = path.join(file, 'store');
  const { lines, restore } = captureWarnings();
  try {
    const profiles = new ProfileStoreExporter({ dir, serviceName: 'shop', maxBytes: 1 << 30 });
    profiles.enqueue(profileOf(Buffer.from('data'), T0, T0 + 1));
    profiles.enqueue(profileOf(Buffer.from('data'), T0 + 1, T0 + 2));
    await profiles.flush(Date.now() + 10_000);
    assert.deepEqual(profiles.stats, { written: 0, dropped: 2 });

    const spansOut = new SpanStoreExporter({ dir, serviceName: 'shop', maxBytes: 1 << 30 });
    const spans = await makeSpans('shop', [{ name: 'GET /', startMs: T0, durationMs: 1 }]);
    const result = await exportSpans(spansOut, spans);
    assert.equal(result.code, 1);
    assert.match(String(result.error?.code ?? result.error), /ENOTDIR/);
    assert.equal(spansOut.stats.dropped, 1);
    await spansOut.shutdown();
  } finally {
    restore();
  }
  const relevant = lines.filter((l) => l.includes(dir));
  assert.equal(relevant.length, 1, relevant.join('\n'));
  assert.match(relevant[0], /^\[span-profiles\] warn: cannot write to the local store .*store \(ENOTDIR/);
  assert.match(relevant[0], /SPAN_PROFILES_DIR/);
});

test('a failed write leaves no half file: the .tmp is removed and nothing appears under the final name', async () => {
  const dir = freshDir();
  const exporter = new ProfileStoreExporter({ dir, serviceName: 'shop', maxBytes: 1 << 30 });
  // The final name is taken by a directory, so the rename fails after the data was written.
  const finalName = `20261124T201530.123Z_20261124T201545.123Z_${process.pid}.cpu.pb.gz`;
  mkdirSync(path.join(dir, 'shop', finalName), { recursive: true });
  const { restore } = captureWarnings();
  try {
    exporter.enqueue(profileOf(Buffer.from('data'), T0, T0 + 15_000));
    await exporter.flush(Date.now() + 10_000);
  } finally {
    restore();
  }
  assert.deepEqual(readdirSync(path.join(dir, 'shop')), [finalName]);
  assert.ok(statSync(path.join(dir, 'shop', finalName)).isDirectory());
  assert.equal(exporter.stats.dropped, 1);
});

test('readStore: spans and profiles back, filters, malformed content in problems, never thrown', async () => {
  const dir = freshDir();
  const { checkout } = await writeShopStore(dir);
  await writeShopStore(dir, 'other svc');
  const shopDir = path.join(dir, 'shop');
  writeFileSync(path.join(shopDir, '20261124T201600.000Z_20261124T201615.000Z_1.cpu.pb.gz'), 'not gzip');
  writeFileSync(path.join(shopDir, '20261124T201700.000Z_1.spans.jsonl'), '{"resourceSpans":[]}\nnot json\n{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"half');
  writeFileSync(path.join(shopDir, '20261124T201800.000Z_20261124T201815.000Z_1.cpu.pb.gz.tmp'), 'partial');
  writeFileSync(path.join(shopDir, 'README'), 'not ours');

  const all = await readStore(dir);
  assert.equal(all.profiles.length, 3);
  assert.equal(all.spans.length, 10);
  assert.deepEqual(all.problems.map((p) => path.basename(p.path)), ['20261124T201700.000Z_1.spans.jsonl:2']);

  const shop = await readStore(dir, { service: 'shop' });
  assert.equal(shop.spans.length, 5);
  assert.ok(shop.spans.every((s) => s.service === 'shop'));
  const stored = shop.spans.find((s) => s.spanId === checkout.spanContext().spanId);
  assert.equal(stored.name, 'POST /checkout');
  assert.equal(stored.traceId, checkout.spanContext().traceId);
  assert.equal(stored.profileId, checkout.spanContext().spanId);
  assert.equal(stored.parentSpanId, undefined);
  assert.equal(stored.durationMs, 400);
  assert.equal(stored.startMs, T0 + 300);
  assert.equal(stored.kind, 2); // OTLP SERVER (API SpanKind.SERVER is 1; OTLP counts from UNSPECIFIED)
  assert.equal(stored.attributes['http.route'], 'POST /checkout');
  assert.equal(stored.resource['service.name'], 'shop');
  const child = shop.spans.find((s) => s.name === 'GET');
  assert.match(child.parentSpanId, /^[0-9a-f]{16}$/);

  assert.equal((await readStore(dir, { service: 'other svc' })).spans.length, 5); // matched by its directory name
  assert.equal((await readStore(dir, { service: 'nope' })).spans.length, 0);
  const late = await readStore(dir, { service: 'shop', fromMs: T0 + 860 });
  assert.deepEqual(late.spans.map((s) => s.name), ['GET /products']);
  assert.equal(late.profiles.length, 2);
  assert.equal((await readStore(dir, { untilMs: T0 - 1 })).profiles.length, 0);

  const missing = await readStore(path.join(dir, 'nope'));
  assert.deepEqual(missing.spans, []);
  assert.match(missing.problems[0].reason, /ENOENT/);
  const notADir = await readStore(path.join(shopDir, 'README'));
  assert.match(notADir.problems[0].reason, /ENOTDIR/);

  // Analysis keeps going past the bad profile and names it.
  const cpu = await span.loadCpuSamples(shop.profiles);
  assert.equal(cpu.profilesRead, 1);
  assert.equal(cpu.problems.length, 1);
  assert.match(cpu.problems[0].reason, /not a gzipped pprof/);
});

test('readProfile: decodes, and with withinDir refuses paths outside the store', async () => {
  const dir = freshDir();
  await writeShopStore(dir);
  const [file] = (await readStore(dir)).profiles;
  const profile = await readProfile(file.path);
  assert.ok(profile.sample.length > 0);
  const relative = path.relative(dir, file.path);
  assert.equal((await readProfile(relative, dir)).sample.length, profile.sample.length);
  await assert.rejects(readProfile('../../etc/passwd', dir), /is not a file inside/);
  await assert.rejects(readProfile('/etc/passwd', dir), /is not a file inside/);
  await assert.rejects(readProfile(path.join(dir, 'missing.pb.gz')), /cannot read .*ENOENT/);
  assert.throws(() => resolveInside(dir, '..'), /not a file inside/);
  assert.throws(() => resolveInside(dir, ''), /not a file inside/);
  assert.equal(resolveInside(dir, 'shop/x.pb.gz'), path.join(dir, 'shop', 'x.pb.gz'));
});

test('CPU per root span joins samples with spans by pyroscope.profile.id; names come from the stored span', async () => {
  const dir = freshDir();
  const spans = await makeSpans('shop', [{ name: 'GET /users/:id', startMs: T0, durationMs: 30 }]);
  const [root] = spans;
  // The label carries the early name ("GET"); the stored span has the final one.
  const labels = { ...labelsOf(root), span_name: 'GET' };
  const other = { span_id: '1111111111111111', trace_id: '22222222222222222222222222222222', span_name: 'job' };
  const data = buildCpuProfile([
    { stack: [['leaf', '/app/a.js', 1], ['mid', '/app/b.js', 2], ['leaf', '/app/a.js', 1]], cpuMs: 30, labels },
    { stack: [['mid', '/app/b.js', 2]], cpuMs: 10, labels },
    { stack: [['other', '/app/c.js', 3]], cpuMs: 5, labels: other },
    { stack: [['idle', '', 0]], cpuMs: 7 },
  ], { startMs: T0, endMs: T0 + 1000 });
  const { writeStore } = await import('../helpers/store-fixtures.mjs');
  await writeStore(dir, { service: 'shop', spans, profiles: [{ data, startMs: T0, endMs: T0 + 1000 }] });

  const store = await span.loadStoreCpu(dir);
  assert.deepEqual(store.problems, []);
  assert.equal(store.roots.length, 2);
  const [top, second] = store.roots;
  assert.equal(top.name, 'GET /users/:id');
  assert.equal(top.spanId, root.spanContext().spanId);
  assert.equal(top.traceId, root.spanContext().traceId);
  assert.equal(top.cpuNanos, 40e6);
  assert.equal(top.samples, 4);
  assert.equal(top.durationMs, 30);
  assert.ok(top.span);
  assert.equal(second.name, 'job'); // not stored: the label names it
  assert.equal(second.span, undefined);

  const bySpan = span.samplesBySpan(store.cpu.samples);
  const functions = span.hottestFunctions(bySpan.get(top.spanId));
  assert.deepEqual(functions.map((f) => [f.name, f.selfNanos, f.totalNanos, f.file, f.line]), [
    ['leaf', 30e6, 30e6, '/app/a.js', 1], // recursion counted once in total
    ['mid', 10e6, 40e6, '/app/b.js', 2],
  ]);

  const tree = span.flameTree(bySpan.get(top.spanId));
  assert.equal(tree.totalNanos, 40e6);
  assert.equal(tree.children.length, 2);

  const selected = span.selectSamples(store.cpu.samples, store.spanIndex, { spanName: 'GET /users/:id' });
  assert.equal(selected.length, 2);
  assert.equal(span.selectSamples(store.cpu.samples, store.spanIndex, { traceId: other.trace_id }).length, 1);
  assert.equal(span.matchRoots(store.roots, { spanPrefix: top.spanId.slice(0, 8) })[0], top);

  // The merged pprof round-trips through an independent decode.
  const merged = Profile.decode(gunzipSync(await span.encodePprofGzip(span.buildPprof([...selected, ...selected], store.cpu.periodNanos))));
  const strings = merged.stringTable.strings;
  assert.equal(merged.sample.length, 2, 'identical (stack, labels) samples merge');
  assert.equal(merged.sample.reduce((sum, s) => sum + Number(s.value[1]), 0), 80e6);
  assert.equal(Number(merged.period), 10_000_000);
  assert.equal(strings[Number(merged.periodType.type)], 'cpu');
  const label = Object.fromEntries(merged.sample[0].label.map((l) => [strings[Number(l.key)], strings[Number(l.str)]]));
  assert.deepEqual(label, labels);
});

test('any cap holds (1 MiB, the smallest accepted): history goes oldest first in small steps, profiles and spans of the same time together', async () => {
  const dir = freshDir();
  const cap = 1024 * 1024;
  const { randomBytes } = await import('node:crypto');
  const spanWriter = new SpanStoreExporter({ dir, serviceName: 'shop', maxBytes: cap });
  const profileWriter = new ProfileStoreExporter({ dir, serviceName: 'shop', maxBytes: cap, eventLoopDelay: false });
  const totals = [];
  const sizeOf = () => readdirSync(path.join(dir, 'shop')).reduce((sum, f) => sum + statSync(path.join(dir, 'shop', f)).size, 0);
  for (let round = 0; round < 60; round++) {
    const now = Date.now();
    // Random names do not compress: about 12 KiB of spans per round, and an 8 KiB profile.
    const spans = await makeSpans('shop', Array.from({ length: 40 }, (_, i) => ({ name: `GET /${randomBytes(100).toString('hex')}`, startMs: now - 50 + i, durationMs: 5 })));
    assert.equal((await exportSpans(spanWriter, spans)).code, 0);
    profileWriter.enqueue(profileOf(randomBytes(8 * 1024), now - 20, now));
    await profileWriter.flush(Date.now() + 10_000);
    await StoreSizeCap.for(dir, cap).enforce();
    totals.push(sizeOf());
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await spanWriter.shutdown();
  await profileWriter.shutdown(Date.now() + 10_000);
  assert.ok(Math.max(...totals) <= cap, `the store passed its cap: ${Math.max(...totals)} > ${cap}`);
  // Once full, each round removes a small slice, never most of the history.
  const full = totals.slice(totals.findIndex((t) => t > cap * 0.8));
  assert.ok(full.length > 10, `the store filled up: ${totals}`);
  assert.ok(Math.min(...full) > cap * 0.75, `a trim removed too much at once: ${full}`);
  // What remains covers the same time for profiles and spans.
  const contents = await readStore(dir);
  assert.ok(contents.profiles.length >= 20, `${contents.profiles.length} profiles kept`);
  const oldestProfile = contents.profiles[0].fromMs;
  const oldestSpan = contents.spans[0].startMs;
  assert.ok(Math.abs(oldestProfile - oldestSpan) < 2_000, `profiles from ${oldestProfile}, spans from ${oldestSpan}`);
  const spansFiles = readdirSync(path.join(dir, 'shop')).filter((f) => f.includes('.spans.'));
  const rootsFiles = readdirSync(path.join(dir, 'shop')).filter((f) => f.includes('.roots.'));
  assert.deepEqual(rootsFiles.map((f) => f.replace('.roots.', '.spans.')).sort(), spansFiles.sort(), 'spans files and their indexes go together');
});
