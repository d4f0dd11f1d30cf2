'use strict';
// The entry of the /autoinstrumentation tree in the span-profiles image. The OpenTelemetry Operator
// copies the tree into the pod and appends
//   --require /otel-auto-instrumentation-nodejs/autoinstrumentation.js
// to NODE_OPTIONS; a plain init container or a `COPY --from` of the image does the same by hand.
// The require resolves from this file's own node_modules, so the app needs none of the agent's
// dependencies. The register itself never throws; this guard only covers a tree that is broken or
// copied incompletely, so that even then the app starts, uninstrumented.
try {
  require('@acme/span-profiles/register');
} catch (error) {
  process.stderr.write(
    `[span-profiles] the agent could not be loaded from ${__dirname} (${error && error.code ? error.code + ': ' : ''}` +
      `${error && error.message ? String(error.message).split('\n')[0] : String(error)}); the app runs without it\n`,
  );
}
