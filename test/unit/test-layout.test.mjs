// The test tree keeps its split: every test file is in test/unit (runs in the test process with Node and
// the npm dependencies only, so `npm run test:unit` stays fast and needs no system package) or in
// test/e2e (apps, servers, databases, browsers, system tools); a unit test that started a process or a
// server, directly or through a helper that does, would be found here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const testRoot = fileURLToPath(new URL('../', import.meta.url));

function filesUnder(dir, keep) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'fixtures' && entry.name !== 'node_modules') found.push(...filesUnder(full, keep));
    } else if (keep(entry.name)) found.push(full);
  }
  return found;
}

/** What a test in the fast set must not use: each starts a process, a server, a database or a browser. */
const OUT_OF_PROCESS = [
  [/['"](node:)?child_process['"]/, 'child_process'],
  [/['"](node:)?cluster['"]/, 'cluster'],
  [/\bcreateServer\s*\(|\.listen\s*\(/, 'a listening server'],
  [/\bstart[A-Z]\w*Receiver\s*\(/, 'a receiver server'],
  [/playwright|chromium/, 'a browser'],
  [/['"][./]*helpers\/(spawn-app|databases|cli-run|go-pprof|zstd|ts-fixture|reliability-harness|linkage-suite|fault-injecting-server|amqp-consumer|pooled-connections)\.mjs['"]/, 'a helper that starts processes or servers'],
];

test('every test file is in test/unit or test/e2e', () => {
  const misplaced = filesUnder(testRoot, (name) => name.endsWith('.test.mjs'))
    .map((file) => path.relative(testRoot, file).split(path.sep).join('/'))
    .filter((file) => !file.startsWith('unit/') && !file.startsWith('e2e/'));
  assert.deepEqual(misplaced, []);
});

test('no test under test/unit starts a process, a server, a database or a browser', () => {
  const problems = [];
  const unitFiles = filesUnder(path.join(testRoot, 'unit'), (name) => name.endsWith('.mjs'));
  assert.ok(unitFiles.length >= 10, `found ${unitFiles.length} unit test files`);
  for (const file of unitFiles) {
    if (file === fileURLToPath(import.meta.url)) continue; // the patterns above are not uses
    const source = readFileSync(file, 'utf8');
    for (const [pattern, what] of OUT_OF_PROCESS) {
      if (pattern.test(source)) problems.push(`${path.relative(testRoot, file)}: ${what}`);
    }
  }
  assert.deepEqual(problems, []);
});
