// pg on a pooled connection, in process against a real PostgreSQL, with the real profiler (@datadog/pprof,
// started as the agent starts it) and the binding the agent would choose: each query's rows are decoded with
// the issuing request's span as OpenTelemetry's context and as the profiler's sample context, and with the
// app's own AsyncLocalStorage as the request left it; under the AsyncContextFrame binding without a single
// native sample-context set for the reply. A message answering no query (a NOTIFY) still runs in the
// socket's context (the request that opened the connection), not in the last query's. A pg-pool waiter
// gets its client in its own context, not in that of the request whose reply released it.
import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startPostgres } from '../helpers/databases.mjs';
import { repoRoot } from '../helpers/spawn-app.mjs';

const require = createRequire(import.meta.url);
const api = require('@opentelemetry/api');
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
const pprof = require('@datadog/pprof');
const dist = (file) => require(path.join(repoRoot, 'dist', file));
const { createContextBinding, detectBindingMode } = dist('linking/context-binding.js');
const { SpanLabels } = dist('linking/span-labels.js');
const { ConnectionContextInstrumentation } = dist('tracing/instrumentation-connection-context.js');

const LABELS = api.createContextKey('test span labels');
const labelsOf = (ctx) => ctx.getValue(LABELS);
const request = (name, n) => new SpanLabels(n.toString(16).padStart(16, '0'), '0'.repeat(31) + n.toString(16), { name });
const OPENER = request('opener', 1);
const A = request('A', 2);
const B = request('B', 3);
const C = request('C', 4);
/** The app's own request-scoped storage (a request id for its logs, say). */
const appStore = new AsyncLocalStorage();
const inRequest = (labels, fn) => appStore.run(labels, () => api.context.with(api.ROOT_CONTEXT.setValue(LABELS, labels), fn));

// Rows wide and many enough that one reply spans several socket chunks.
const ROWS_SQL = "SELECT g, md5(g::text) AS a, repeat('x', 200) AS b FROM generate_series(1, 3000) AS g";

let db;
let client;
let notifier;
let binding;
let decision;
const sets = { count: 0 };
/** Where what pg decodes runs: [span labels, sample context, app store]. */
const seenNow = () => [labelsOf(api.context.active())?.spanId, pprof.time.getContext()?.spanId, appStore.getStore()?.spanId];

before(async () => {
  db = await startPostgres();
  if (db.skip) return;
  const manager = new AsyncLocalStorageContextManager().enable();
  api.context.setGlobalContextManager(manager);
  decision = detectBindingMode();
  const useCPED = decision.mode === 'async-context-frame';
  pprof.time.start({ intervalMicros: 10_000, durationMillis: 60_000, withContexts: true, collectCpuTime: true, useCPED, lineNumbers: false });
  // Counts the native sample-context sets the binding makes.
  const time = Object.create(pprof.time);
  time.setContext = (value) => {
    sets.count++;
    pprof.time.setContext(value);
  };
  ({ binding } = createContextBinding(decision, time, manager, labelsOf));
  binding.install();
  new ConnectionContextInstrumentation(); // enabled by its constructor; before pg is required
  const pg = require('pg');
  client = inRequest(OPENER, () => new pg.Client({ connectionString: db.url }));
  await inRequest(OPENER, () => client.connect());
  notifier = new pg.Client({ connectionString: db.url });
  await notifier.connect();
});

after(async () => {
  await client?.end().catch(() => {});
  await notifier?.end().catch(() => {});
  binding?.uninstall();
  if (db && !db.skip) pprof.time.stop(false);
  await db?.stop?.();
});

const skip = () => (db?.skip ? db.skip : false);

/**
 * Runs ROWS_SQL for request `labels`; resolves to what each row event saw, and how many native sets were
 * made from the end of the request's synchronous part (its scope left) to the first row.
 */
function rowsIn(labels) {
  const { Query } = require('pg');
  const query = inRequest(labels, () => client.query(new Query(ROWS_SQL)));
  const setsAfterIssue = sets.count;
  const seen = [];
  let setsAtFirstRow;
  query.on('row', () => {
    setsAtFirstRow ??= sets.count;
    seen.push(seenNow().join(' '));
  });
  return new Promise((resolve, reject) => {
    query.on('error', reject);
    query.on('end', () => resolve({ seen: new Set(seen), rows: seen.length, setsForReply: setsAtFirstRow - setsAfterIssue }));
  });
}

test("queued queries of two requests on one connection: each one's rows in its own span, sample context and app store", async (t) => {
  if (skip()) return t.skip(skip());
  const [a, b] = await Promise.all([rowsIn(A), rowsIn(B)]);
  assert.equal(a.rows, 3000);
  assert.deepEqual([...a.seen], [[A.spanId, A.spanId, A.spanId].join(' ')]);
  assert.deepEqual([...b.seen], [[B.spanId, B.spanId, B.spanId].join(' ')]);
});

test('under the AsyncContextFrame binding the reply needs no native sample-context set', async (t) => {
  if (skip()) return t.skip(skip());
  if (decision.mode !== 'async-context-frame') return t.skip(`binding is ${decision.mode}`);
  const a = await rowsIn(A);
  assert.equal(a.setsForReply, 0, 'the rows ran in the frame the query was issued in');
});

test("a notification answering no query runs in the socket's context, not the last query's", async (t) => {
  if (skip()) return t.skip(skip());
  await inRequest(C, () => client.query('LISTEN span_profiles_test'));
  await rowsIn(A);
  const notified = new Promise((resolve) => client.once('notification', () => resolve(seenNow().join(' '))));
  await notifier.query("NOTIFY span_profiles_test, 'hello'");
  assert.equal(await notified, [OPENER.spanId, OPENER.spanId, OPENER.spanId].join(' '));
});

test("pg-pool: a waiting request gets its client in its own context, not in the releasing request's reply", async (t) => {
  if (skip()) return t.skip(skip());
  const pg = require('pg');
  const pool = inRequest(OPENER, () => new pg.Pool({ connectionString: db.url, max: 1 }));
  try {
    const holder = await inRequest(B, () => pool.connect());
    const acquiredIn = [];
    pool.on('acquire', () => acquiredIn.push(seenNow().join(' ')));
    // A waits for the only client; B releases it from its own query's reply.
    const waiting = inRequest(A, () => pool.query('SELECT 1 AS one'));
    await inRequest(B, () => new Promise((resolve, reject) => holder.query('SELECT 2 AS two', (err) => (holder.release(), err ? reject(err) : resolve()))));
    const { rows } = await waiting;
    assert.equal(rows[0].one, 1);
    assert.deepEqual(acquiredIn, [[A.spanId, A.spanId, A.spanId].join(' ')]);
  } finally {
    await pool.end();
  }
});
