// Redaction in process: credentials in URLs and the configured secret values (passwords, tokens, header
// values) never reach a printed line, whether the agent wrote the message or a library did and
// OpenTelemetry's diagnostics or global error handler passed it on; what is not a secret is left readable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { stripUrlCredentials, redactSecrets, credentialsOf, percentDecoded } = require('../../dist/redact.js');
const { installDiagnostics } = require('../../dist/tracing/diagnostics.js');
const { getLogger } = require('../../dist/logger.js');
const { markReported } = require('../../dist/reported-errors.js');
const { diag } = require('@opentelemetry/api');
const { globalErrorHandler } = require('@opentelemetry/core');

test('stripUrlCredentials keeps scheme, host, port and path; drops user, password, query and fragment', () => {
  assert.equal(
    stripUrlCredentials('https://tenant:s3cr3t-pass@profiles.example.com:4040/api/?token=abc123#frag'),
    'https://profiles.example.com:4040/api/',
  );
  assert.equal(stripUrlCredentials('http://only-user@127.0.0.1:4318'), 'http://127.0.0.1:4318/');
  const url = new URL('http://u:p4ss@host/x?q=1');
  assert.equal(stripUrlCredentials(url), 'http://host/x');
  assert.equal(url.password, 'p4ss', "the caller's URL object is not changed");
});

test('stripUrlCredentials never echoes what it cannot parse', () => {
  assert.equal(stripUrlCredentials('not a url with s3cr3t'), '<invalid URL>');
  assert.equal(stripUrlCredentials('//user:s3cr3t@host'), '<invalid URL>');
});

test('redactSecrets removes every occurrence of every secret, and userinfo in any URL', () => {
  const message =
    'POST http://alice:pa55w0rd@127.0.0.1:4040/ingest failed: server said "bad token tok-XYZ-123"; ' +
    'retrying with tok-XYZ-123 against https://glc_abcdef@grafana.net/x and grpc://key@127.0.0.1:4317';
  const redacted = redactSecrets(message, ['tok-XYZ-123', undefined, '']);
  for (const secret of ['pa55w0rd', 'alice', 'tok-XYZ-123', 'glc_abcdef', 'key@']) assert.ok(!redacted.includes(secret), `${secret} in ${redacted}`);
  assert.equal(
    redacted,
    'POST http://<redacted>@127.0.0.1:4040/ingest failed: server said "bad token <redacted>"; ' +
      'retrying with <redacted> against https://<redacted>@grafana.net/x and grpc://<redacted>@127.0.0.1:4317',
  );
});

test('redactSecrets takes secrets literally (regular-expression characters included)', () => {
  const secret = 'a+b.c*(d)$';
  assert.equal(redactSecrets(`header x-token=${secret}; aXb.c`, [secret]), 'header x-token=<redacted>; aXb.c');
});

test('secrets shorter than three characters are left in: cutting them would mangle ordinary words', () => {
  assert.equal(redactSecrets('an error at line 12', ['an', '1']), 'an error at line 12');
  assert.equal(redactSecrets('key abc here', ['abc']), 'key <redacted> here');
});

test('credentialsOf decodes what a URL spells with escapes; percentDecoded never throws', () => {
  assert.deepEqual(credentialsOf(new URL('https://my%40user:p%3As%2Fs@host/')), { user: 'my@user', password: 'p:s/s' });
  assert.deepEqual(credentialsOf(new URL('https://:only-pass@host/')), { user: '', password: 'only-pass' });
  assert.equal(credentialsOf(new URL('https://host/')), undefined);
  assert.equal(percentDecoded('100%'), '100%');
  assert.equal(percentDecoded('a%20b'), 'a b');
});

/** Lines the agent prints while `fn` runs. */
async function printed(fn) {
  const lines = [];
  getLogger().setSink((line) => lines.push(line));
  try {
    await fn();
  } finally {
    getLogger().setSink((line) => process.stderr.write(`${line}\n`));
  }
  return lines;
}

test("OpenTelemetry's diagnostics and export errors are printed without the configured secrets", async () => {
  const secrets = ['Bearer glc_0123456789', 'hunter2-password'];
  installDiagnostics('warn', secrets);
  const lines = await printed(() => {
    diag.error('OTLPExporterError: Unauthorized', new Error('401 for Authorization: Bearer glc_0123456789'));
    diag.warn('retrying export to http://tenant:hunter2-password@127.0.0.1:4318/v1/traces');
    globalErrorHandler(new Error('PeriodicExportingMetricReader: headers {"authorization":"Bearer glc_0123456789"}'));
    globalErrorHandler(JSON.stringify({ message: 'export failed: hunter2-password rejected', stack: 'Error\n    at secret (hunter2-password.js:1:1)' }));
  });
  assert.equal(lines.length, 4, lines.join('\n'));
  for (const line of lines) {
    assert.match(line, /^\[span-profiles\] warn: OpenTelemetry: /);
    assert.ok(!line.includes('glc_0123456789') && !line.includes('hunter2'), line);
    assert.ok(!line.includes('\n'), 'one line, no stack');
  }
  assert.match(lines[0], /Unauthorized 401 for Authorization: <redacted>/);
  assert.match(lines[1], /http:\/\/<redacted>@127\.0\.0\.1:4318/);
  assert.match(lines[3], /export failed: <redacted> rejected$/);
});

test('an error the agent already reported in its own words is not printed again', async () => {
  installDiagnostics('warn', []);
  const lines = await printed(() => {
    const error = new Error('Pyroscope rejected the profile');
    markReported(error);
    globalErrorHandler(error);
  });
  assert.deepEqual(lines, []);
});
