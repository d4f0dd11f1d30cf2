// node-redis: each reply is decoded in the context of the command it answers, taken from the
// queue's own head (not a shadow list), so it stays right when an `asap` command jumps the queue and
// when commands from several requests are pipelined on one connection. Against a real Redis server.
// In-process: the binding under test (dist/) with OpenTelemetry's context manager, no profiler.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startRedis } from '../helpers/databases.mjs';
import { repoRoot } from '../helpers/spawn-app.mjs';

const require = createRequire(import.meta.url);
const api = require('@opentelemetry/api');
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
const { ConnectionContextInstrumentation } = require(path.join(repoRoot, 'dist', 'tracing', 'instrumentation-connection-context.js'));

const REQUEST = api.createContextKey('test request');
// Large enough that every reply spans several socket chunks: the chunk that completes a reply starts
// with that reply's command at the head of the queue.
const BIG = 'x'.repeat(300_000);

let db;
let client;
const decodedIn = []; // [reply's first bytes, request whose context was active when it was decoded]

before(async () => {
  db = await startRedis();
  if (db.skip) return;
  api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  new ConnectionContextInstrumentation(); // enabled by its constructor; before redis is required
  const { Decoder } = require('@redis/client/dist/lib/RESP/decoder.js');
  // Outside the binding's wrapper: hook each decoder's onReply once, to see the context it runs in.
  const bound = Decoder.prototype.write;
  const seen = new WeakSet();
  Decoder.prototype.write = function (chunk) {
    if (!seen.has(this)) {
      seen.add(this);
      const decoder = this;
      let current = decoder.onReply;
      Object.defineProperty(decoder, 'onReply', {
        configurable: true,
        get: () => (reply) => {
          decodedIn.push([Buffer.isBuffer(reply) ? reply.subarray(0, 6).toString() : String(reply).slice(0, 6), api.context.active().getValue(REQUEST)]);
          return current(reply);
        },
        set: (fn) => {
          current = fn;
        },
      });
    }
    return bound.call(this, chunk);
  };
  const { createClient } = require('redis');
  client = createClient({ url: db.url });
  await client.connect();
  await Promise.all(['a', 'b', 'c', 'd'].map((key) => client.set(`ctx:${key}`, `${key}${key}${key}${key}${key}:${BIG}`)));
});

after(async () => {
  await client?.quit().catch(() => {});
  await db?.stop?.();
});

const skip = () => (db?.skip ? db.skip : false);
const inRequest = (name, fn) => api.context.with(api.ROOT_CONTEXT.setValue(REQUEST, name), fn);

test('an asap command that jumps the queue is decoded in its own context, and so is the one it overtook', async (t) => {
  if (skip()) return t.skip(skip());
  decodedIn.length = 0;
  // Same tick: both wait for one write; `asap` puts b's GET first on the wire.
  const a = inRequest('request-a', () => client.get('ctx:a'));
  const b = inRequest('request-b', () => client.asap().get('ctx:b'));
  const [va, vb] = await Promise.all([a, b]);
  assert.ok(va.startsWith('aaaaa:') && vb.startsWith('bbbbb:'));
  assert.deepEqual(decodedIn, [
    ['bbbbb:', 'request-b'],
    ['aaaaa:', 'request-a'],
  ]);
});

test('commands of several requests pipelined on one connection are each decoded in their own context', async (t) => {
  if (skip()) return t.skip(skip());
  decodedIn.length = 0;
  const replies = await Promise.all([
    inRequest('request-c', () => client.get('ctx:c')),
    inRequest('request-d', () => client.multi().get('ctx:d').get('ctx:a').execAsPipeline()),
    inRequest('request-b', () => client.get('ctx:b')),
  ]);
  assert.equal(replies[1].length, 2);
  assert.deepEqual(decodedIn, [
    ['ccccc:', 'request-c'],
    ['ddddd:', 'request-d'],
    ['aaaaa:', 'request-d'],
    ['bbbbb:', 'request-b'],
  ]);
});

test("a command's own type mapping still applies (the binding gives each command its own mapping object)", async (t) => {
  if (skip()) return t.skip(skip());
  const { RESP_TYPES } = require('redis');
  const asBuffer = await client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer }).get('ctx:a');
  assert.ok(Buffer.isBuffer(asBuffer));
  assert.equal(asBuffer.subarray(0, 6).toString(), 'aaaaa:');
  assert.equal(typeof (await client.get('ctx:a')), 'string');
});
