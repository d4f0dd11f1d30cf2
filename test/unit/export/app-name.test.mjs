// Pyroscope /ingest names: app names, tag keys and values made valid, checked against the receiver's
// independent parser (test/helpers/pyroscope-receiver.mjs, written from Pyroscope's labelset rules).
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { parseIngestName } from '../../helpers/pyroscope-receiver.mjs';

const require = createRequire(import.meta.url);
const { sanitizeAppName, sanitizeTagKey, sanitizeTagValue, formatIngestName, FALLBACK_APP_NAME } = require('../../../dist/export/app-name.js');

test('sanitizeAppName keeps [A-Za-z0-9_.-/] and replaces everything else with _', () => {
  assert.equal(sanitizeAppName('@acme/shop'), '_acme/shop');
  assert.equal(sanitizeAppName('checkout-service.v2/api_1'), 'checkout-service.v2/api_1');
  assert.equal(sanitizeAppName('my app{x=y}'), 'my_app_x_y_');
  assert.equal(sanitizeAppName('unknown_service:node'), 'unknown_service_node');
  assert.equal(sanitizeAppName('  padded  '), 'padded');
  assert.equal(sanitizeAppName('café💥'), 'caf__', 'one _ per character, astral ones included');
  assert.equal(sanitizeAppName(''), FALLBACK_APP_NAME);
  assert.equal(sanitizeAppName('   '), FALLBACK_APP_NAME);
});

test('sanitizeTagKey keeps [A-Za-z0-9_.] only', () => {
  assert.equal(sanitizeTagKey('service.namespace'), 'service.namespace');
  assert.equal(sanitizeTagKey('k8s-pod/name'), 'k8s_pod_name');
  assert.equal(sanitizeTagKey('a=b,c}'), 'a_b_c_');
  assert.equal(sanitizeTagKey(' env '), 'env');
  assert.equal(sanitizeTagKey(''), '');
});

test('sanitizeTagValue replaces only what ends a value: , and }', () => {
  assert.equal(sanitizeTagValue('a,b}c'), 'a_b_c');
  assert.equal(sanitizeTagValue('x=y {ok} / @ :'), 'x=y {ok_ / @ :');
  assert.equal(sanitizeTagValue('  eu-west-1 '), 'eu-west-1');
});

test('formatIngestName builds app{k=v,...} that the server parses back exactly', () => {
  const name = formatIngestName('@acme/shop', {
    env: 'prod',
    'k8s-pod': 'web-1,2}',
    'service.namespace': 'team a',
    __name__: 'hijack',
    blank: '  ',
    '': 'no key',
  });
  assert.equal(name, '_acme/shop{env=prod,k8s_pod=web-1_2_,service.namespace=team a}');
  assert.deepEqual(parseIngestName(name), {
    appName: '_acme/shop',
    tags: { env: 'prod', k8s_pod: 'web-1_2_', 'service.namespace': 'team a' },
  });
  assert.equal(formatIngestName('svc', {}), 'svc{}');
  assert.deepEqual(parseIngestName(formatIngestName('svc', {})), { appName: 'svc', tags: {} });
});

test('keys that sanitize to the same name: the later one wins, as in the server', () => {
  assert.equal(formatIngestName('svc', { 'a-b': '1', a_b: '2' }), 'svc{a_b=2}');
});

test('anything at all comes out parseable', () => {
  const nasty = ['{', '}', ',', '=', ' ', '\n', '@', 'é', '💥', '/', '-', '.', '_', 'a', '9', '\\', '"'];
  for (let i = 0; i < 500; i++) {
    const pick = (n) => Array.from({ length: n }, (_, j) => nasty[(i * 7 + j * 13 + n) % nasty.length]).join('');
    const name = formatIngestName(pick(1 + (i % 9)), { [pick(1 + (i % 5))]: pick(1 + (i % 6)), ok: pick(3) });
    assert.doesNotThrow(() => parseIngestName(name), name);
  }
});
