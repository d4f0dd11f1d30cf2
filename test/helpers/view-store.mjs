// A small local store for the `span-profiles view` tests, written the way the agent writes one
// (gzipped pprof per interval with span_id/trace_id/span_name labels, OTLP/JSON span lines), with
// known answers: which request is heaviest and in which function its CPU went.
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import zlib from 'node:zlib';

const require = createRequire(import.meta.url);
const { Function: PprofFunction, Label, Line, Location, Profile, Sample, StringTable, ValueType } = require('pprof-format');

const PERIOD_NANOS = 10_000_000;
const MS = 1_000_000;

const stamp = (ms) => new Date(ms).toISOString().replace(/[-:]/g, '');

/** Frames by short name: [function, file, line]. */
const FRAMES = {
  main: ['(root)', '', 0],
  tick: ['processTicksAndRejections', 'node:internal/process/task_queues', 95],
  emit: ['emit', 'node:events', 519],
  layer: ['Layer.handle', '/srv/shop/node_modules/express/lib/router/layer.js', 95],
  login: ['handleLogin', '/srv/shop/src/routes/login.js', 12],
  hash: ['hashPassword', '/srv/shop/src/crypto/passwords.js', 31],
  pbkdf2: ['pbkdf2Sync', 'node:internal/crypto/pbkdf2', 59],
  products: ['listProducts', '/srv/shop/src/routes/products.js', 8],
  render: ['renderProductPage', '/srv/shop/src/views/render.js', 44],
  stringify: ['JSON.stringify', '', 0],
  orders: ['listOrders', '/srv/shop/src/routes/orders.js', 20],
  sort: ['sortOrders', '/srv/shop/src/orders/sort.js', 7],
  inventory: ['checkStock', '/srv/inventory/src/stock.js', 15],
  regex: ['matchSku', '/srv/inventory/src/sku.js', 3],
  gc: ['(garbage collector)', '', 0],
};

/** Writes one gzipped CPU profile: `samples` = [{ stack: [leaf..root short names], ticks, labels? }]. */
function writeProfile(file, fromMs, untilMs, samples) {
  const strings = new StringTable();
  const functions = [];
  const locations = [];
  const locationIds = new Map();
  const locationOf = (key) => {
    if (locationIds.has(key)) return locationIds.get(key);
    const [name, fileName, line] = FRAMES[key];
    const id = functions.length + 1;
    functions.push(new PprofFunction({ id, name: strings.dedup(name), systemName: strings.dedup(name), filename: strings.dedup(fileName), startLine: line }));
    locations.push(new Location({ id, line: [new Line({ functionId: id, line })] }));
    locationIds.set(key, id);
    return id;
  };
  const pprofSamples = samples.map(({ stack, ticks, labels }) => {
    const label = Object.entries(labels ?? {}).map(([key, value]) => new Label({ key: strings.dedup(key), str: strings.dedup(value) }));
    return new Sample({ locationId: stack.map(locationOf), value: [ticks, ticks * PERIOD_NANOS], label });
  });
  const cpu = new ValueType({ type: strings.dedup('cpu'), unit: strings.dedup('nanoseconds') });
  const profile = new Profile({
    sampleType: [new ValueType({ type: strings.dedup('samples'), unit: strings.dedup('count') }), cpu],
    periodType: cpu,
    period: PERIOD_NANOS,
    sample: pprofSamples,
    location: locations,
    function: functions,
    stringTable: strings,
    timeNanos: BigInt(fromMs) * 1_000_000n,
    durationNanos: BigInt(untilMs - fromMs) * 1_000_000n,
  });
  writeFileSync(file, zlib.gzipSync(profile.encode()));
}

function otlpLine(service, spans) {
  const attr = (key, value) => ({ key, value: typeof value === 'number' ? { intValue: String(value) } : { stringValue: String(value) } });
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [attr('service.name', service), attr('telemetry.sdk.language', 'nodejs')] },
        scopeSpans: [
          {
            scope: { name: '@opentelemetry/instrumentation-http', version: '0.300.0' },
            spans: spans.map((s) => ({
              traceId: s.traceId,
              spanId: s.spanId,
              ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
              name: s.name,
              kind: s.kind,
              startTimeUnixNano: String(BigInt(Math.round(s.startMs * 1000)) * 1000n),
              endTimeUnixNano: String(BigInt(Math.round(s.endMs * 1000)) * 1000n),
              attributes: Object.entries(s.attributes ?? {}).map(([k, v]) => attr(k, v)),
              status: { code: s.error ? 2 : 0 },
            })),
          },
        ],
      },
    ],
  });
}

