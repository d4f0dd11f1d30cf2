// An idle app leaves no profile file per interval in the store; work makes one again.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { fixturePath, killAllApps, spawnApp } from '../helpers/spawn-app.mjs';
import { waitUntil } from '../helpers/wait-for.mjs';

after(killAllApps);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

test('idle intervals write no profile file; an interval with work does', async () => {
  const app = await spawnApp({ app: fixturePath('http-server/index.js'), env: { PYROSCOPE_UPLOAD_INTERVAL: '1s' } });
  const dir = path.join(app.storeDir, 'fixture-http-server');
  const profiles = () => (existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.cpu.pb.gz')) : []);
  // Start-up work settles within a few cuts.
  await sleep(2500);
  const settled = profiles().length;
  await sleep(4000); // four idle intervals
  assert.equal(profiles().length, settled, `files written while idle: ${profiles().slice(settled).join(', ')}`);
  assert.equal((await app.request('/cpu?ms=60')).status, 200);
  await waitUntil(() => profiles().length > settled, { timeoutMs: 10_000, intervalMs: 100, what: 'a profile of the interval with work' });
});
