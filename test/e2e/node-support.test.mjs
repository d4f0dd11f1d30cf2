// Which Node.js versions the agent starts on (22.15 and later), and what it does on an
// older one: one line on stderr, and the app runs untouched.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { after, describe, test } from 'node:test';
import { fixturePath, killAllApps, spawnApp } from '../helpers/spawn-app.mjs';

const require = createRequire(import.meta.url);
const { checkNodeSupport, MINIMUM_NODE } = require('../../dist/node-support.js');

after(killAllApps);

const UNSUPPORTED_LINE = (version) =>
  `Node.js ${version} is not supported (needs 22.15 or later); the app runs without tracing or profiling`;

describe('checkNodeSupport', () => {
  test('the minimum is 22.15', () => {
    assert.deepEqual([...MINIMUM_NODE], [22, 15]);
  });

  for (const version of ['22.15.0', '22.15.1', '22.23.3', '23.0.0', '24.0.0', '24.21.0', '26.0.0', '26.10.0', '30.1.2']) {
    test(`${version} is supported`, () => {
      assert.deepEqual(checkNodeSupport(version), { supported: true });
    });
  }

  for (const version of ['22.14.0', '22.14.99', '22.0.0', '21.7.3', '20.19.5', '20.20.2', '18.20.8', '16.0.0', '0.12.18']) {
    test(`${version} is not supported, with a one-line reason`, () => {
      const result = checkNodeSupport(version);
      assert.equal(result.supported, false);
      assert.equal(result.message, UNSUPPORTED_LINE(version));
      assert.doesNotMatch(result.message, /\n/);
    });
  }

  test('pre-release and nightly builds count by their major.minor', () => {
    assert.equal(checkNodeSupport('26.0.0-pre').supported, true);
    assert.equal(checkNodeSupport('22.15.0-nightly20250101abcdef').supported, true);
    assert.equal(checkNodeSupport('22.14.0-rc.1').supported, false);
  });

  test('an unreadable version is not supported and says so', () => {
    for (const version of ['', 'abc', 'v24.0.0', '24']) {
      const result = checkNodeSupport(version);
      assert.equal(result.supported, false, JSON.stringify(version));
      assert.match(result.message, /version/);
    }
  });

  test('by default it checks the running Node (the pinned 24)', () => {
    assert.equal(process.versions.node.split('.')[0], '24');
    assert.deepEqual(checkNodeSupport(), { supported: true });
  });
});

// The machine's own Node is 20: when it is there, run the agent on it for real.
const systemNode = spawnSync('/usr/bin/node', ['-p', 'process.versions.node'], { encoding: 'utf8' });
const systemVersion = systemNode.status === 0 ? systemNode.stdout.trim() : undefined;
const systemNodeIsOld = systemVersion !== undefined && checkNodeSupport(systemVersion).supported === false;

test(
  `on an unsupported Node (/usr/bin/node ${systemVersion ?? 'absent'}) the agent prints one line and the app serves`,
  { skip: systemNodeIsOld ? false : 'no unsupported Node at /usr/bin/node' },
  async () => {
    const app = await spawnApp({ app: fixturePath('express-app/index.js'), nodeBinary: '/usr/bin/node', env: { OTEL_LOG_LEVEL: 'debug' } });
    assert.equal((await app.request('/users/2?ms=1')).json().id, '2');
    assert.equal(app.stderr(), `[span-profiles] ${UNSUPPORTED_LINE(systemVersion)}\n`);
    app.kill('SIGTERM');
    assert.deepEqual(await app.waitForExit(), { code: null, signal: 'SIGTERM' });
  },
);