/**
 * Writes the store into `dir` (created). With `malformed: true` it also gets files a reader must
 * skip with a note; `variant` changes every id. Returns the known answers.
 */
export function writeViewStore(dir, { malformed = false, baseMs = Date.now() - 120_000, variant = 0 } = {}) {
  // Another variant gets other trace and span ids, as a later run of the same app would.
  const hex = (n, width) => (n + variant * 0x100000).toString(16).padStart(width, '0');
  const shop = path.join(dir, 'shop-api');
  const inventory = path.join(dir, 'inventory');
  mkdirSync(shop, { recursive: true });
  mkdirSync(inventory, { recursive: true });

  const ids = {
    loginTrace: hex(0xa1, 32),
    login: hex(0x1001, 16),
    loginDb: hex(0x1002, 16),
    productsTrace: hex(0xb2, 32),
    products: hex(0x2001, 16),
    productsClient: hex(0x2002, 16),
    inventoryRoot: hex(0x3001, 16),
    ordersTrace: hex(0xc3, 32),
    orders: hex(0x4001, 16),
    healthTrace: hex(0xd4, 32),
    health: hex(0x5001, 16),
    login2Trace: hex(0xe5, 32),
    login2: hex(0x6001, 16),
  };
  const t = (offsetMs) => baseMs + offsetMs;
  const http = (method, route, status) => ({ 'http.request.method': method, 'http.route': route, 'http.response.status_code': status });

  const shopSpans = [
    { traceId: ids.loginTrace, spanId: ids.login, name: 'POST /login', kind: 2, startMs: t(1000), endMs: t(1950), attributes: { ...http('POST', '/login', 200), 'pyroscope.profile.id': ids.login } },
    { traceId: ids.loginTrace, spanId: ids.loginDb, parentSpanId: ids.login, name: 'pg.query SELECT users', kind: 3, startMs: t(1010), endMs: t(1040), attributes: { 'db.system': 'postgresql' } },
    { traceId: ids.productsTrace, spanId: ids.products, name: 'GET /products', kind: 2, startMs: t(3000), endMs: t(3400), attributes: { ...http('GET', '/products', 200), 'pyroscope.profile.id': ids.products } },
    { traceId: ids.productsTrace, spanId: ids.productsClient, parentSpanId: ids.products, name: 'GET', kind: 3, startMs: t(3020), endMs: t(3200), attributes: { 'http.request.method': 'GET', 'url.full': 'http://127.0.0.1:4001/stock' } },
    { traceId: ids.ordersTrace, spanId: ids.orders, name: 'GET /orders', kind: 2, startMs: t(5000), endMs: t(5300), error: true, attributes: { ...http('GET', '/orders', 500), 'pyroscope.profile.id': ids.orders } },
    { traceId: ids.healthTrace, spanId: ids.health, name: 'GET /health', kind: 2, startMs: t(6000), endMs: t(6002), attributes: { ...http('GET', '/health', 200), 'pyroscope.profile.id': ids.health } },
    { traceId: ids.login2Trace, spanId: ids.login2, name: 'POST /login', kind: 2, startMs: t(7000), endMs: t(7400), attributes: { ...http('POST', '/login', 200), 'pyroscope.profile.id': ids.login2 } },
  ];
  const inventorySpans = [
    { traceId: ids.productsTrace, spanId: ids.inventoryRoot, parentSpanId: ids.productsClient, name: 'GET /stock', kind: 2, startMs: t(3040), endMs: t(3180), attributes: { ...http('GET', '/stock', 200), 'pyroscope.profile.id': ids.inventoryRoot } },
  ];
  const labels = (spanId, traceId, name) => ({ span_id: spanId, trace_id: traceId, span_name: name });
  const shopSamples = [
    { stack: ['pbkdf2', 'hash', 'login', 'layer', 'emit', 'tick'], ticks: 70, labels: labels(ids.login, ids.loginTrace, 'POST /login') },
    { stack: ['hash', 'login', 'layer', 'emit', 'tick'], ticks: 12, labels: labels(ids.login, ids.loginTrace, 'POST /login') },
    { stack: ['login', 'layer', 'emit', 'tick'], ticks: 3, labels: labels(ids.login, ids.loginTrace, 'POST /login') },
    { stack: ['stringify', 'render', 'products', 'layer', 'emit', 'tick'], ticks: 18, labels: labels(ids.products, ids.productsTrace, 'GET /products') },
    { stack: ['render', 'products', 'layer', 'emit', 'tick'], ticks: 9, labels: labels(ids.products, ids.productsTrace, 'GET /products') },
    { stack: ['sort', 'orders', 'layer', 'emit', 'tick'], ticks: 6, labels: labels(ids.orders, ids.ordersTrace, 'GET /orders') },
    { stack: ['pbkdf2', 'hash', 'login', 'layer', 'emit', 'tick'], ticks: 30, labels: labels(ids.login2, ids.login2Trace, 'POST /login') },
    { stack: ['sort', 'orders', 'layer', 'emit', 'tick'], ticks: 4, labels: labels(ids.login2, ids.login2Trace, 'POST /login') },
    { stack: ['gc'], ticks: 5 },
    { stack: ['emit', 'tick'], ticks: 2 },
  ];
  const inventorySamples = [
    { stack: ['regex', 'inventory', 'emit', 'tick'], ticks: 8, labels: labels(ids.inventoryRoot, ids.productsTrace, 'GET /stock') },
  ];

  writeProfile(path.join(shop, `${stamp(t(0))}_${stamp(t(15_000))}_4242.cpu.pb.gz`), t(0), t(15_000), shopSamples);
  writeProfile(path.join(inventory, `${stamp(t(0))}_${stamp(t(15_000))}_4343.cpu.pb.gz`), t(0), t(15_000), inventorySamples);
  writeFileSync(path.join(shop, `${stamp(t(0))}_4242.spans.jsonl`), `${otlpLine('shop-api', shopSpans.slice(0, 4))}\n${otlpLine('shop-api', shopSpans.slice(4))}\n`);
  writeFileSync(path.join(inventory, `${stamp(t(0))}_4343.spans.jsonl`), `${otlpLine('inventory', inventorySpans)}\n`);

  const problemFiles = [];
  if (malformed) {
    const bad = (name, content) => {
      writeFileSync(path.join(shop, name), content);
      problemFiles.push(`shop-api/${name}`);
    };
    bad(`${stamp(t(20_000))}_${stamp(t(35_000))}_4242.cpu.pb.gz`, 'this is not gzip at all');
    bad(`${stamp(t(35_000))}_${stamp(t(50_000))}_4242.cpu.pb.gz`, zlib.gzipSync(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02])));
    // A spans file with one garbage line between two good ones, and an unfinished last line.
    const extra = { traceId: hex(0xf6, 32), spanId: hex(0x7001, 16), name: 'GET /cart', kind: 2, startMs: t(8000), endMs: t(8100), attributes: { 'pyroscope.profile.id': hex(0x7001, 16) } };
    bad(`${stamp(t(8000))}_4242.spans.jsonl`, `{"resourceSpans": [ oops\n${otlpLine('shop-api', [extra])}\n{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"half`);
    // Never read: a file still being written, and a name that is not a store file.
    writeFileSync(path.join(shop, `${stamp(t(9000))}_${stamp(t(10_000))}_4242.cpu.pb.gz.tmp`), 'partial');
    writeFileSync(path.join(shop, 'notes.txt'), 'not ours');
  }

  return {
    dir,
    baseMs,
    ids,
    heavySpanId: ids.login,
    heavySpanName: 'POST /login',
    heavyFunction: 'hashPassword',
    heavyCpuNanos: (70 + 12 + 3) * PERIOD_NANOS,
    periodNanos: PERIOD_NANOS,
    problemFiles,
  };
}
