// Builds of this checkout with one part of the profiler's linking turned off, for decomposing the full agent's
// cost with cpu-ab.mjs (measurement only; never shipped). Copies ./dist to <out>/dist, patches one file, and links
// node_modules and package.json so `full:<out>/dist` runs as the agent:
//   node bench/ab/variant-dist.mjs <variant> <out>
//   nobind  the context binding is not installed: no sample context is ever set (samples carry no span)
//   nocc    the pooled-connection context instrumentation is not loaded (pg, mysql2, redis replies keep the socket's context)
//   nolink  the span linker gives no span a label object (no pyroscope.profile.id, nothing to bind)
//   nostart profiling is configured on (linker in the span processors, pooled-connection context loaded) but the
//           profiler is never started: the tracing-side part of the profiler's cost
//   plain   nothing patched: the baseline to compare the others with (see below)
// Fails loudly if the code to patch is not found (the build changed).
// The register loads the agent from dist/agent-bundle.js, which holds its own copy of every module: a variant's
// agent-bundle.js is replaced by one that loads the unbundled dist/agent-entry.js, so the patched file is the one
// that runs. Our code then runs from ~90 files instead of one (the OpenTelemetry packages are still the vendored
// ones); compare a variant with `plain`, not with the bundled ./dist.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const [, , variant, outArg] = process.argv;
const patches = {
  nobind: ['linking/context-binding.js', /(\n\s*install\(\) \{\n)(\s*this\.restore = followEnterWith)/, '$1        return;\n$2'],
  nocc: ['tracing/instrumentations.js', /if \(config\.profiling\.enabled && instrumentation_catalog_1\.CONNECTION_CONTEXT_TARGETS\.some\(/, 'if (false && instrumentation_catalog_1.CONNECTION_CONTEXT_TARGETS.some('],
  nolink: ['linking/span-linker.js', /(onStart\(span, parentContext\) \{\n\s*)if \(!this\.active\)/, '$1if (true)'],
  plain: undefined,
  nostart: ['span-profiling.js', /if \(!this\.config\.profiling\.enabled\) \{/, "if (true) return off('measurement variant: not started', false);\n        if (!this.config.profiling.enabled) {"],
};
const patch = patches[variant];
if (!(variant in patches) || !outArg) {
  console.error(`usage: node bench/ab/variant-dist.mjs <${Object.keys(patches).join('|')}> <out>`);
  process.exit(2);
}
const out = path.resolve(outArg);
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
fs.cpSync(path.join(root, 'dist'), path.join(out, 'dist'), { recursive: true });
fs.symlinkSync(path.join(root, 'node_modules'), path.join(out, 'node_modules'));
fs.copyFileSync(path.join(root, 'package.json'), path.join(out, 'package.json'));
fs.writeFileSync(path.join(out, 'dist', 'agent-bundle.js'), "'use strict';\n// bench/ab/variant-dist.mjs: the unbundled agent, so that a patched module is the one that runs.\nmodule.exports = require('./agent-entry.js');\n");
if (patch === undefined) {
  console.log(`${variant}: ${out}/dist (unbundled, nothing patched)`);
} else {
  const [file, pattern, replacement] = patch;
  const target = path.join(out, 'dist', file);
  const text = fs.readFileSync(target, 'utf8');
  if (!pattern.test(text)) throw new Error(`${variant}: the code to patch is not in ${file} (the build changed)`);
  fs.writeFileSync(target, text.replace(pattern, replacement));
  console.log(`${variant}: ${out}/dist (${file} patched, unbundled)`);
}
