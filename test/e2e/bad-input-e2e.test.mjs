// Bad input, end to end. Every variable the agent reads (readConfig({}).entries) is fed every value of a
// garbage list; the guarded fixture is started with them (all variables of a batch share one garbage
// value, a batch per value; the process allow/deny lists, which may keep the agent out on purpose, get
// their own batch). Each process must start and serve, every bad value must get a warning line naming
// its variable (and showing the value, or <redacted> for a secret), nothing of the agent may reach
// stdout, and no secret may appear anywhere in the output. A second test sends credentials of every kind
// to backends that refuse them and echo the request back, at OTEL_LOG_LEVEL=all, and looks for them.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { spawnApp } from '../helpers/spawn-app.mjs';
import { GUARDED_APP, agentLines, assertNoFaultsReachedApp } from '../helpers/reliability-harness.mjs';

const require = createRequire(import.meta.url);
const { readConfig } = require('../../dist/config/index.js');

const SECRET = `pw-${randomBytes(6).toString('hex')}`;
/** A closed loopback port: whatever is sent there is refused, nothing leaves the machine. */
const CLOSED_PORT = 9;

/** The garbage list: each value with the kind of garbage it is. */
const GARBAGE = [
  { kind: 'empty', value: '' },
  { kind: 'spaces', value: '   ' },
  { kind: 'negative', value: '-1' },
  { kind: 'huge', value: '99999999999999999999' },
  { kind: 'non-numeric', value: 'abc' },
  { kind: 'unknown enum', value: 'bogus_choice' },
  { kind: 'unicode', value: 'ünïcødé-☃-名前' },
  { kind: 'URL without scheme', value: '127.0.0.1:4318' },
  { kind: 'URL with credentials', value: `http://span-user:${SECRET}@127.0.0.1:${CLOSED_PORT}/` },
];

/**
 * What each variable accepts, by its type. `bad(value)` says whether a value must get a warning.
 * Empty is "unset" (the OpenTelemetry convention): never a warning.
 */
