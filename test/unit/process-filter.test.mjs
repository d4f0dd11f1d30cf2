// Which programs the agent starts in (NODE_OPTIONS reaches npm, build tools and health checks too).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);
const { programNames, shouldStartIn, DEFAULT_DENIED_PROGRAMS } = require('../../dist/process-filter.js');

test('a program answers to its script name and its package name', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'program-'));
  mkdirSync(path.join(root, 'node_modules/npm/bin'), { recursive: true });
  writeFileSync(path.join(root, 'node_modules/npm/package.json'), JSON.stringify({ name: 'npm' }));
  writeFileSync(path.join(root, 'node_modules/npm/bin/npm-cli.js'), '');
  assert.deepEqual(programNames(path.join(root, 'node_modules/npm/bin/npm-cli.js')), ['npm-cli', 'npm']);
  assert.deepEqual(programNames(''), [], 'node -e: no script');
});

test('package managers are denied by default; an app is not', () => {
  assert.equal(shouldStartIn(['npm-cli', 'npm'], undefined, DEFAULT_DENIED_PROGRAMS).start, false);
  assert.match(shouldStartIn(['npm-cli', 'npm'], undefined, DEFAULT_DENIED_PROGRAMS).reason, /"npm" is in SPAN_PROFILES_PROCESS_DENY/);
  assert.equal(shouldStartIn(['server', 'shop'], undefined, DEFAULT_DENIED_PROGRAMS).start, true);
  assert.equal(shouldStartIn([], undefined, DEFAULT_DENIED_PROGRAMS).start, true, 'node -e has no program name');
});

test('an allow list names the only programs to start in, with wildcards', () => {
  assert.equal(shouldStartIn(['server', 'shop-api'], ['shop-*'], []).start, true);
  assert.equal(shouldStartIn(['worker', 'billing'], ['shop-*'], []).start, false);
  assert.equal(shouldStartIn(['server', 'shop-api'], ['shop-*'], ['shop-api']).start, false, 'deny wins');
});
