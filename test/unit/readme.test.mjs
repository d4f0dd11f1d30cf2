// The README's variable table is the user's reference: one row per variable of the agent's table of
// variables (src/config/variables.ts), with the default and meaning the table gives, and no row for a
// variable the agent does not read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { VARIABLES } = require('../../dist/config/index.js');
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** The rows of the README's variable table, by variable name. */
function readmeRows() {
  const lines = readme.split('\n');
  const start = lines.findIndex((line) => /^\| Variable \| Default \| Meaning \|$/.test(line));
  assert.ok(start >= 0, 'the README has a "| Variable | Default | Meaning |" table');
  const rows = new Map();
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const name = /^\| `([A-Z0-9_]+)` \|/.exec(line)?.[1];
    assert.ok(name, `a README table row starts with | \`NAME\` |: ${line}`);
    assert.ok(!rows.has(name), `${name} has one row`);
    rows.set(name, line);
  }
  return rows;
}

/** The row the table of variables gives for `variable`. */
function expectedRow(variable) {
  const shownDefault = variable.default === '' ? '' : `\`${variable.default}\``;
  return `| \`${variable.name}\` | ${shownDefault} | ${variable.readme ?? variable.description} |`;
}

test('every variable of the table has its row in the README table: its default and meaning', () => {
  const rows = readmeRows();
  const missing = VARIABLES.filter((v) => !rows.has(v.name)).map(expectedRow);
  assert.deepEqual(missing, [], 'rows to add to the README table');
  for (const variable of VARIABLES) assert.equal(rows.get(variable.name), expectedRow(variable), `${variable.name}'s README row`);
});

test('the README table names no variable the agent does not read', () => {
  const known = new Set(VARIABLES.map((v) => v.name));
  assert.deepEqual([...readmeRows().keys()].filter((name) => !known.has(name)), []);
});