const blank = (v) => v.trim() === '';
const TYPES = {
  bool: (v) => !['true', 'false'].includes(v.trim().toLowerCase()),
  enum: () => true,
  text: (v) => blank(v),
  keyValues: (v) => !/^[^=,]+=[^=,]+(,[^=,]+=[^=,]+)*$/.test(v.trim()),
  // OTLP headers: key=value pairs, keys HTTP tokens, values percent-encoded.
  headers: (v) => !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+=[^,]+(,[!#$%&'*+.^_`|~0-9A-Za-z-]+=[^,]+)*$/.test(v.trim()),
  url: (v) => !/^https?:\/\/[^\s]+$/.test(v.trim()),
  names: () => true,
  ratio: (v) => !(Number(v) >= 0 && Number(v) <= 1),
  int: (v) => !/^\d{1,9}$/.test(v.trim()),
  duration: (v) => !/^\d{1,9}(ms|s|m|h)?$/.test(v.trim()),
  size: (v) => !/^\d{1,6}(b|kb|kib|mb|mib|gb|gib)?$/i.test(v.trim()),
  json: () => true,
  programs: (v) => blank(v) || !/^[A-Za-z0-9@/._*,-]+$/.test(v.trim()),
};

/** Every variable of readConfig({}).entries by type; a new variable fails the test until it is added here. */
const VARIABLE_TYPES = {
  OTEL_SDK_DISABLED: 'bool',
  OTEL_LOG_LEVEL: 'enum',
  OTEL_SERVICE_NAME: 'text',
  OTEL_RESOURCE_ATTRIBUTES: 'keyValues',
  SPAN_PROFILES_STORE: 'enum',
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'url',
  OTEL_EXPORTER_OTLP_ENDPOINT: 'url',
  OTEL_TRACES_EXPORTER: 'names',
  OTEL_EXPORTER_OTLP_PROTOCOL: 'enum',
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'enum',
  OTEL_TRACES_SAMPLER: 'enum',
  OTEL_TRACES_SAMPLER_ARG: 'ratio',
  OTEL_PROPAGATORS: 'names',
  OTEL_BSP_SCHEDULE_DELAY: 'int',
  OTEL_BSP_EXPORT_TIMEOUT: 'int',
  OTEL_BSP_MAX_QUEUE_SIZE: 'int',
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: 'int',
  OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'names',
  OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'names',
  OTEL_NODE_RESOURCE_DETECTORS: 'names',
  OTEL_METRICS_EXPORTER: 'names',
  OTEL_LOGS_EXPORTER: 'names',
  OTEL_PYROSCOPE_START_PROFILING: 'bool',
  OTEL_PYROSCOPE_ROOT_SPAN_ONLY: 'bool',
  OTEL_PYROSCOPE_ADD_SPAN_NAME: 'bool',
  PYROSCOPE_PROFILING_INTERVAL: 'duration',
  PYROSCOPE_UPLOAD_INTERVAL: 'duration',
  SPAN_PROFILES_WALL: 'bool',
  SPAN_PROFILES_SOURCE_MAPS: 'bool',
  SPAN_PROFILES_HEAP: 'bool',
  PYROSCOPE_HEAP_SAMPLING_INTERVAL_BYTES: 'int',
  PYROSCOPE_HEAP_STACK_DEPTH: 'int',
  PYROSCOPE_SERVER_ADDRESS: 'url',
  PYROSCOPE_APPLICATION_NAME: 'text',
  PYROSCOPE_LABELS: 'keyValues',
  PYROSCOPE_BASIC_AUTH_USER: 'text',
  PYROSCOPE_BASIC_AUTH_PASSWORD: 'text',
  PYROSCOPE_AUTH_TOKEN: 'text',
  PYROSCOPE_TENANT_ID: 'text',
  PYROSCOPE_HTTP_HEADERS: 'json',
  SPAN_PROFILES_UPLOAD_TIMEOUT: 'duration',
  SPAN_PROFILES_UPLOAD_QUEUE: 'int',
  SPAN_PROFILES_TRACE_ID_LABEL: 'enum',
  SPAN_PROFILES_MAX_SPAN_NAMES: 'int',
  SPAN_PROFILES_MAX_UPLOAD_SIZE: 'size',
  SPAN_PROFILES_DIR: 'text',
  SPAN_PROFILES_STORE_MAX_SIZE: 'size',
  SPAN_PROFILES_SHUTDOWN_TIMEOUT: 'duration',
  SPAN_PROFILES_ESM_HOOK: 'bool',
  SPAN_PROFILES_PROCESS_ALLOW: 'programs',
  SPAN_PROFILES_PROCESS_DENY: 'programs',
  OTEL_PROFILES_EXPORTER: 'names',
  OTEL_EXPORTER_OTLP_PROFILES_ENDPOINT: 'url',
  OTEL_EXPORTER_OTLP_PROFILES_PROTOCOL: 'enum',
  OTEL_EXPORTER_OTLP_HEADERS: 'headers',
  OTEL_EXPORTER_OTLP_PROFILES_HEADERS: 'headers',
  OTEL_EXPORTER_OTLP_TIMEOUT: 'int',
  OTEL_EXPORTER_OTLP_PROFILES_TIMEOUT: 'int',
  OTEL_EXPORTER_OTLP_COMPRESSION: 'enum',
  OTEL_EXPORTER_OTLP_PROFILES_COMPRESSION: 'enum',
};
/** Variables that may keep the agent out of the process on purpose: batched apart from the rest. */
const PROCESS_FILTER = new Set(['SPAN_PROFILES_PROCESS_ALLOW', 'SPAN_PROFILES_PROCESS_DENY']);

const entries = readConfig({}).entries;
const secretNames = new Set(entries.filter((e) => e.secret).map((e) => e.name));

/**
 * The value a variable gets for a garbage value. A secret variable's value carries a unique marker, so
 * finding the marker in the output means the value leaked (the plain garbage is shared by the batch).
 */
function valueFor(name, garbage, index) {
  if (!secretNames.has(name) || blank(garbage.value)) return garbage.value;
  return `${garbage.value}~secret${index}${randomBytes(3).toString('hex')}`;
}

function batches() {
  const list = [];
  GARBAGE.forEach((garbage, g) => {
    for (const group of ['process filter', 'everything else']) {
      const env = {};
      const expected = [];
      const secrets = garbage.kind === 'URL with credentials' ? [SECRET] : [];
      entries.forEach((entry, i) => {
        if (PROCESS_FILTER.has(entry.name) !== (group === 'process filter')) return;
        const value = valueFor(entry.name, garbage, g * 100 + i);
        env[entry.name] = value;
        if (secretNames.has(entry.name) && value !== garbage.value) secrets.push(value.slice(value.indexOf('~')));
        if (value !== '' && TYPES[VARIABLE_TYPES[entry.name]](value)) expected.push({ name: entry.name, value });
      });
      list.push({ label: `${garbage.kind} (${group})`, garbage, env, expected, secrets });
    }
  });
  return list;
}

const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Starts the fixture with one batch; returns what is wrong with it (empty when nothing is). */
async function checkBatch(batch) {
  const problems = [];
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'span-profiles-bad-input-'));
  try {
    // cwd and TMPDIR: relative or default store directories land in the scratch directory.
    const app = await spawnApp({ app: GUARDED_APP, cwd, env: { ...batch.env, TMPDIR: cwd } });
    try {
      for (const route of ['/', '/cpu?ms=30', '/slow?ms=5']) {
        const { status } = await app.request(route);
        if (status !== 200) problems.push(`${route} answered ${status}`);
      }
      await assertNoFaultsReachedApp(app).catch((err) => problems.push(err.message));
    } finally {
      await app.dispose();
    }
    const lines = agentLines(app.stderr());
    for (const { name, value } of batch.expected) {
      const naming = lines.filter((line) => new RegExp(`\\b${escapeRegExp(name)}\\b`).test(line));
      if (naming.length === 0) {
        problems.push(`${name}=${JSON.stringify(secretNames.has(name) ? '<secret>' : value)}: no warning names the variable`);
        continue;
      }
      const shows = secretNames.has(name) ? '<redacted>' : JSON.stringify(value);
      if (batch.garbage.kind !== 'URL with credentials' && !naming.some((line) => line.includes(shows))) {
        problems.push(`${name}: the warning does not show the value as ${shows}: ${naming[0]}`);
      }
    }
    const output = app.stdout() + app.stderr();
    for (const secret of batch.secrets) {
      if (output.includes(secret)) problems.push(`a secret (${secret.slice(0, 4)}...) appears in the output`);
    }
    // Everything the agent (and the OpenTelemetry SDK inside it) prints goes through its prefixed logger.
    const unprefixed = app.stderr().split('\n').filter((line) => line.trim() && !line.startsWith('[span-profiles]'));
    if (unprefixed.length > 0) problems.push(`${unprefixed.length} stderr lines without the [span-profiles] prefix, e.g.:\n  ${unprefixed.slice(0, 3).join('\n  ')}`);
    const foreignStdout = app.stdout().split('\n').filter((line) => line && !line.startsWith('{'));
    if (foreignStdout.length > 0) problems.push(`the agent wrote to stdout: ${foreignStdout.join(' | ')}`);
    if (lines.some((line) => /\] error: the agent failed to start/.test(line))) problems.push(`the agent failed to start: ${lines.join(' | ')}`);
    // The test's own report must not print the secret either.
    return { problems: problems.map((p) => p.split(SECRET).join('<SECRET>')), lines };
  } catch (err) {
    problems.push(`the app did not start or serve: ${err.message.slice(0, 2000)}`);
    return { problems, lines: [] };
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}

