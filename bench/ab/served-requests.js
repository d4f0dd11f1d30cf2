'use strict';
// The HTTP requests this process's servers have received, for the in-process toggles' CPU per request
// (bench/ab/toggle-sampler.js, bench/ab/toggle-part.js). Counting starts when this module is loaded.
const http = require('node:http');

let served = 0;
const emit = http.Server.prototype.emit;
http.Server.prototype.emit = function (event, ...args) {
  if (event === 'request') served++;
  return emit.call(this, event, ...args);
};

module.exports = { served: () => served };
