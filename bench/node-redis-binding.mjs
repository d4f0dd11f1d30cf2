// CPU per node-redis GET with and without the pooled-connection binding, against a Redis the bench
// starts: 20 000 GETs, 50 in flight, each issued in a context of its own. The two configurations run in
// interleaved child processes (7 rounds); prints the median and every round, in µs of process CPU per GET.
//   node bench/node-redis-binding.mjs            (after npm run build)
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(repoRoot, 'package.json'));

async function child(mode, url) {
  const api = require('@opentelemetry/api');
  const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
  api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  if (mode === 'on') {
    const { ConnectionContextInstrumentation } = require(path.join(repoRoot, 'dist', 'tracing', 'instrumentation-connection-context.js'));
    new ConnectionContextInstrumentation();
  }
  const { createClient } = require('redis');
  const client = createClient({ url });
  await client.connect();
  await client.set('bench:k', 'v'.repeat(100));
  const key = api.createContextKey('request');
  const run = async (n) => {
    for (let i = 0; i < n; i++) await api.context.with(api.ROOT_CONTEXT.setValue(key, i), () => client.get('bench:k'));
  };
  await Promise.all(Array.from({ length: 50 }, () => run(100))); // warm-up
  const before = process.cpuUsage();
  await Promise.all(Array.from({ length: 50 }, () => run(400)));
  const used = process.cpuUsage(before);
  console.log(((used.user + used.system) / 20000).toFixed(2));
  await client.quit();
}

if (process.argv[2] === 'child') {
  await child(process.argv[3], process.argv[4]);
} else {
  const { startRedis } = await import(path.join(repoRoot, 'test', 'helpers', 'databases.mjs'));
  const db = await startRedis();
  if (db.skip) {
    console.log(`skipped: ${db.skip}`);
    process.exit(0);
  }
  const rounds = { off: [], on: [] };
  try {
    for (let i = 0; i < 7; i++) {
      for (const mode of ['off', 'on']) {
        rounds[mode].push(Number(execFileSync(process.execPath, [fileURLToPath(import.meta.url), 'child', mode, db.url], { encoding: 'utf8' }).trim()));
      }
    }
  } finally {
    await db.stop();
  }
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  for (const mode of ['off', 'on']) console.log(`binding ${mode}: median ${median(rounds[mode])} µs CPU per GET (rounds: ${rounds[mode].join(' ')})`);
}
