// With no backend configured, spans and profiles land in the local store
// (SPAN_PROFILES_DIR) in the documented layout, and the profiles link to the stored spans exactly as
// they would to Tempo: every span_id label is a stored root span's pyroscope.profile.id.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { spansFromOtlpJson } from '../helpers/otlp-receiver.mjs';
import { readPprofFile } from '../helpers/pprof-samples.mjs';
import { zstdText } from '../helpers/zstd.mjs';
import { attribution, checkLinkageOfProfiles, formatAttribution, runConcurrently } from '../helpers/span-linkage.mjs';
import { isLocalRoot } from '../helpers/span-tree.mjs';
import { fixturePath, killAllApps, spawnApp } from '../helpers/spawn-app.mjs';
import { storeHoldsLoad, waitUntil } from '../helpers/wait-for.mjs';

after(killAllApps);

const COMPACT_UTC = String.raw`\d{8}T\d{6}\.\d{3}Z`;
const PROFILE_FILE = new RegExp(`^(${COMPACT_UTC})_(${COMPACT_UTC})_(\\d+)\\.cpu\\.pb\\.gz$`);
const SPANS_FILE = new RegExp(`^(${COMPACT_UTC})_(\\d+)\\.spans\\.jsonl\\.zst$`);
const ROOTS_FILE = new RegExp(`^(${COMPACT_UTC})_(\\d+)\\.roots\\.jsonl\\.zst$`);
const LOOP_FILE = new RegExp(`^(${COMPACT_UTC})_(${COMPACT_UTC})_(\\d+)\\.loop\\.json\\.gz$`);

/** Finished files only: *.tmp are being written; a last line without '\n' is still being appended. */
function readStore(serviceDir) {
  const names = existsSync(serviceDir) ? readdirSync(serviceDir).filter((n) => !n.endsWith('.tmp')) : [];
  const profiles = names.filter((n) => PROFILE_FILE.test(n)).sort().map((name) => ({ name, ...readPprofFile(path.join(serviceDir, name)) }));
  const spans = names
    .filter((n) => SPANS_FILE.test(n))
    .flatMap((name) => {
      const text = zstdText(path.join(serviceDir, name));
      const complete = text.slice(0, text.lastIndexOf('\n') + 1);
      return complete.split('\n').filter(Boolean).flatMap((line) => spansFromOtlpJson(JSON.parse(line)));
    });
  return { names, profiles, spans };
}

const UPLOAD_INTERVAL_MS = 2000;

describe('the local store, the default with no backend', () => {
  let run;
  before(async () => {
    const app = await spawnApp({
      app: fixturePath('express-app/index.js'),
      env: { PYROSCOPE_UPLOAD_INTERVAL: `${UPLOAD_INTERVAL_MS}ms`, OTEL_BSP_SCHEDULE_DELAY: '200', OTEL_LOG_LEVEL: 'info' },
    });
    const paths = [];
    for (let i = 0; i < 4; i++) paths.push(`/users/${i}?ms=40`, `/orders/${i}?ms=100`);
    await runConcurrently(app, paths, paths.length);
    const loadEndMs = Date.now();
    const serviceDir = path.join(app.storeDir, 'fixture-express-app');
    // Nothing notifies about files: poll until every cut that can hold the load's samples and all root spans
    // are stored.
    const store = await waitUntil(
      () => {
        const current = readStore(serviceDir);
        const ends = current.profiles.map((p) => Number(p.timeNanos + p.durationNanos) / 1e6);
        const cutsStored = storeHoldsLoad(ends.length > 0 ? Math.max(...ends) : undefined, loadEndMs, UPLOAD_INTERVAL_MS);
        const roots = current.spans.filter((s) => s.kind === 'SERVER');
        return cutsStored && roots.length >= paths.length && current;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: `the load's profile cuts (one covering its end, or those written two intervals after it) and ${paths.length} server spans in ${serviceDir}` },
    );
    run = { app, serviceDir, ...store };
  });

  test('the startup summary names the store for both traces and profiles', () => {
    const stderr = run.app.stderr();
    assert.match(stderr, new RegExp(`traces: store ${run.app.storeDir}\\n`));
    assert.match(stderr, new RegExp(`profiles: local store ${run.serviceDir};`));
  });

  test('files follow the layout: <service>/<from>_<until>_<pid>.cpu.pb.gz, .loop.json.gz and <start>_<pid>.spans.jsonl.zst', () => {
    assert.deepEqual(readdirSync(run.app.storeDir), ['fixture-express-app']);
    assert.ok(run.names.some((n) => LOOP_FILE.test(n)), `an event-loop delay file among ${run.names}`);
    for (const name of run.names) {
      const match = PROFILE_FILE.exec(name) ?? SPANS_FILE.exec(name) ?? ROOTS_FILE.exec(name) ?? LOOP_FILE.exec(name);
      assert.ok(match, `unexpected file ${name}`);
      assert.equal(Number(match.at(-1)), run.app.pid, name);
    }
    for (const profile of run.profiles) {
      const [, from, until] = PROFILE_FILE.exec(profile.name);
      assert.ok(from < until, profile.name);
      assert.deepEqual(profile.sampleTypes, ['samples/count', 'cpu/nanoseconds']);
      assert.equal(profile.periodType, 'cpu/nanoseconds');
    }
  });

  test("the stored spans' root ids are the profiles' span_id labels", (t) => {
    const result = checkLinkageOfProfiles(run.profiles, run.spans);
    assert.deepEqual(result.problems, []);
    const labelIds = new Set(run.profiles.flatMap((p) => p.samples).map((s) => s.labels.span_id).filter(Boolean));
    const busyRoots = run.spans.filter((s) => isLocalRoot(s) && /^GET \/(users|orders)\//.test(s.name));
    assert.equal(busyRoots.length, 8);
    assert.deepEqual(
      busyRoots.filter((s) => !labelIds.has(s.spanId)).map((s) => s.name),
      [],
      'every request that burned CPU has labelled samples',
    );
    const users = attribution(
      run.profiles.flatMap((p) => p.samples),
      'renderUserProfile',
      new Set(busyRoots.filter((s) => s.name === 'GET /users/:id').map((s) => s.spanId)),
    );
    t.diagnostic(`renderUserProfile ${formatAttribution(users)}`);
    assert.ok(users.precision >= 0.97 && users.recall >= 0.97, formatAttribution(users));
  });
});
