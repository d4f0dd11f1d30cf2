// The README's variable table is the user's reference: it must list every variable the agent reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { readConfig } = require('../dist/config/index.js');
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

test('every configuration variable has a row in the README table', () => {
  const missing = readConfig({}).entries.map((e) => e.name).filter((name) => !readme.includes(`| \`${name}\` |`));
  assert.deepEqual(missing, []);
});
