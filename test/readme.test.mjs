// The README's variable table is the user's reference: one row per variable of the agent's table of
// variables (src/config/variables.ts), with the default the table documents, and no row for a variable
// the agent does not read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { VARIABLES } = require('../dist/config/index.js');
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** The rows of the README's variable table: name -> the Default column as written. */
function readmeRows() {
  const lines = readme.split('\n');
  const start = lines.findIndex((line) => /^\| Variable \| Default \| Meaning \|$/.test(line));
  assert.ok(start >= 0, 'the README has a "| Variable | Default | Meaning |" table');
  const rows = new Map();
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const match = /^\| `([A-Z0-9_]+)` \| (.*?) \| .+ \|$/.exec(line);
    assert.ok(match, `a README table row reads | \`NAME\` | default | meaning |: ${line}`);
    assert.ok(!rows.has(match[1]), `${match[1]} has one row`);
    rows.set(match[1], match[2]);
  }
  return rows;
}

test('every variable of the table has a row in the README table, with the default the table documents', () => {
  const rows = readmeRows();
  const missing = VARIABLES.map((v) => v.name).filter((name) => !rows.has(name));
  assert.deepEqual(missing, []);
  for (const variable of VARIABLES) {
    assert.equal(rows.get(variable.name), variable.default === '' ? '' : `\`${variable.default}\``, `${variable.name}'s default`);
  }
});

test('the README table names no variable the agent does not read', () => {
  const known = new Set(VARIABLES.map((v) => v.name));
  assert.deepEqual([...readmeRows().keys()].filter((name) => !known.has(name)), []);
});
