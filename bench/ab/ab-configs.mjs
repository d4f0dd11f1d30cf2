// What the bench/ab tools share besides the app (ab-app.mjs): the configs they take on the command line,
//   [label=]kind[:dist][,VAR=value...]   kind: bare | otel | full | noprof
//   otel   = --require @opentelemetry/auto-instrumentations-node/register (this checkout's copy), as the
//            peers' harness runs it: OTLP/HTTP to the loopback sink, local resource detectors only
//   full   = --require <dist>/register.js (default ./dist), OTLP/HTTP protobuf traces to the sink, profiles to
//            its /ingest
//   noprof = full with OTEL_PYROSCOPE_START_PROFILING=false (tracing only)
// the loopback sink those apps export to, and the environment of this process without any agent's variables.
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const otelRegister = createRequire(path.join(root, 'package.json')).resolve('@opentelemetry/auto-instrumentations-node/register');

/** A receiver on 127.0.0.1 that reads whatever is posted and answers `{}`. Resolves to `{ url, close() }`. */
export async function startAbSink() {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('{}'));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => server.close() };
}

/**
 * The configs `specs` name, as `{ label, kind, args, env }` (env: the config's own variables, to add to a clean
 * environment). `common`: variables every config but `bare` gets before the spec's own. Throws on an unknown kind.
 */
export function abConfigs(specs, sinkUrl, common = {}) {
  const otelEnv = { OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl, OTEL_SERVICE_NAME: 'bench-app', OTEL_NODE_RESOURCE_DETECTORS: 'env,host,os,process,serviceinstance,container', ...common };
  const oursEnv = { ...otelEnv, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none', PYROSCOPE_SERVER_ADDRESS: sinkUrl };
  return specs.map((spec) => {
    const [head, ...vars] = spec.split(',');
    const eq = head.indexOf('=');
    const label = eq > 0 ? head.slice(0, eq) : head;
    const [kind, dist] = (eq > 0 ? head.slice(eq + 1) : head).split(':');
    const extra = Object.fromEntries(vars.map((v) => [v.slice(0, v.indexOf('=')), v.slice(v.indexOf('=') + 1)]));
    if (kind === 'bare') return { label, kind, args: [], env: extra };
    if (kind === 'otel') return { label, kind, args: ['--require', otelRegister], env: { ...otelEnv, ...extra } };
    if (kind !== 'full' && kind !== 'noprof') throw new Error(`unknown config ${spec} (kinds: bare, otel, full, noprof)`);
    const env = kind === 'full' ? oursEnv : { ...oursEnv, OTEL_PYROSCOPE_START_PROFILING: 'false' };
    return { label, kind, args: ['--require', path.resolve(dist ?? 'dist', 'register.js')], env: { ...env, ...extra } };
  });
}

/**
 * `common` for {@link abConfigs} as the bench's overhead section runs them (bench/lib/configurations.mjs):
 * OTLP/HTTP protobuf, cheap resource detectors, the register with metrics and logs off, no diagnostics.
 */
export const AS_IN_THE_BENCH = Object.freeze({
  OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
  OTEL_NODE_RESOURCE_DETECTORS: 'env,host,os,process',
  OTEL_METRICS_EXPORTER: 'none',
  OTEL_LOGS_EXPORTER: 'none',
  OTEL_LOG_LEVEL: 'none',
});

/** This process's environment without anything that would configure an agent (or another) in the child. */
export function withoutAgentEnv() {
  const base = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(OTEL_|DD_|PYROSCOPE_|SPAN_PROFILES_|NODE_OPTIONS$)/.test(k)) base[k] = v;
  return base;
}

/**
 * The environment of a config's app process as the A/B tools run it: this process's without any agent's
 * variables, OpenTelemetry's diagnostics off, WORK_ITERS (15000 unless set here), the app's own variables
 * (`appEnv`, e.g. PostgreSQL's), a local store directory named after the tool (used only by configs that send
 * profiles to the store), then the config's own variables.
 */
export function abProcessEnv(config, appEnv, tool) {
  return {
    ...withoutAgentEnv(),
    OTEL_LOG_LEVEL: 'none',
    WORK_ITERS: process.env.WORK_ITERS ?? '15000',
    ...appEnv,
    SPAN_PROFILES_DIR: `/tmp/${tool}-store-${process.pid}`,
    ...config.env,
  };
}
