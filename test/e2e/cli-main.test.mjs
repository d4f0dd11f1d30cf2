// The `span-profiles` dispatcher: help, version, unknown commands, and the lazily loaded view.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { runCli } from '../helpers/cli-run.mjs';

const version = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;

test('--help lists every command within 80 columns, exit 0; no command prints it to stderr, exit 2', async () => {
  const help = await runCli(['--help']);
  assert.equal(help.code, 0);
  for (const command of ['report', 'pprof', 'view', 'doctor', 'help']) assert.match(help.stdout, new RegExp(`^  ${command} +\\S`, 'm'));
  for (const line of help.stdout.split('\n')) assert.ok(line.length <= 80, line);
  const bare = await runCli([]);
  assert.equal(bare.code, 2);
  assert.match(bare.stderr, /^Usage: span-profiles <command>/);
  assert.equal((await runCli(['help'])).stdout, help.stdout);
});

test('--version prints the package version', async () => {
  for (const flag of ['--version', '-v']) {
    const { code, stdout } = await runCli([flag]);
    assert.equal(code, 0);
    assert.equal(stdout, `${version}\n`);
  }
});

test('help <command> and <command> --help print the same usage', async () => {
  for (const command of ['report', 'pprof', 'doctor']) {
    const a = await runCli(['help', command]);
    const b = await runCli([command, '-h']);
    assert.equal(a.code, 0);
    assert.equal(a.stdout, b.stdout);
    assert.match(a.stdout, new RegExp(`^Usage: span-profiles ${command}`));
  }
});

test('an unknown command exits 2 naming it', async () => {
  const { code, stderr } = await runCli(['repotr']);
  assert.equal(code, 2);
  assert.match(stderr, /^span-profiles: unknown command 'repotr'/);
});

test('view without its module says so clearly, exit 1', { skip: existsSync(new URL('../../dist/cli/view/index.js', import.meta.url)) && 'the view is built' }, async () => {
  const { code, stderr } = await runCli(['view']);
  assert.equal(code, 1);
  assert.match(stderr, /span-profiles view: the browser view is not part of this build/);
});
