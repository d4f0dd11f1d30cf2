// Configuration: every variable's parsing, defaults, and the warning a bad value gets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);
const { readConfig, parseDuration, parseSize, defaultStoreDir, VARIABLES } = require('../../dist/config/index.js');

const read = (env) => readConfig({ ...env });

test('defaults with an empty environment', () => {
  const { config, warnings } = read({});
  assert.deepEqual(warnings, []);
  assert.equal(config.disabled, false);
  assert.equal(config.logLevel, 'warn');
  assert.deepEqual(config.traces.exporters, ['store']);
  assert.equal(config.traces.otlpProtocol, 'http/protobuf');
  assert.equal(config.traces.sampler, 'parentbased_always_on');
  assert.deepEqual(config.traces.propagators, ['tracecontext', 'baggage']);
  assert.equal(config.profiling.enabled, true);
  assert.equal(config.profiling.rootSpanOnly, true);
  assert.equal(config.profiling.addSpanName, true);
  assert.equal(config.profiling.samplingIntervalMicros, 10_000);
  assert.equal(config.profiling.uploadIntervalMs, 15_000);
  assert.equal(config.pyroscope.serverAddress, undefined);
  assert.equal(config.store.profiles, true);
  assert.equal(config.store.spans, true);
  assert.equal(config.store.dir, path.join(os.tmpdir(), 'span-profiles'));
  assert.equal(config.shutdownTimeoutMs, 5000);
  assert.deepEqual(config.resourceDetectors, ['env', 'host', 'os', 'process', 'serviceinstance', 'container']);
});