test('every variable the agent reads has a type in this test (a new variable must be added to VARIABLE_TYPES)', () => {
  const untyped = entries.map((e) => e.name).filter((name) => !(name in VARIABLE_TYPES));
  assert.deepEqual(untyped, []);
  assert.ok(entries.length >= 40, `readConfig lists the variables (${entries.length})`);
});

test('garbage in every variable: the app starts and serves, each bad value is warned about by name, no secret is printed', async (t) => {
  const all = batches();
  const cases = all.reduce((n, b) => n + Object.keys(b.env).length, 0);
  const report = [];
  // Two processes at a time: the machine has two cores.
  const queue = [...all];
  const worker = async () => {
    for (let batch = queue.shift(); batch; batch = queue.shift()) {
      const { problems, lines } = await checkBatch(batch);
      report.push({ label: batch.label, problems, warnings: lines.length, expected: batch.expected.length });
    }
  };
  await Promise.all([worker(), worker()]);
  t.diagnostic(`${cases} cases (${entries.length} variables x ${GARBAGE.length} garbage values) in ${all.length} processes`);
  for (const r of report) t.diagnostic(`${r.label}: ${r.expected} bad values, ${r.warnings} warning lines, ${r.problems.length} problems`);
  const failed = report.filter((r) => r.problems.length > 0);
  assert.equal(
    failed.length,
    0,
    failed.map((r) => `--- ${r.label}\n${r.problems.map((p) => `  ${p}`).join('\n')}`).join('\n'),
  );
});

