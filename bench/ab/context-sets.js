'use strict';
// Preload (--require it in a config's NODE_OPTIONS, e.g. `full,NODE_OPTIONS=--require=<abs path>/bench/ab/context-sets.js`):
// counts pprof's `setContext` calls (the context binding writing a frame's sample context) per request the
// app's HTTP server receives, split into sets and empties, and prints the counts to stderr every 5 s. With
// SITES=1 it also prints where one call in 97 came from (a few frames, the binding's own left out).
// Why it matters: each set under AsyncContextFrame makes a holder in native code (0.5-0.8 µs).
const time = require('@datadog/pprof/out/src/time-profiler');
const http = require('node:http');

let sets = 0;
let empties = 0;
let requests = 0;
const sites = new Map();
const setContext = time.setContext;
time.setContext = function (value) {
  if (value === undefined) empties++;
  else sets++;
  if (process.env.SITES && (sets + empties) % 97 === 0) {
    const frames = new Error().stack.split('\n').slice(2, 14).map((l) => l.trim().replace(/^at /, '').replace(/\(.*node_modules\//, '('));
    const site = `${value === undefined ? 'empty' : 'set'} ${frames.filter((l) => !/context-binding|enterWith|agent-bundle/.test(l)).slice(0, 6).join(' < ')}`;
    sites.set(site, (sites.get(site) ?? 0) + 1);
  }
  return setContext.call(this, value);
};
const emit = http.Server.prototype.emit;
http.Server.prototype.emit = function (event, ...args) {
  if (event === 'request') requests++;
  return emit.call(this, event, ...args);
};
setInterval(() => {
  if (requests === 0) return;
  process.stderr.write(`[context-sets] ${requests} requests: ${(sets / requests).toFixed(2)} sets, ${(empties / requests).toFixed(2)} empties per request\n`);
  for (const [site, n] of [...sites].sort((a, b) => b[1] - a[1]).slice(0, 8)) process.stderr.write(`[context-sets]   ${n} ${site}\n`);
}, 5000).unref();