test('an OTLP endpoint makes otlp the default trace exporter; a Pyroscope address takes profiles off the store', () => {
  const { config } = read({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', PYROSCOPE_SERVER_ADDRESS: 'http://pyroscope:4040' });
  assert.deepEqual(config.traces.exporters, ['otlp']);
  assert.equal(config.traces.otlpEndpoint, 'http://collector:4318/v1/traces');
  assert.equal(config.store.profiles, false);
  assert.equal(config.store.spans, false);
});

test('SPAN_PROFILES_STORE=always keeps both beside the backends; never turns the store off', () => {
  const always = read({ SPAN_PROFILES_STORE: 'always', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', PYROSCOPE_SERVER_ADDRESS: 'http://p:4040' }).config;
  assert.deepEqual(always.traces.exporters, ['otlp', 'store']);
  assert.equal(always.store.profiles, true);
  const never = read({ SPAN_PROFILES_STORE: 'never' });
  assert.deepEqual(never.config.traces.exporters, ['otlp']);
  assert.equal(never.config.profiling.enabled, false, 'no destination for profiles: profiler off');
  assert.match(never.warnings.join('\n'), /SPAN_PROFILES_STORE="never".*profiler stays off/);
});

test('OTEL_TRACES_EXPORTER lists, none, and unknown entries', () => {
  assert.deepEqual(read({ OTEL_TRACES_EXPORTER: 'otlp,console' }).config.traces.exporters, ['otlp', 'console']);
  assert.deepEqual(read({ OTEL_TRACES_EXPORTER: 'none' }).config.traces.exporters, []);
  const bad = read({ OTEL_TRACES_EXPORTER: 'otlp,jaeger' });
  assert.deepEqual(bad.config.traces.exporters, ['otlp']);
  assert.match(bad.warnings[0], /^OTEL_TRACES_EXPORTER="otlp,jaeger" names unknown entry "jaeger"; using otlp/);
});

test('service name precedence: OTEL_SERVICE_NAME, then OTEL_RESOURCE_ATTRIBUTES, then package.json', () => {
  assert.equal(read({ OTEL_SERVICE_NAME: 'a', OTEL_RESOURCE_ATTRIBUTES: 'service.name=b' }).config.serviceName, 'a');
  const fromAttributes = read({ OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod,service.name=b%20c,service.namespace=shop' }).config;
  assert.equal(fromAttributes.serviceName, 'b c');
  assert.equal(fromAttributes.serviceNameSource, 'OTEL_RESOURCE_ATTRIBUTES');
  assert.equal(fromAttributes.serviceNamespace, 'shop');
});

test('protocol: the traces-specific variable wins over the general one', () => {
  const { config } = read({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json', OTEL_TRACES_EXPORTER: 'otlp' });
  assert.equal(config.traces.otlpProtocol, 'http/json');
  assert.equal(read({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_TRACES_EXPORTER: 'otlp' }).config.traces.otlpEndpoint, 'http://localhost:4317');
});

test('durations and sizes accept units; a bare number is milliseconds / MiB', () => {
  assert.equal(parseDuration('15s'), 15_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('2m'), 120_000);
  assert.equal(parseDuration('1500'), 1500);
  assert.equal(parseDuration('abc'), undefined);
  assert.equal(parseSize('256MiB'), 256 * 1024 * 1024);
  assert.equal(parseSize('1GB'), 1e9);
  assert.equal(parseSize('64'), 64 * 1024 * 1024);
  assert.equal(read({ PYROSCOPE_UPLOAD_INTERVAL: '5s' }).config.profiling.uploadIntervalMs, 5000);
  assert.equal(read({ PYROSCOPE_PROFILING_INTERVAL: '5ms' }).config.profiling.samplingIntervalMicros, 5000);
});

test('Pyroscope credentials in the URL become basic auth and leave the address', () => {
  const { config, entries } = read({ PYROSCOPE_SERVER_ADDRESS: 'https://123:s3cr3t-t0ken@profiles.example.com/prefix' });
  assert.equal(config.pyroscope.serverAddress, 'https://profiles.example.com/prefix');
  assert.deepEqual(config.pyroscope.basicAuth, { user: '123', password: 's3cr3t-t0ken' });
  assert.ok(!JSON.stringify(entries).includes('s3cr3t-t0ken'));
});

test('a malformed percent escape in URL credentials is kept as written, not thrown', () => {
  const { config } = read({ PYROSCOPE_SERVER_ADDRESS: 'http://stack:%zz-token@profiles.example.com' });
  assert.deepEqual(config.pyroscope.basicAuth, { user: 'stack', password: '%zz-token' });
  assert.equal(config.pyroscope.serverAddress, 'http://profiles.example.com/');
});

test('PYROSCOPE_LABELS keeps the good pairs and reports the bad ones', () => {
  const { config, warnings } = read({ PYROSCOPE_LABELS: 'region=eu,broken,env=prod,=x' });
  assert.deepEqual(config.pyroscope.labels, { region: 'eu', env: 'prod' });
  assert.match(warnings[0], /^PYROSCOPE_LABELS has malformed entries "broken", "=x" \(expected key=value\); using the other 2 entries$/);
});

test('OTEL_SDK_DISABLED follows the spec: only "true" (any case) disables', () => {
  assert.equal(read({ OTEL_SDK_DISABLED: 'TRUE' }).config.disabled, true);
  assert.equal(read({ OTEL_SDK_DISABLED: 'false' }).config.disabled, false);
  const bad = read({ OTEL_SDK_DISABLED: 'yes' });
  assert.equal(bad.config.disabled, false);
  assert.deepEqual(bad.warnings, ['OTEL_SDK_DISABLED="yes" is not true or false; using false']);
});

test('instrumentation lists: unknown names are reported, known ones kept', () => {
  const { config, warnings } = read({ OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http, express,nope', OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'dns' });
  assert.deepEqual(config.instrumentations.enabled, ['http', 'express']);
  assert.deepEqual(config.instrumentations.disabled, ['dns']);
  assert.match(warnings[0], /OTEL_NODE_ENABLED_INSTRUMENTATIONS=.* names unknown entry "nope"; using http,express/);
});

test('resource detectors: all expands, none empties', () => {
  assert.ok(read({ OTEL_NODE_RESOURCE_DETECTORS: 'all' }).config.resourceDetectors.includes('gcp'));
  assert.deepEqual(read({ OTEL_NODE_RESOURCE_DETECTORS: 'none' }).config.resourceDetectors, []);
  assert.deepEqual(read({ OTEL_NODE_RESOURCE_DETECTORS: 'env,host' }).config.resourceDetectors, ['env', 'host']);
});

test('batch size larger than the queue is clamped with a warning', () => {
  const { config, warnings } = read({ OTEL_BSP_MAX_QUEUE_SIZE: '100', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '500' });
  assert.equal(config.traces.batch.maxExportBatchSize, 100);
  assert.match(warnings[0], /OTEL_BSP_MAX_EXPORT_BATCH_SIZE=500 is larger than OTEL_BSP_MAX_QUEUE_SIZE=100; using 100/);
});

// Generated garbage: every variable the agent reads, fed values that are wrong for most types. Whatever the
// value, readConfig must not throw; a rejected value yields exactly one warning naming the variable and saying
// what was used; secrets never appear in any output.
const GARBAGE = [
  ' ',
  '   \t ',
  '-1',
  '-999999999999',
  '99999999999999999999999',
  'NaN',
  'abc',
  '1e3',
  '0x10',
  'tru',
  'TRUE ',
  'ünïcødé-✓',
  '../../etc/passwd',
  'localhost:4040',
  'http://user:hunter2-secret@host:4040',
  '{"unterminated":',
  'a=b,c',
  '\u0000\u0007',
];
const SECRET_VARS = new Set(['PYROSCOPE_BASIC_AUTH_PASSWORD', 'PYROSCOPE_AUTH_TOKEN', 'PYROSCOPE_HTTP_HEADERS']);

test('every variable, fed garbage: no throw, one warning naming it, no secret echoed', () => {
  const variables = read({}).entries.map((e) => e.name);
  assert.ok(variables.length >= 40, `expected every variable to be listed, got ${variables.length}`);
  let cases = 0;
  for (const name of variables) {
    for (const value of GARBAGE) {
      cases++;
      let report;
      assert.doesNotThrow(() => {
        report = read({ [name]: value });
      }, `${name}=${JSON.stringify(value)}`);
      const entry = report.entries.find((e) => e.name === name);
      assert.ok(entry, `${name} listed`);
      const mine = report.warnings.filter((w) => w.includes(name));
      if (!entry.isSet && value.trim() !== '') {
        // Rejected: the warning says so, and what was used instead.
        assert.equal(mine.length, 1, `${name}=${JSON.stringify(value)} should warn once, got ${JSON.stringify(report.warnings)}`);
        assert.match(mine[0], /using /);
      }
      const printed = JSON.stringify([report.warnings, report.entries]);
      assert.ok(!printed.includes('hunter2-secret'), `${name}: URL credentials leaked`);
      if (SECRET_VARS.has(name) && value.trim().length >= 4) {
        assert.ok(!printed.includes(value.trim()), `${name}: secret value leaked`);
      }
    }
  }
  assert.ok(cases > 700);
});

test('OTEL_PROFILES_EXPORTER unset keeps the destinations chosen before it existed', () => {
  assert.deepEqual(read({}).config.profiles.exporters, ['store']);
  assert.deepEqual(read({ PYROSCOPE_SERVER_ADDRESS: 'http://p:4040' }).config.profiles.exporters, ['pyroscope']);
  assert.deepEqual(read({ PYROSCOPE_SERVER_ADDRESS: 'http://p:4040', SPAN_PROFILES_STORE: 'always' }).config.profiles.exporters, ['pyroscope', 'store']);
  const { config } = read({});
  assert.equal(config.profiles.otlp.url, 'http://localhost:4318/v1development/profiles');
  assert.equal(config.profiles.otlp.protocol, 'http/protobuf');
  assert.equal(config.profiles.otlp.compression, 'none');
  assert.equal(config.profiles.otlp.timeoutMs, 10_000);
});

test('OTEL_PROFILES_EXPORTER=otlp,pyroscope: /v1development/profiles appended to the base endpoint, the signal endpoint used as is', () => {
  const both = read({
    OTEL_PROFILES_EXPORTER: 'otlp,pyroscope',
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/prefix/',
    PYROSCOPE_SERVER_ADDRESS: 'http://p:4040',
  });
  assert.deepEqual(both.warnings, []);
  assert.deepEqual(both.config.profiles.exporters, ['otlp', 'pyroscope']);
  assert.equal(both.config.store.profiles, false);
  assert.equal(both.config.profiles.otlp.url, 'http://collector:4318/prefix/v1development/profiles');
  const signal = read({
    OTEL_PROFILES_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
    OTEL_EXPORTER_OTLP_PROFILES_ENDPOINT: 'https://user:pa55word@otlp.example:443/custom/path',
  }).config.profiles.otlp;
  assert.equal(signal.url, 'https://user:pa55word@otlp.example/custom/path', 'kept with its credentials for the exporter');
  assert.equal(signal.displayUrl, 'https://otlp.example/custom/path');
  const entry = read({ OTEL_EXPORTER_OTLP_PROFILES_ENDPOINT: 'https://user:pa55word@otlp.example/x' }).entries.find((e) => e.name === 'OTEL_EXPORTER_OTLP_PROFILES_ENDPOINT');
  assert.ok(!entry.value.includes('pa55word'));
});

test('OTEL_PROFILES_EXPORTER: none turns the profiler off quietly; pyroscope without an address is reported', () => {
  const none = read({ OTEL_PROFILES_EXPORTER: 'none' });
  assert.deepEqual(none.warnings, []);
  assert.equal(none.config.profiling.enabled, false);
  assert.equal(none.config.profiles.none, true);
  assert.equal(none.config.store.profiles, false);
  const noAddress = read({ OTEL_PROFILES_EXPORTER: 'pyroscope' });
  assert.match(noAddress.warnings[0], /OTEL_PROFILES_EXPORTER names pyroscope but PYROSCOPE_SERVER_ADDRESS is not set/);
  assert.match(noAddress.warnings[1], /no profile destination is left.*profiler stays off/);
  assert.equal(noAddress.config.profiling.enabled, false);
  const unknown = read({ OTEL_PROFILES_EXPORTER: 'otlp,jfr' });
  assert.deepEqual(unknown.config.profiles.exporters, ['otlp']);
  assert.match(unknown.warnings[0], /^OTEL_PROFILES_EXPORTER="otlp,jfr" names unknown entry "jfr"; using otlp/);
  assert.deepEqual(read({ OTEL_PROFILES_EXPORTER: 'otlp,store', SPAN_PROFILES_STORE: 'never' }).config.profiles.exporters, ['otlp', 'store']);
});

test('OTLP profiles protocol, headers, timeout and compression fall back to the generic OTLP variables', () => {
  const generic = read({
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20t0ken-generic,x-a=1',
    OTEL_EXPORTER_OTLP_PROFILES_HEADERS: 'x-a=2,x-scope-orgid=tenant%2Fa',
    OTEL_EXPORTER_OTLP_TIMEOUT: '2500',
    OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
  });
  assert.deepEqual(generic.warnings, []);
  assert.deepEqual(generic.config.profiles.otlp.headers, { authorization: 'Bearer t0ken-generic', 'x-a': '2', 'x-scope-orgid': 'tenant/a' });
  assert.equal(generic.config.profiles.otlp.protocol, 'http/json');
  assert.equal(generic.config.profiles.otlp.timeoutMs, 2500);
  assert.equal(generic.config.profiles.otlp.compression, 'gzip');
  const shown = generic.entries.find((e) => e.name === 'OTEL_EXPORTER_OTLP_HEADERS');
  assert.equal(shown.value, '<redacted>');
  const specific = read({
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_EXPORTER_OTLP_PROFILES_PROTOCOL: 'http/protobuf',
    OTEL_EXPORTER_OTLP_TIMEOUT: '2500',
    OTEL_EXPORTER_OTLP_PROFILES_TIMEOUT: '700',
    OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
    OTEL_EXPORTER_OTLP_PROFILES_COMPRESSION: 'none',
  }).config.profiles.otlp;
  assert.deepEqual([specific.protocol, specific.timeoutMs, specific.compression], ['http/protobuf', 700, 'none']);
});

test('bad OTLP profiles values: named, secrets never echoed', () => {
  const bad = read({
    OTEL_PROFILES_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_PROFILES_HEADERS: 'authorization=Bearer%20s3cr3t-token,justASecretWithoutKey,=alsoSecret',
    OTEL_EXPORTER_OTLP_PROFILES_TIMEOUT: '10s',
    OTEL_EXPORTER_OTLP_PROFILES_COMPRESSION: 'brotli',
  });
  const text = bad.warnings.join('\n');
  for (const secret of ['s3cr3t-token', 'justASecretWithoutKey', 'alsoSecret']) assert.ok(!text.includes(secret), `${secret} is printed`);
  assert.match(text, /OTEL_EXPORTER_OTLP_PROFILES_HEADERS=<redacted> has 2 malformed entries .*using the headers authorization/);
  assert.match(text, /OTEL_EXPORTER_OTLP_PROFILES_TIMEOUT="10s" is not a whole number of milliseconds; using 10000/);
  assert.match(text, /OTEL_EXPORTER_OTLP_PROFILES_COMPRESSION="brotli" is not one of gzip, none; using none/);
  assert.deepEqual(bad.config.profiles.otlp.headers, { authorization: 'Bearer s3cr3t-token' });
});

test('grpc for profiles: the base endpoint is the server (no path appended), else localhost:4317', () => {
  const base = read({ OTEL_PROFILES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4317' });
  assert.deepEqual(base.warnings, []);
  assert.equal(base.config.profiles.otlp.protocol, 'grpc');
  assert.equal(base.config.profiles.otlp.url, 'http://collector:4317');
  assert.equal(read({ OTEL_EXPORTER_OTLP_PROFILES_PROTOCOL: 'grpc' }).config.profiles.otlp.url, 'http://localhost:4317');
  assert.equal(read({ OTEL_EXPORTER_OTLP_PROFILES_PROTOCOL: 'grpc' }).config.profiles.otlp.displayUrl, 'http://localhost:4317');
});

test('PYROSCOPE_UPLOAD_INTERVAL above 60s is cut to 60s with a warning saying why', () => {
  const { config, warnings, entries } = read({ PYROSCOPE_UPLOAD_INTERVAL: '2m' });
  assert.equal(config.profiling.uploadIntervalMs, 60_000);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /^PYROSCOPE_UPLOAD_INTERVAL="2m" is longer than 60s: Grafana looks for a span's profile from 60 s before it .*stamped with its window's start.*; using 60s$/);
  assert.equal(entries.find((e) => e.name === 'PYROSCOPE_UPLOAD_INTERVAL').value, '1m');
  assert.equal(read({ PYROSCOPE_UPLOAD_INTERVAL: '60s' }).config.profiling.uploadIntervalMs, 60_000);
  assert.deepEqual(read({ PYROSCOPE_UPLOAD_INTERVAL: '60s' }).warnings, []);
});

test('PYROSCOPE_LABELS are sanitized as every Pyroscope reads them, one warning per problem', () => {
  const { config, warnings } = read({ PYROSCOPE_LABELS: 'service.version=1,9lives=x,a.b=1,a_b=2,span_id=x,__x=1,region=eu' });
  assert.deepEqual(config.pyroscope.labels, { service_version: '1', _9lives: 'x', a_b: '1', region: 'eu' });
  assert.equal(warnings.length, 6, warnings.join('\n'));
  assert.match(warnings[0], /^PYROSCOPE_LABELS: label name "service\.version" .* sent as "service_version"$/);
  assert.match(warnings[1], /"9lives" .* sent as "_9lives"$/);
  assert.match(warnings[3], /labels "a\.b" and "a_b" are both "a_b" for Pyroscope, which rejects such uploads; kept "a\.b", left out "a_b"$/);
  assert.match(warnings[4], /label "span_id" is one the agent sets itself/);
  assert.match(warnings[5], /label "__x" starts with "__"/);
  const many = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`k${i}`, 'v']));
  const capped = read({ PYROSCOPE_LABELS: Object.entries(many).map(([k, v]) => `${k}=${v}`).join(',') });
  assert.equal(Object.keys(capped.config.pyroscope.labels).length, 23);
  assert.match(capped.warnings[0], /has more than 23 labels, and Pyroscope rejects a series with more than 30 label names.*left out "k23", .*"k29"$/);
});

test('trace_id, span name and upload size variables', () => {
  const defaults = read({}).config.pyroscope;
  assert.deepEqual([defaults.traceId, defaults.maxSpanNames, defaults.maxUploadBytes], ['auto', 200, 2 * 1024 * 1024]);
  const set = read({ SPAN_PROFILES_TRACE_ID_LABEL: 'TRUE', SPAN_PROFILES_MAX_SPAN_NAMES: '50', SPAN_PROFILES_MAX_UPLOAD_SIZE: '8MiB' }).config.pyroscope;
  assert.deepEqual([set.traceId, set.maxSpanNames, set.maxUploadBytes], ['on', 50, 8 * 1024 * 1024]);
  assert.equal(read({ SPAN_PROFILES_TRACE_ID_LABEL: 'false' }).config.pyroscope.traceId, 'off');
  const bad = read({ SPAN_PROFILES_TRACE_ID_LABEL: 'maybe', SPAN_PROFILES_MAX_SPAN_NAMES: '0', SPAN_PROFILES_MAX_UPLOAD_SIZE: '1KiB' });
  assert.deepEqual(
    bad.warnings,
    [
      'SPAN_PROFILES_TRACE_ID_LABEL="maybe" is not one of auto, true, false; using auto',
      'SPAN_PROFILES_MAX_SPAN_NAMES="0" is outside 1..100000; using 200',
      'SPAN_PROFILES_MAX_UPLOAD_SIZE="1KiB" is below the minimum 256KiB; using 2MiB',
    ],
  );
});

test("doctor's entries are the table: one per variable, in its order, with its meaning, default and secrecy", () => {
  const { entries } = read({});
  assert.deepEqual(entries.map((e) => e.name), VARIABLES.map((v) => v.name));
  for (const [i, variable] of VARIABLES.entries()) {
    const entry = entries[i];
    assert.equal(entry.description, variable.description, variable.name);
    assert.equal(entry.secret, variable.secret === true, variable.name);
    assert.equal(entry.isSet, false, variable.name);
    // Inherited and computed defaults are the effective ones; the rest are the table's own.
    if (variable.inherits === undefined && variable.defaultFrom === undefined) assert.equal(entry.defaultValue, variable.default, variable.name);
  }
  assert.equal(entries.find((e) => e.name === 'SPAN_PROFILES_DIR').defaultValue, path.join(os.tmpdir(), 'span-profiles'));
});

test('a signal-specific OTLP variable defaults to the general one: its value, and its text in doctor and warnings', () => {
  const { config, entries, warnings } = read({ OTEL_EXPORTER_OTLP_TIMEOUT: '2500', OTEL_EXPORTER_OTLP_PROFILES_TIMEOUT: 'soon', OTEL_EXPORTER_OTLP_COMPRESSION: 'GZIP' });
  assert.equal(config.profiles.otlp.timeoutMs, 2500);
  assert.equal(config.profiles.otlp.compression, 'gzip');
  assert.equal(entries.find((e) => e.name === 'OTEL_EXPORTER_OTLP_PROFILES_TIMEOUT').defaultValue, '2500');
  assert.equal(entries.find((e) => e.name === 'OTEL_EXPORTER_OTLP_PROFILES_COMPRESSION').defaultValue, 'gzip');
  assert.deepEqual(warnings, ['OTEL_EXPORTER_OTLP_PROFILES_TIMEOUT="soon" is not a whole number of milliseconds; using 2500']);
});

test("the app's package.json is asked for the service name only when no variable names the service", () => {
  let asked = 0;
  const appPackageName = () => {
    asked++;
    return 'shop-api';
  };
  const fromPackage = readConfig({}, appPackageName).config;
  assert.equal(fromPackage.serviceName, 'shop-api');
  assert.equal(fromPackage.serviceNameSource, 'package.json');
  assert.equal(fromPackage.pyroscope.applicationName, 'shop-api');
  assert.equal(readConfig({}, () => undefined).config.serviceNameSource, 'default');
  assert.equal(readConfig({}, () => undefined).config.serviceName, 'unknown_service:node');
  asked = 0;
  readConfig({ OTEL_SERVICE_NAME: 'a' }, appPackageName);
  readConfig({ OTEL_RESOURCE_ATTRIBUTES: 'service.name=b' }, appPackageName);
  assert.equal(asked, 0);
});

test('the command reads the store directory the agent writes to', () => {
  for (const env of [{}, { SPAN_PROFILES_DIR: 'relative/store' }, { SPAN_PROFILES_DIR: ' /srv/profiles ' }, { SPAN_PROFILES_DIR: '   ' }]) {
    assert.equal(defaultStoreDir(env), read(env).config.store.dir, JSON.stringify(env));
  }
  assert.equal(defaultStoreDir({ SPAN_PROFILES_DIR: 'relative/store' }), path.resolve('relative/store'));
});

test('warnings come in the order of the table; those about no single variable last', () => {
  const { warnings } = read({
    SPAN_PROFILES_STORE: 'never',
    OTEL_PROFILES_EXPORTER: 'pyroscope',
    PYROSCOPE_LABELS: 'a.b=1,k',
    OTEL_BSP_MAX_QUEUE_SIZE: '10',
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE: 'many',
    OTEL_LOGS_EXPORTER: 'file',
  });
  assert.deepEqual(
    warnings.map((w) => w.split(/[=: ]/)[0]),
    ['OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 'OTEL_LOGS_EXPORTER', 'PYROSCOPE_LABELS', 'PYROSCOPE_LABELS', 'OTEL_PROFILES_EXPORTER', 'no'],
  );
  assert.match(warnings[1], /is larger than OTEL_BSP_MAX_QUEUE_SIZE=10; using 10$/);
});
