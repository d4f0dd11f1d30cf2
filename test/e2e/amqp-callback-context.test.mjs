// amqplib: what arrives on a shared connection for a request (a channel RPC reply, a publisher
// confirm) runs in that request's context, not in the context of the request that opened the connection.
// Against a real RabbitMQ; in-process, with the binding under test (dist/) and OpenTelemetry's context
// manager, through amqplib's callback API (whose callbacks are called straight from the frame loop).
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startRabbitmq } from '../helpers/databases.mjs';
import { repoRoot } from '../helpers/spawn-app.mjs';

const require = createRequire(import.meta.url);
const api = require('@opentelemetry/api');
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
const { ConnectionContextInstrumentation } = require(path.join(repoRoot, 'dist', 'tracing', 'instrumentation-connection-context.js'));

const REQUEST = api.createContextKey('test request');
const inRequest = (name, fn) => api.context.with(api.ROOT_CONTEXT.setValue(REQUEST, name), fn);
const current = () => api.context.active().getValue(REQUEST);

let db;
let connection;
let channel;
const deliveredIn = [];

before(async () => {
  db = await startRabbitmq();
  if (db.skip) return;
  api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  new ConnectionContextInstrumentation(); // enabled by its constructor; before amqplib is required
  const amqp = require('amqplib/callback_api');
  // The connection, its confirm channel and a consumer are made during the "opener" request.
  await inRequest('opener', () =>
    new Promise((resolve, reject) => {
      amqp.connect(db.url, (err, conn) => {
        if (err) return reject(err);
        connection = conn;
        conn.createConfirmChannel((err2, ch) => {
          if (err2) return reject(err2);
          channel = ch;
          ch.assertQueue('ctx-deliveries', { durable: false }, (err3) => {
            if (err3) return reject(err3);
            ch.consume('ctx-deliveries', (msg) => deliveredIn.push(current()), { noAck: true }, (err4) => (err4 ? reject(err4) : resolve()));
          });
        });
      });
    }),
  );
});

after(async () => {
  await new Promise((resolve) => (connection ? connection.close(() => resolve()) : resolve()));
  await db?.stop?.();
});

const skip = () => (db?.skip ? db.skip : false);

test("a channel RPC reply runs in the context of the request that asked, not the opener's", async (t) => {
  if (skip()) return t.skip(skip());
  const seen = await Promise.all(
    ['request-a', 'request-b'].map((name) =>
      inRequest(name, () => new Promise((resolve, reject) => channel.checkQueue('ctx-deliveries', (err) => (err ? reject(err) : resolve(current()))))),
    ),
  );
  assert.deepEqual(seen, ['request-a', 'request-b']);
});

test('a publisher confirm runs in the context of the request that published', async (t) => {
  if (skip()) return t.skip(skip());
  const seen = await Promise.all(
    ['request-c', 'request-d'].map((name) =>
      inRequest(name, () => new Promise((resolve, reject) => channel.sendToQueue('ctx-deliveries', Buffer.from(name), {}, (err) => (err ? reject(err) : resolve(current()))))),
    ),
  );
  assert.deepEqual(seen, ['request-c', 'request-d']);
});

test("a delivery answers no request: the consumer runs in no request's context, not the opener's", async (t) => {
  if (skip()) return t.skip(skip());
  const deadline = Date.now() + 10_000;
  while (deliveredIn.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(deliveredIn, [undefined, undefined]);
});
