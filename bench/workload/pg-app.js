'use strict';
// The bench's `pg` workload: a node:http app backed by PostgreSQL through `pg` (a Pool of 8). Each
// GET /customers/:id runs two queries (the customer by primary key, its ten latest orders through an
// index), then spends BENCH_WORK_ITERATIONS loop iterations (calibrated by the bench to ~0.3 ms) on
// the answer, so the app and not the database is what saturates. DATABASE_URL names the server,
// which the bench starts and fills (`node pg-app.js --seed`). Prints {"listening":PORT} when ready.
const http = require('node:http');
const { Pool } = require('pg');
const { computeOrderTotals, workIterations } = require('./cpu-work.js');

const CUSTOMERS = 1000;
const ORDERS_PER_CUSTOMER = 20;

// No idle timeout: the pool's connections stay open between the bench's load phases.
const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 8, idleTimeoutMillis: 0 });

async function seed() {
  await pool.query('DROP TABLE IF EXISTS orders, customers');
  await pool.query('CREATE TABLE customers (id integer PRIMARY KEY, name text NOT NULL, email text NOT NULL)');
  await pool.query(
    'CREATE TABLE orders (id serial PRIMARY KEY, customer_id integer NOT NULL REFERENCES customers, total numeric(10,2) NOT NULL, created_at timestamptz NOT NULL)',
  );
  await pool.query(
    `INSERT INTO customers SELECT i, 'customer ' || i, 'c' || i || '@example.com' FROM generate_series(1, ${CUSTOMERS}) AS i`,
  );
  await pool.query(
    `INSERT INTO orders (customer_id, total, created_at)
     SELECT 1 + (i % ${CUSTOMERS}), (i % 997) / 10.0, now() - i * interval '1 minute' FROM generate_series(1, ${CUSTOMERS * ORDERS_PER_CUSTOMER}) AS i`,
  );
  await pool.query('CREATE INDEX orders_by_customer ON orders (customer_id, created_at DESC)');
  await pool.query('ANALYZE');
}

const iterations = workIterations();

async function getCustomer(id) {
  const customer = await pool.query('SELECT id, name, email FROM customers WHERE id = $1', [id]);
  if (customer.rowCount === 0) return undefined;
  const orders = await pool.query('SELECT id, total, created_at FROM orders WHERE customer_id = $1 ORDER BY created_at DESC LIMIT 10', [id]);
  const score = computeOrderTotals(iterations);
  return { ...customer.rows[0], score: Math.round(score) % 1000, orders: orders.rows };
}

function send(res, status, body) {
  const bytes = Buffer.from(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': bytes.length }).end(bytes);
}

if (process.argv.includes('--seed')) {
  seed()
    .then(() => pool.end())
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
} else {
  const server = http.createServer((req, res) => {
    const match = /^\/customers\/(\d+)$/.exec(req.url);
    if (!match) return send(res, 404, '{}');
    getCustomer(Number(match[1])).then(
      (customer) => (customer ? send(res, 200, JSON.stringify(customer)) : send(res, 404, '{}')),
      (err) => send(res, 500, JSON.stringify({ error: err.message })),
    );
  });
  server.keepAliveTimeout = 60_000;
  // Connect the pool before answering, so no configuration pays for connecting inside its window.
  Promise.all(Array.from({ length: 8 }, () => pool.connect()))
    .then((clients) => clients.forEach((client) => client.release()))
    .then(() => server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => console.log(JSON.stringify({ listening: server.address().port }))))
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
}
