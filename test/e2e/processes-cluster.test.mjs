// The cluster module: every worker (forked with the primary's --require) runs its own agent, so each is
// a distinct service instance with its own profiles: distinct service.instance.id and pid on its spans,
// its own pid in the local store's profile file names, and every profile (file or upload) labelled only
// with span ids of the worker that wrote it.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { startOtlpReceiver } from '../helpers/otlp-receiver.mjs';
import { readPprofFile } from '../helpers/pprof-samples.mjs';
import { startPyroscopeReceiver } from '../helpers/pyroscope-receiver.mjs';
import { spawnApp } from '../helpers/spawn-app.mjs';
import { waitUntil } from '../helpers/wait-for.mjs';
import { agentLines, labelledSpanIds } from '../helpers/reliability-harness.mjs';

const APP = 'fixtures/cluster-app/index.js';
const WORKERS = 2;

test('cluster workers each run their own agent: distinct instances, pids and profiles', async (t) => {
  const pyroscope = await startPyroscopeReceiver();
  const otlp = await startOtlpReceiver();
  t.after(() => Promise.all([pyroscope.close(), otlp.close()]));
  const app = await spawnApp({
    app: APP,
    env: {
      WORKERS: String(WORKERS),
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      PYROSCOPE_SERVER_ADDRESS: pyroscope.url,
      SPAN_PROFILES_STORE: 'always',
      PYROSCOPE_UPLOAD_INTERVAL: '1s',
      OTEL_BSP_SCHEDULE_DELAY: '200',
    },
  });
  const workerPids = new Set();
  await waitUntil(
    async () => {
      const { pid } = (await app.request('/cpu?ms=30')).json();
      workerPids.add(pid);
      return workerPids.size === WORKERS && otlp.spans.length > 0;
    },
    { timeoutMs: 20000, intervalMs: 0, what: 'requests served by every worker' },
  );
  for (let i = 0; i < 20; i++) workerPids.add((await app.request('/cpu?ms=30')).json().pid);
  assert.equal(workerPids.size, WORKERS);
  assert.ok(!workerPids.has(app.pid), 'the primary does not serve');

  // Spans: one service instance per worker.
  await otlp.waitForSpans((spans) => [...workerPids].every((pid) => spans.some((s) => s.resource['process.pid'] === pid && s.kind === 'SERVER')));
  const spanWorker = new Map(); // root span id -> worker pid
  const instances = new Map(); // pid -> Set(service.instance.id)
  for (const span of otlp.spans) {
    const pid = span.resource['process.pid'];
    if (!instances.has(pid)) instances.set(pid, new Set());
    instances.get(pid).add(span.resource['service.instance.id']);
    if (span.attributes['pyroscope.profile.id']) spanWorker.set(span.attributes['pyroscope.profile.id'], pid);
  }
  for (const pid of workerPids) assert.equal(instances.get(pid)?.size, 1, `worker ${pid} has one service.instance.id`);
  const instanceIds = [...workerPids].map((pid) => [...instances.get(pid)][0]);
  assert.equal(new Set(instanceIds).size, WORKERS, `distinct service.instance.id per worker: ${instanceIds.join(', ')}`);

  // Uploads: each labelled only with the span ids of one worker, and every worker uploads.
  const uploads = await pyroscope.waitForUploads((all) => {
    const owners = all.map((u) => new Set([...labelledSpanIds(u)].map((id) => spanWorker.get(id)).filter(Boolean)));
    return [...workerPids].every((pid) => owners.some((o) => o.has(pid))) && all;
  });
  for (const upload of uploads) {
    const owners = new Set([...labelledSpanIds(upload)].map((id) => spanWorker.get(id)).filter(Boolean));
    assert.ok(owners.size <= 1, `an upload mixes the span ids of workers ${[...owners].join(', ')}`);
  }

  // The local store: profile files named by each worker's pid, labelled with that worker's spans only.
  const serviceDir = path.join(app.storeDir, 'fixture-cluster-app');
  const files = await waitUntil(() => {
    const names = readdirSync(serviceDir, { withFileTypes: true }).map((d) => d.name).filter((n) => n.endsWith('.cpu.pb.gz'));
    const pids = new Set(names.map((n) => Number(/_(\d+)\.cpu\.pb\.gz$/.exec(n)[1])));
    return [...workerPids].every((pid) => pids.has(pid)) && names;
  }, { what: 'profile files from every worker' });
  for (const name of files) {
    const pid = Number(/_(\d+)\.cpu\.pb\.gz$/.exec(name)[1]);
    const profile = readPprofFile(path.join(serviceDir, name));
    for (const sample of profile.samples) {
      const owner = spanWorker.get(sample.labels.span_id);
      if (owner !== undefined) assert.equal(owner, pid, `${name} holds a sample of worker ${owner}'s span`);
    }
  }

  app.kill('SIGTERM');
  const { code } = await app.waitForExit(15000);
  assert.equal(code, 0, 'the primary ends once its workers have');
  assert.deepEqual(agentLines(app.stderr()), [], 'no agent warnings from the primary or the workers');
});
