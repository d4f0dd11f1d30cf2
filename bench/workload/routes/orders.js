'use strict';
// GET /orders: CPU before an await, after a timer promise, inside a setImmediate callback and
// inside a setTimeout callback.
const { setTimeout: sleep } = require('node:timers/promises');
const { spendCpu } = require('../cpu-budget');

let sink = 0; // results land here so the work can't be optimised away

function ordersValidateLines() {
  let acc = 0;
  for (let i = 1; i < 2500; i++) acc += Math.sqrt(i * 1.25) * Math.cos(i);
  sink = (sink + acc) % 1e9;
}

function ordersPriceItems() {
  let acc = 1;
  for (let i = 1; i < 2500; i++) acc += Math.log(i + acc * 1e-7) * Math.sin(i * 0.5);
  sink = (sink + acc) % 1e9;
}

function ordersComputeTax() {
  let acc = 0;
  for (let i = 1; i < 2500; i++) acc += Math.atan(i * 0.01) * Math.sqrt(i);
  sink = (sink + acc) % 1e9;
}

function ordersFinalizeInvoice() {
  let acc = 0;
  for (let i = 1; i < 2500; i++) acc += Math.exp((i % 50) * 0.01) * Math.cos(i * 0.3);
  sink = (sink + acc) % 1e9;
}

async function handleOrders(entry, micros) {
  spendCpu(micros * 0.2, ordersValidateLines, entry);
  await sleep(1);
  spendCpu(micros * 0.3, ordersPriceItems, entry);
  await new Promise((resolve) => {
    setImmediate(() => {
      spendCpu(micros * 0.2, ordersComputeTax, entry);
      resolve();
    });
  });
  await new Promise((resolve) => {
    setTimeout(() => {
      spendCpu(micros * 0.3, ordersFinalizeInvoice, entry);
      resolve();
    }, 0);
  });
}

module.exports = {
  path: '/orders',
  handle: handleOrders,
  functions: [ordersValidateLines, ordersPriceItems, ordersComputeTax, ordersFinalizeInvoice].map((fn) => fn.name),
  sink: () => sink,
};
