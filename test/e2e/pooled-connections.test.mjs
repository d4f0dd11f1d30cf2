// CPU of pooled connections is charged to the request whose query it answers, against real
// PostgreSQL, MariaDB (for mysql2 and mysql) and Redis (for ioredis and node-redis) servers the test starts. The first requests open the connections; without the
// binding every later reply's parsing runs in an opener's context (the socket's), long after it ended.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startMariadb, startPostgres, startRedis } from '../helpers/databases.mjs';
import { median, runPooledScenario } from '../helpers/pooled-connections.mjs';
import { killAllApps } from '../helpers/spawn-app.mjs';

after(killAllApps);

const AFTER_FRAME = '(after its span ended)';

/** CPU per span id of the samples that ran the driver's reply parsing (a frame from `parserFile`). */
function parsingCpuBySpan(result, parserFile) {
  const bySpan = new Map();
  let afterEnd = 0;
  let total = 0;
  for (const sample of result.store.cpu.samples) {
    if (!sample.stack.some((frame) => frame.file.includes(parserFile))) continue;
    total += sample.cpuNanos;
    if (sample.stack.some((frame) => frame.name === AFTER_FRAME)) afterEnd += sample.cpuNanos;
    if (sample.spanId !== undefined) bySpan.set(sample.spanId, (bySpan.get(sample.spanId) ?? 0) + sample.cpuNanos);
  }
  return { bySpan, afterEnd, total };
}

function pooledSuite(name, start, parserFile) {
  describe(`${name}: replies on pooled connections`, () => {
    let db;
    let result;
    let parsing;
    before(async () => {
      db = await start();
      if (db.skip) return;
      // 80 later requests: the first request's own parsing (cold code on a loaded machine: 33 ms once in CI,
      // 25 times a warm request's) must not pass for a third of all parsing when there is one opener.
      result = await runPooledScenario(name, db, { later: 80 });
      parsing = parsingCpuBySpan(result, parserFile);
    });
    after(() => db?.stop?.());

    const skip = () => (db?.skip ? db.skip : false);

    test('every request is stored with its CPU', (t) => {
      if (skip()) return t.skip(skip());
      assert.ok(result.later.length >= 80, `later requests stored: ${result.later.length}`);
      assert.ok(parsing.total > 0, `no sample ran ${parserFile}: ${result.stderr.slice(-2000)}`);
    });

    test("no request's share of the reply parsing stands out: the openers get about their share", (t) => {
      if (skip()) return t.skip(skip());
      const openerIds = new Set(result.openers.map((r) => r.spanId));
      const charged = [...parsing.bySpan.values()].reduce((a, b) => a + b, 0);
      const toOpeners = [...parsing.bySpan].filter(([id]) => openerIds.has(id)).reduce((a, [, cpu]) => a + cpu, 0);
      const share = toOpeners / charged;
      const fair = result.openers.length / (result.openers.length + result.later.length);
      const perLater = result.later.map((r) => (parsing.bySpan.get(r.spanId) ?? 0) / 1e6);
      const detail =
        `openers got ${(toOpeners / 1e6).toFixed(1)} of ${(charged / 1e6).toFixed(1)} ms of parsing (fair share ${(100 * fair).toFixed(0)}%); ` +
        `later requests' parsing median ${median(perLater).toFixed(1)} ms; after their span ended ${(parsing.afterEnd / 1e6).toFixed(1)} ms`;
      assert.ok(share <= Math.max(0.35, 3 * fair), detail);
    });

    test("each request's parsing carries its own span", (t) => {
      if (skip()) return t.skip(skip());
      const withOwnParsing = result.later.filter((r) => (parsing.bySpan.get(r.spanId) ?? 0) > 0).length;
      assert.ok(withOwnParsing >= result.later.length / 2, `${withOwnParsing} of ${result.later.length} later requests have parsing samples of their own`);
      // Most parsing is charged to some request, not left in the socket's context after it ended.
      assert.ok(parsing.afterEnd < parsing.total / 4, `${(parsing.afterEnd / 1e6).toFixed(1)} of ${(parsing.total / 1e6).toFixed(1)} ms of parsing ran after its span ended`);
    });

    test('nothing is charged to a span after it ended, and no span gets more CPU than it lasted', (t) => {
      if (skip()) return t.skip(skip());
      const ends = new Map([...result.openers, ...result.later].map((r) => [r.spanId, r.span.endMs]));
      const late = result.store.cpu.samples.filter((s) => s.spanId !== undefined && ends.has(s.spanId) && s.fromMs > ends.get(s.spanId) + 50);
      assert.deepEqual(
        late.map((s) => `${s.spanId}: ${s.stack[0]?.name} in a profile from ${s.fromMs}, span ended ${ends.get(s.spanId)}`),
        [],
      );
      // 10 µs of slack: span times are read back as float milliseconds since the epoch (≈0.25 µs apart
      // at today's dates), and a span cut in two is capped in each cut.
      for (const r of [...result.openers, ...result.later]) {
        assert.ok(r.cpuNanos <= r.span.durationMs * 1e6 + 10_000, `span ${r.spanId}: ${r.cpuNanos} ns of CPU in ${r.span.durationMs} ms`);
      }
    });
  });
}

pooledSuite('pg', startPostgres, 'pg-protocol');
pooledSuite('mysql2', startMariadb, 'mysql2');
pooledSuite('mysql', startMariadb, 'node_modules/mysql/');
pooledSuite('redis', startRedis, 'ioredis');
pooledSuite('node-redis', startRedis, '@redis/client');