/** A backend that refuses everything with 400 and echoes the request's headers and URL back in the body. */
async function startEchoingBackend(t) {
  const requests = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests.push(req.url);
      res.writeHead(400, { 'content-type': 'text/plain' }).end(`rejected ${req.method} ${req.url} ${JSON.stringify(req.headers)}`);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return { url: `http://127.0.0.1:${server.address().port}`, port: server.address().port, requests };
}

test('credentials of every kind never appear in the output, even at OTEL_LOG_LEVEL=all with backends echoing them back', async (t) => {
  const secret = (name) => `${name}-${randomBytes(6).toString('hex')}`;
  const s = {
    pyroscopeUrlPassword: secret('pyro-url-pw'),
    basicPassword: secret('basic-pw'),
    token: secret('token'),
    header: secret('hdr'),
    otlpUrlPassword: secret('otlp-url-pw'),
    otlpHeader: secret('otlp-hdr'),
    otlpApiKey: secret('otlp-key'),
  };
  const pyroscope = await startEchoingBackend(t);
  const otlp = await startEchoingBackend(t);
  const app = await spawnApp({
    app: GUARDED_APP,
    env: {
      OTEL_LOG_LEVEL: 'all',
      PYROSCOPE_SERVER_ADDRESS: `http://pyro-user:${s.pyroscopeUrlPassword}@127.0.0.1:${pyroscope.port}`,
      PYROSCOPE_BASIC_AUTH_USER: 'basic-user',
      PYROSCOPE_BASIC_AUTH_PASSWORD: s.basicPassword,
      PYROSCOPE_AUTH_TOKEN: s.token,
      PYROSCOPE_HTTP_HEADERS: JSON.stringify({ 'X-Api-Key': s.header }),
      PYROSCOPE_UPLOAD_INTERVAL: '1s',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://otlp-user:${s.otlpUrlPassword}@127.0.0.1:${otlp.port}`,
      OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer ${s.otlpHeader},x-api-key=${s.otlpApiKey}`,
      OTEL_BSP_SCHEDULE_DELAY: '200',
    },
  });
  for (let i = 0; i < 5; i++) assert.equal((await app.request('/cpu?ms=30')).status, 200);
  // Both backends were reached and refused; the agent has reported both refusals.
  await app.waitForOutput(/profile rejected, not retried: HTTP 400/, { timeoutMs: 15000 });
  await app.waitForOutput(/OpenTelemetry: .*(400|Bad Request)/, { timeoutMs: 15000 });
  assert.ok(pyroscope.requests.length >= 1 && otlp.requests.length >= 1, 'both backends were reached');
  await app.dispose();

  const output = app.stdout() + app.stderr();
  const encodings = (value) => [value, Buffer.from(value).toString('base64'), encodeURIComponent(value)];
  const leaks = [];
  for (const [what, value] of Object.entries(s)) {
    for (const form of encodings(value)) if (output.includes(form)) leaks.push(`${what} (${form === value ? 'plain' : 'encoded'})`);
  }
  for (const [what, pair] of Object.entries({
    'basic auth': `basic-user:${s.basicPassword}`,
    'pyroscope URL credentials': `pyro-user:${s.pyroscopeUrlPassword}`,
    'otlp URL credentials': `otlp-user:${s.otlpUrlPassword}`,
  })) {
    if (output.includes(Buffer.from(pair).toString('base64'))) leaks.push(`${what} (base64)`);
  }
  t.diagnostic(`${agentLines(app.stderr()).length} agent lines at OTEL_LOG_LEVEL=all`);
  assert.deepEqual(leaks, [], `secrets in the output:\n${output.split('\n').filter((l) => Object.values(s).some((v) => l.includes(v))).join('\n').slice(0, 3000)}`);
});
