// A Grafana-Pyroscope-compatible /ingest endpoint for tests. It validates uploads the way the
// real server does (and rejects with 400 + reason), decodes the pprof body and records it.
// Contract: /work/shared/research/pyroscope.md §3.2 and §3.7.
import { EventEmitter } from 'node:events';
import { startFaultInjectingServer } from './fault-injecting-server.mjs';
import { decodePprof, isGzip } from './pprof-samples.mjs';
import { waitForEvent } from './wait-for.mjs';

/** Pyroscope's default limits (pkg/validation/limits.go). */
export const PYROSCOPE_LIMITS = Object.freeze({
  maxSamples: 16000,
  maxUncompressedBytes: 4 * 1024 * 1024,
  maxLabelsPerSample: 100,
});

const APP_NAME_CHARS = /^[A-Za-z0-9_.\-/]+$/;
const TAG_KEY_CHARS = /^[A-Za-z0-9_.]+$/;

class Rejection extends Error {}

/**
 * Parses the `name` query parameter, `app{k=v,k2=v2}`, like Pyroscope's segment key parser:
 * app name up to `{`, keys up to `=`, values up to `,` or `}`; nothing is trimmed.
 * Returns { appName, tags }; throws a Rejection on invalid characters.
 */
export function parseIngestName(name) {
  const open = name.indexOf('{');
  const appName = open === -1 ? name : name.slice(0, open);
  const tags = {};
  if (open !== -1) {
    if (!name.endsWith('}')) throw new Rejection(`name ${JSON.stringify(name)}: missing closing "}"`);
    const inner = name.slice(open + 1, -1);
    for (const pair of inner === '' ? [] : inner.split(',')) {
      const eq = pair.indexOf('=');
      if (eq === -1) throw new Rejection(`name ${JSON.stringify(name)}: tag ${JSON.stringify(pair)} has no "="`);
      tags[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  if (!APP_NAME_CHARS.test(appName)) {
    throw new Rejection(`invalid app name ${JSON.stringify(appName)}: allowed characters are [A-Za-z0-9_.-/]`);
  }
  for (const key of Object.keys(tags)) {
    if (!TAG_KEY_CHARS.test(key)) {
      throw new Rejection(`invalid tag key ${JSON.stringify(key)}: allowed characters are [A-Za-z0-9_.]`);
    }
  }
  return { appName, tags };
}

async function profileBytesOf(req, body, query) {
  if (query.format === 'pprof') return body;
  const contentType = req.headers['content-type'] ?? '';
  if (contentType.includes('multipart/form-data')) {
    const form = await new Response(body, { headers: { 'content-type': contentType } }).formData();
    if (form.has('prev_profile')) throw new Rejection('unsupported client version (prev_profile)');
    const file = form.get('profile');
    if (!file || typeof file === 'string') throw new Rejection('multipart body has no "profile" file field');
    return Buffer.from(await file.arrayBuffer());
  }
  throw new Rejection(`format=${JSON.stringify(query.format ?? '')} and not multipart: this receiver only takes pprof`);
}

function validateProfile(bytes) {
  if (!isGzip(bytes)) throw new Rejection('body is not gzip-compressed');
  let decoded;
  try {
    decoded = decodePprof(bytes);
  } catch (err) {
    throw new Rejection(`body is not a gzipped pprof profile: ${err.message}`);
  }
  const { maxSamples, maxUncompressedBytes, maxLabelsPerSample } = PYROSCOPE_LIMITS;
  if (decoded.uncompressedBytes > maxUncompressedBytes) {
    throw new Rejection(`profile is ${decoded.uncompressedBytes} bytes uncompressed, over the ${maxUncompressedBytes} limit`);
  }
  if (decoded.samples.length > maxSamples) {
    throw new Rejection(`profile has ${decoded.samples.length} samples, over the ${maxSamples} limit`);
  }
  const widest = Math.max(0, ...decoded.profile.sample.map((s) => s.label.length));
  if (widest > maxLabelsPerSample) {
    throw new Rejection(`a sample has ${widest} labels, over the ${maxLabelsPerSample} limit`);
  }
  return decoded;
}

/**
 * Starts a Pyroscope /ingest receiver on 127.0.0.1 (port 0 unless `opts.port`).
 * Returns { url, uploads, rejections, requests, waitForUploads(pred, timeoutMs), respondWith(mode), close() }.
 * - `uploads`: accepted uploads, each { path, query (all params), appName, tags, headers (lowercased),
 *   body (raw Buffer), profile (pprof-format Profile), samples: [{values, labels, numLabels, stack (leaf first)}],
 *   sampleTypes, periodType, period, timeNanos, durationNanos }.
 * - `rejections`: { path, query, headers, body, status: 400, reason } for uploads failing validation.
 * - `requests`: every request ({method, path, headers, bytes, status}), faulted ones included.
 * - `waitForUploads(uploads => cond, timeoutMs = 20000)`: resolves with cond's value if it is an
 *   object, else the uploads array.
 * - `respondWith('ok' | 503 | 'hang' | 'refuse' | 'resume')`.
 */
export async function startPyroscopeReceiver(opts = {}) {
  const uploads = [];
  const rejections = [];
  const requests = [];
  const events = new EventEmitter();

  const server = await startFaultInjectingServer({
    host: opts.host,
    port: opts.port ?? 0,
    record(req, body) {
      const entry = { method: req.method, path: req.url, headers: { ...req.headers }, bytes: body.length };
      requests.push(entry);
      return entry;
    },
    handle(req, res, body, entry) {
      const url = new URL(req.url, 'http://receiver');
      const answer = (status, text) => {
        entry.status = status;
        res.writeHead(status, { 'content-type': 'text/plain' }).end(text);
      };
      if (url.pathname !== '/ingest' && url.pathname !== '/pyroscope/ingest') return answer(404, 'not found\n');
      if (req.method !== 'POST') return answer(405, 'method not allowed\n');
      const query = Object.fromEntries(url.searchParams);
      const reject = (reason) => {
        rejections.push({ path: req.url, query, headers: entry.headers, body, status: 400, reason });
        answer(400, `${reason}\n`);
        events.emit('rejection');
      };
      (async () => {
        try {
          if (!query.name) throw new Rejection('missing "name" query parameter');
          const { appName, tags } = parseIngestName(query.name);
          const decoded = validateProfile(await profileBytesOf(req, body, query));
          uploads.push({ path: req.url, query, appName, tags, headers: entry.headers, body, ...decoded });
          answer(200, '');
          events.emit('upload');
        } catch (err) {
          if (err instanceof Rejection) reject(err.message);
          else answer(500, `receiver error: ${err && err.stack}\n`);
        }
      })();
    },
  });

  return {
    url: server.url,
    port: server.port,
    uploads,
    rejections,
    requests,
    waitForUploads(predicate = (all) => all.length > 0, timeoutMs = 20000) {
      return waitForEvent(events, 'upload', () => predicate(uploads), {
        timeoutMs,
        what: 'profile uploads',
        fallback: () => uploads,
        describe: () =>
          `accepted ${uploads.length} uploads (${uploads.reduce((n, u) => n + u.samples.length, 0)} samples), ` +
          `rejected ${rejections.length}${rejections.length ? ` (${rejections.map((r) => r.reason).join('; ')})` : ''}, ` +
          `${requests.length} requests (statuses ${requests.map((r) => r.status ?? 'none').join(',')})`,
      });
    },
    respondWith: (mode) => server.respondWith(mode),
    close: () => server.close(),
  };
}
