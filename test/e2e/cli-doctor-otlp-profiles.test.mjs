// `span-profiles doctor` with OTEL_PROFILES_EXPORTER=otlp: the profiles endpoint answering, answering
// 404 (a Collector without the profiles feature gate), refusing; credentials kept out of the output.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { runCli as run } from '../helpers/cli-run.mjs';

const scratch = mkdtempSync(path.join(tmpdir(), 'span-profiles-doctor-otlp-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const runCli = (args, env) => run(args, { env: { SPAN_PROFILES_DIR: path.join(scratch, 'store'), ...env }, cwd: scratch });
const unwrap = (text) => text.replace(/\n {7,}(?!-> )/g, ' ');

/** A server answering `status` to everything, recording the paths. */
async function startServer(status) {
  const paths = [];
  const server = http.createServer((req, res) => {
    paths.push(req.url);
    res.statusCode = status;
    res.end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${server.address().port}`, paths, close: () => new Promise((r) => server.close(r)) };
}

test('doctor: an OTLP profiles endpoint that answers is ok; the summary lists every profile destination', async () => {
  const collector = await startServer(405);
  try {
    const { code, stdout } = await runCli(['doctor'], {
      OTEL_PROFILES_EXPORTER: 'otlp,store',
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
    });
    const text = unwrap(stdout);
    assert.equal(code, 0, text);
    assert.match(text, new RegExp(`^\\[ok\\] +otlp profiles: ${collector.url}/v1development/profiles \\(http/protobuf\\) answers \\(HTTP 405\\)$`, 'm'));
    assert.match(text, new RegExp(`^Profiles +OTLP ${collector.url}/v1development/profiles \\+ local store$`, 'm'));
    assert.ok(collector.paths.includes('/v1development/profiles'));
  } finally {
    await collector.close();
  }
});

test('doctor: 404 on the profiles path fails with the feature-gate advice; credentials never shown', async () => {
  const collector = await startServer(404);
  try {
    const endpoint = new URL(`${collector.url}/v1development/profiles`);
    endpoint.username = 'u';
    endpoint.password = 'd0ct0r-s3cret';
    const { code, stdout } = await runCli(['doctor'], {
      OTEL_PROFILES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_PROFILES_ENDPOINT: endpoint.href,
      OTEL_EXPORTER_OTLP_PROFILES_HEADERS: 'authorization=Bearer%20h3ader-s3cret',
    });
    const text = unwrap(stdout);
    assert.equal(code, 1, text);
    assert.match(text, /^\[FAIL\] otlp profiles: .*\/v1development\/profiles answers HTTP 404: the server has no OTLP profiles endpoint there$/m);
    assert.match(text, /--feature-gates=service\.profilesSupport/);
    assert.ok(!text.includes('d0ct0r-s3cret') && !text.includes('h3ader-s3cret'), text);
  } finally {
    await collector.close();
  }
});

test('doctor: a refused OTLP profiles endpoint fails; without otlp in OTEL_PROFILES_EXPORTER the check is skipped', async () => {
  const closed = await startServer(200);
  const url = closed.url;
  await closed.close();
  const refused = unwrap((await runCli(['doctor'], { OTEL_PROFILES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROFILES_ENDPOINT: `${url}/p` })).stdout);
  assert.match(refused, /^\[FAIL\] otlp profiles: .*\/p \(http\/protobuf\) does not answer: ECONNREFUSED$/m);
  const skipped = unwrap((await runCli(['doctor'], {})).stdout);
  assert.match(skipped, /^\[--\] +otlp profiles: OTEL_PROFILES_EXPORTER does not name otlp: profiles go to local store$/m);
});
