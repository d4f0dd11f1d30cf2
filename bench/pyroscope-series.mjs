#!/usr/bin/env node
// What an app that names its spans per request does to a Pyroscope server: the series it creates and the
// largest upload, against the rule-applying receiver (test/helpers/pyroscope-receiver.mjs) as each version.
//
//   node bench/pyroscope-series.mjs [--agent <checkout with dist/>] [--versions v1,v200,v22]
//                                   [--rate 200] [--seconds 120] [--interval 15s] [--names items|route]
//
// --agent defaults to this checkout; point it at a build of another commit to compare. The app is
// fixtures/span-names-app (every request renames its root span "GET /items/<n>" and burns 1 ms of CPU),
// driven open-loop at --rate requests a second over keep-alive connections. One JSON line per version on
// stdout. A measurement, not a test: nothing here passes or fails.
import http from 'node:http';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { PYROSCOPE_VERSIONS, startPyroscopeReceiver } from '../test/helpers/pyroscope-receiver.mjs';
import { fixturePath, repoRoot, spawnApp } from '../test/helpers/spawn-app.mjs';

const { values } = parseArgs({
  options: {
    agent: { type: 'string', default: repoRoot },
    versions: { type: 'string', default: 'v1,v200,v22' },
    rate: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '120' },
    interval: { type: 'string', default: '15s' },
    // items: a span name per request; route: one name for every request (only trace ids differ).
    names: { type: 'string', default: 'items' },
  },
});
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const register = path.join(path.resolve(values.agent), 'dist', 'register.js');

/** Open-loop load: one request every 1/rate s, whatever the answers do; returns counts. */
async function drive(port) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const stats = { sent: 0, ok: 0, failed: 0 };
  const pending = new Set();
  const start = Date.now();
  let n = 0;
  while (Date.now() - start < seconds * 1000) {
    const due = start + (n * 1000) / rate;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const id = n++;
    stats.sent++;
    const request = new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: `/${values.names}/${id}?ms=1`, agent }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) stats.ok++;
          else stats.failed++;
          resolve();
        });
      });
      req.on('error', () => {
        stats.failed++;
        resolve();
      });
    });
    pending.add(request);
    void request.finally(() => pending.delete(request));
  }
  await Promise.all(pending);
  agent.destroy();
  return stats;
}

const uncompressed = (gzipped) => {
  try {
    return gunzipSync(gzipped).length;
  } catch {
    return gzipped.length;
  }
};

for (const key of values.versions.split(',')) {
  const version = PYROSCOPE_VERSIONS[key] ?? key;
  const receiver = await startPyroscopeReceiver({ version });
  const app = await spawnApp({
    app: fixturePath('span-names-app/index.js'),
    loader: 'none',
    args: ['--require', register],
    env: {
      PYROSCOPE_SERVER_ADDRESS: receiver.url,
      PYROSCOPE_UPLOAD_INTERVAL: values.interval,
      OTEL_TRACES_EXPORTER: 'none',
      SPAN_PROFILES_STORE: 'never',
    },
  });
  const load = await drive(app.port);
  app.kill('SIGTERM');
  await app.waitForExit(30_000);
  const accepted = receiver.uploads.map((u) => u.ingestBytes);
  const refused = receiver.rejections.map((r) => uncompressed(r.body));
  console.log(
    JSON.stringify({
      agent: path.resolve(values.agent),
      version,
      names: values.names,
      rate,
      seconds,
      requests: load,
      uploadsAccepted: receiver.uploads.length,
      uploadsRefused: receiver.rejections.length,
      refusedStatuses: [...new Set(receiver.rejections.map((r) => r.status))],
      refusedReason: receiver.rejections[0]?.reason.slice(0, 160),
      seriesCreated: receiver.series.size,
      maxSeriesPerUpload: Math.max(0, ...receiver.uploads.map((u) => u.series.length)),
      largestUploadBytes: Math.max(0, ...accepted, ...refused),
      largestAcceptedBytes: Math.max(0, ...accepted),
      samples: receiver.uploads.reduce((n, u) => n + u.samples.length, 0),
      withTraceId: receiver.uploads.reduce((n, u) => n + u.samples.filter((s) => s.labels.trace_id).length, 0),
      spanNames: new Set(receiver.uploads.flatMap((u) => u.samples.map((s) => s.labels.span_name))).size,
      agentWarnings: (app.stderr().match(/warn: .*/g) ?? []).map((w) => w.slice(0, 160)),
    }),
  );
  await app.dispose();
  await receiver.close();
}
