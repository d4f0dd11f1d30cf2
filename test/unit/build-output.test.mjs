// The compiled agent is free of a known TypeScript 7 emit bug: `new (require('x') as T).Class()` is emitted
// as `new require('x').Class()`, which calls `require` as a constructor and throws when that line runs
// (the type checker says nothing). The source takes such classes into a const first; this keeps it so.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../../dist/', import.meta.url));

function* jsFiles(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* jsFiles(full);
    else if (entry.name.endsWith('.js')) yield full;
  }
}

test('no `new require(...)` in the compiled agent', () => {
  const files = [...jsFiles(dist)];
  assert.ok(files.length > 50, `dist/ holds the build (${files.length} files)`);
  const bad = files.filter((file) => /\bnew\s+require\s*\(/.test(readFileSync(file, 'utf8'))).map((f) => path.relative(dist, f));
  assert.deepEqual(bad, []);
});
