'use strict';
// GET /users: a file-system promise, two nested manual spans with a process.nextTick callback
// inside the inner one, a synchronous EventEmitter listener and a crypto thread-pool callback.
const { trace } = require('@opentelemetry/api');
const crypto = require('node:crypto');
const { EventEmitter } = require('node:events');
const fs = require('node:fs');
const { spendCpu } = require('../cpu-budget');

const tracer = trace.getTracer('bench-workload');
const audit = new EventEmitter();
let sink = 0;

function usersDecodeProfile() {
  let acc = 0;
  for (let i = 1; i < 2500; i++) acc += Math.sqrt(i * 3) * Math.sin(i * 0.11);
  sink = (sink + acc) % 1e9;
}

function usersEnrichFriends() {
  let acc = 0;
  for (let i = 1; i < 2500; i++) acc += Math.log10(i + 1) * Math.cos(i * 0.13);
  sink = (sink + acc) % 1e9;
}

function usersAuditTrail() {
  let acc = 0;
  for (let i = 1; i < 2500; i++) acc += Math.asinh(i) * Math.sin(i * 0.17);
  sink = (sink + acc) % 1e9;
}

function usersSignToken() {
  let acc = 0;
  for (let i = 1; i < 2500; i++) acc += Math.sqrt(i + 7) * Math.atan(i * 0.19);
  sink = (sink + acc) % 1e9;
}

audit.on('lookup', (entry, micros) => spendCpu(micros, usersAuditTrail, entry));

async function handleUsers(entry, micros) {
  await fs.promises.stat(__filename);
  await tracer.startActiveSpan('users.load', async (load) => {
    try {
      spendCpu(micros * 0.25, usersDecodeProfile, entry);
      await tracer.startActiveSpan('users.enrich', async (enrich) => {
        try {
          await new Promise((resolve) => {
            process.nextTick(() => {
              spendCpu(micros * 0.25, usersEnrichFriends, entry);
              resolve();
            });
          });
        } finally {
          enrich.end();
        }
      });
    } finally {
      load.end();
    }
  });
  audit.emit('lookup', entry, micros * 0.2);
  await new Promise((resolve, reject) => {
    crypto.randomBytes(16, (err, bytes) => {
      if (err) return reject(err);
      spendCpu(micros * 0.3, usersSignToken, entry);
      resolve(bytes);
    });
  });
}

module.exports = {
  path: '/users',
  handle: handleUsers,
  functions: [usersDecodeProfile, usersEnrichFriends, usersAuditTrail, usersSignToken].map((fn) => fn.name),
  sink: () => sink,
};
