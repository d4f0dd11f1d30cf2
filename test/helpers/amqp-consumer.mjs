// The AMQP consumer scenario: the first HTTP request opens the connection and starts consuming; then
// messages are published (by this process, without the agent) and consumed on that connection. Returns
// the store's spans and CPU. Used by test/e2e/amqp-consumer.test.mjs and runnable alone for the figures:
//   node test/helpers/amqp-consumer.mjs [messages]
import path from 'node:path';
import { createRequire } from 'node:module';
import { fixturePath, repoRoot, spawnApp } from './spawn-app.mjs';
import { startRabbitmq } from './databases.mjs';

const require = createRequire(import.meta.url);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export const QUEUE = 'fixture-work';
export const AFTER_FRAME = '(after its span ended)';

/** A JSON order of `items` lines: parsing it is the consumer's work. */
function message(index, items) {
  const lines = Array.from({ length: items }, (_, i) => ({ sku: `sku-${index}-${i}`, qty: (i % 7) + 1, price: (i % 13) + 0.5, name: `item ${i} ${'z'.repeat(16)}` }));
  return Buffer.from(JSON.stringify({ order: index, items: lines }));
}

export async function runAmqpScenario(db, { messages = 40, items = 6000, uploadIntervalMs = 1000, distDir = path.join(repoRoot, 'dist') } = {}) {
  const amqp = require('amqplib');
  const app = await spawnApp({
    app: fixturePath('amqp-consumer-app/index.js'),
    env: {
      AMQP_URL: db.url,
      QUEUE,
      PYROSCOPE_UPLOAD_INTERVAL: `${uploadIntervalMs}ms`,
      PYROSCOPE_PROFILING_INTERVAL: '2ms',
      OTEL_BSP_SCHEDULE_DELAY: '200',
      OTEL_LOG_LEVEL: 'info',
    },
  });
  const started = await app.request('/start', { timeoutMs: 60_000 });
  if (started.status !== 200) throw new Error(`/start answered ${started.status}: ${started.body}`);
  // The opener is over; everything from here arrives on the connection it opened.
  await sleep(uploadIntervalMs * 2);
  const connection = await amqp.connect(db.url);
  try {
    const channel = await connection.createConfirmChannel();
    for (let i = 0; i < messages; i++) channel.sendToQueue(QUEUE, message(i, items));
    await channel.waitForConfirms();
  } finally {
    await connection.close();
  }
  const deadline = Date.now() + 60_000;
  for (;;) {
    const stats = JSON.parse((await app.request('/stats')).body);
    if (stats.processed >= messages) break;
    if (Date.now() > deadline) throw new Error(`consumed ${stats.processed} of ${messages} messages in 60 s`);
    await sleep(100);
  }
  await sleep(uploadIntervalMs * 2);
  app.kill('SIGTERM');
  await app.waitForExit(20_000);

  const { loadStoreCpu } = require(path.join(distDir, 'store', 'read', 'span-cpu.js'));
  const store = await loadStoreCpu(app.storeDir, { service: 'fixture-amqp-consumer-app' });
  const spans = store.contents.spans;
  const opener = spans.find((s) => s.kind === 2 && String(s.attributes['url.path'] ?? s.attributes['http.target'] ?? '').startsWith('/start'));
  const consumers = spans.filter((s) => s.name === `${QUEUE} process`);
  return { store, opener, consumers, stderr: app.stderr() };
}

/** CPU of the samples with a frame from `file`, split by where it was charged. */
export function cpuOfFrames(result, file, frameName) {
  const consumerIds = new Set(result.consumers.map((s) => s.spanId));
  const out = { total: 0, opener: 0, afterEnd: 0, consumers: 0, noSpan: 0, other: 0, byConsumer: new Map() };
  for (const sample of result.store.cpu.samples) {
    if (!sample.stack.some((f) => f.file.includes(file) && (frameName === undefined || f.name === frameName))) continue;
    out.total += sample.cpuNanos;
    if (sample.stack.some((f) => f.name === AFTER_FRAME)) out.afterEnd += sample.cpuNanos;
    else if (sample.spanId === undefined) out.noSpan += sample.cpuNanos;
    else if (sample.spanId === result.opener?.spanId) out.opener += sample.cpuNanos;
    else if (consumerIds.has(sample.spanId)) {
      out.consumers += sample.cpuNanos;
      out.byConsumer.set(sample.spanId, (out.byConsumer.get(sample.spanId) ?? 0) + sample.cpuNanos);
    } else out.other += sample.cpuNanos;
  }
  return out;
}

const ms = (nanos) => (nanos / 1e6).toFixed(1);
export function describeSplit(label, split) {
  return `${label}: ${ms(split.total)} ms; opener ${ms(split.opener)}, after its span ended ${ms(split.afterEnd)}, consumer spans ${ms(split.consumers)}, no span ${ms(split.noSpan)}, other ${ms(split.other)}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const db = await startRabbitmq();
  if (db.skip) {
    console.log(`skipped: ${db.skip}`);
  } else {
    try {
      const result = await runAmqpScenario(db, { messages: Number(process.argv[2] ?? 40), distDir: process.env.DIST_DIR ?? path.join(repoRoot, 'dist') });
      console.log(`consumer spans: ${result.consumers.length}`);
      console.log(describeSplit('amqplib frames', cpuOfFrames(result, 'amqplib/lib')));
      console.log(describeSplit('consumer handler', cpuOfFrames(result, 'amqp-consumer-app', 'handleMessage')));
      const opener = result.store.roots.find((r) => r.spanId === result.opener?.spanId);
      console.log(`opener request: ${ms(opener?.cpuNanos ?? 0)} ms CPU in ${result.opener?.durationMs} ms`);
    } finally {
      await db.stop();
    }
  }
}
