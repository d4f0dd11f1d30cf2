// A Grafana Pyroscope /ingest endpoint for tests that applies the real server's ingest rules, as
// read in grafana/pyroscope's source (paths below are in that repository), in the order the server
// applies them:
//
//  1. pkg/ingester/pyroscope/ingest_handler.go: the `name` query parameter (app{k=v}) must parse
//     (api/model/labelset): 400 otherwise.
//  2. pkg/og/convert/pprof/profile.go (ParseToPprof, RawFromBytesWithLimit): the body is a (gzipped)
//     pprof of at most max-profile-size-bytes (4 MiB) uncompressed: 400 otherwise. createLabels()
//     makes the series labels: __name__ (metricName(): wall | process_cpu | ...), __delta__=false,
//     pyroscope_spy=<spyName>, service_name=<app> unless a tag sets it, and every tag not starting
//     with "__".
//  3. pkg/distributor/distributor.go (pushSeries, rateLimit): AllowN(now, tenant, labelsSize +
//     uncompressed size) on a per-tenant token bucket, rate 4 MiB/s, burst 2 MiB
//     (pkg/validation/limits.go: distributor.ingestion-rate-limit-mb / ingestion-burst-size-mb). An
//     upload larger than the burst can never pass: 429 "push rate limit (...) exceeded while adding ...".
//  4. pkg/validation/validate.go (ValidateProfile): <= 16000 samples, <= 100 labels on a sample, valid
//     UTF-8 strings: 422 otherwise (the ingest handler answers 422 for every push error but 429).
//  5. pkg/model/pprofsplit/pprof_split.go (VisitSampleSeries): `profile_id` is renamed `span_id`; samples
//     are grouped by their string labels except span_id and, from v2.1.0 on, trace_id (commit eb3f7545a
//     "exclude trace_id from sample to series label promotion"; release tags v2.0.3..v2.0.6 are on the
//     release-2.0 branch and do not have it; the `pyroscope-2.0.3` tag is the Helm chart's). Each group's
//     sample labels join the series labels (existing series labels win): one series per distinct set.
//  6. pkg/validation/validate.go (ValidateLabels) on each series: <= 30 label names, names <= 1024 and
//     values <= 2048 bytes, valid UTF-8 values, duplicate names rejected. Name syntax by version:
//     before v1.15 Prometheus' legacy rule [a-zA-Z_][a-zA-Z0-9_]*; v1.15 to v1.21 SanitizeLegacyLabelName
//     (dots become underscores, a leading digit or another character is invalid, two names colliding
//     after it with different values are rejected); from v2.0.0 validation.disable-label-sanitization
//     defaults to true (limits.go): any non-empty UTF-8 name is kept as is. One bad series fails the
//     whole upload (422).
//
// `GET /api/v1/status/buildinfo` answers like pkg/pyroscope/modules.go (statusService.GetBuildInfo,
// api/status/v1/status.proto): {"status":"success","data":{"version":...,"revision":...,...}}.
import { EventEmitter } from 'node:events';
import { startFaultInjectingServer } from './fault-injecting-server.mjs';
import { decodePprof, isGzip } from './pprof-samples.mjs';
import { waitForEvent } from './wait-for.mjs';

const MIB = 1024 * 1024;

/** Pyroscope's default limits (pkg/validation/limits.go). */
export const PYROSCOPE_LIMITS = Object.freeze({
  maxSamples: 16000,
  maxUncompressedBytes: 4 * MIB,
  maxLabelsPerSample: 100,
  maxLabelNamesPerSeries: 30,
  maxLabelNameLength: 1024,
  maxLabelValueLength: 2048,
  ingestionRateBytes: 4 * MIB,
  ingestionBurstBytes: 2 * MIB,
});

/** Versions the tests run against: a 1.x server, the first 2.0, a current 2.2. */
export const PYROSCOPE_VERSIONS = Object.freeze({ v1: '1.21.1', v200: '2.0.0', v22: '2.2.1' });

const APP_NAME_CHARS = /^[A-Za-z0-9_.\-/]+$/;
const TAG_KEY_CHARS = /^[A-Za-z0-9_.]+$/;

class Rejection extends Error {
  constructor(message, status = 400) {
    super(message);
    this.status = status;
  }
}

/** [major, minor, patch] of "2.1.0", "v2.1.0", "2.1.0-rc.1"; undefined otherwise. */
export function parseVersion(version) {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version ?? '');
  return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : undefined;
}

function atLeast(version, min) {
  const v = parseVersion(version);
  if (!v) return false;
  for (let i = 0; i < 3; i++) if (v[i] !== min[i]) return v[i] > min[i];
  return true;
}

/** Whether a server of `version` keeps trace_id out of the series labels (pprof_split.go, v2.1.0+). */
export function keepsTraceIdOutOfSeries(version) {
  return atLeast(version, [2, 1, 0]);
}

/** How a server of `version` checks label names: 'legacy' | 'sanitize' | 'utf8' (see the module comment). */
export function labelNameRule(version) {
  if (atLeast(version, [2, 0, 0])) return 'utf8';
  if (atLeast(version, [1, 15, 0])) return 'sanitize';
  return 'legacy';
}

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

/** Step 2: decode, size limit (RawFromBytesWithLimit). */
function decodeProfile(bytes, limits) {
  if (!isGzip(bytes)) throw new Rejection('body is not gzip-compressed');
  let decoded;
  try {
    decoded = decodePprof(bytes);
  } catch (err) {
    throw new Rejection(`body is not a gzipped pprof profile: ${err.message}`);
  }
  if (decoded.uncompressedBytes > limits.maxUncompressedBytes) {
    throw new Rejection(`profile is ${decoded.uncompressedBytes} bytes uncompressed, over the ${limits.maxUncompressedBytes} limit`);
  }
  return decoded;
}

/** Step 2: og/convert/pprof/profile.go metricName() and createLabels(). */
function seriesLabelsOf(decoded, appName, tags, spyName) {
  const types = decoded.sampleTypes.map((t) => t.split('/')[0]);
  let metric = types.includes('wall') ? 'wall' : undefined;
  if (!metric && types.some((t) => t.includes('cpu'))) metric = 'process_cpu';
  metric ??= types.at(-1) ?? '';
  const labels = { __name__: metric, __delta__: 'false', pyroscope_spy: spyName || 'unknown' };
  if (tags.service_name === undefined) labels.service_name = appName;
  for (const [key, value] of Object.entries(tags)) if (!key.startsWith('__')) labels[key] = value;
  return labels;
}

/** Step 3: golang.org/x/time/rate semantics of dskit's local rate limiter, per tenant. */
class TokenBuckets {
  constructor(rate, burst) {
    this.rate = rate;
    this.burst = burst;
    this.buckets = new Map();
  }
  allowN(tenant, n, now = Date.now()) {
    let bucket = this.buckets.get(tenant);
    if (!bucket) this.buckets.set(tenant, (bucket = { tokens: this.burst, at: now }));
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.rate);
    bucket.at = now;
    if (n > bucket.tokens) return false;
    bucket.tokens -= n;
    return true;
  }
}

/** humanize.IBytes as the distributor's message prints sizes: "2.5 MiB". */
function ibytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1) : value.toFixed(0)} ${units[unit]}`;
}

/** Step 4: ValidateProfile. */
function validateProfile(decoded, limits) {
  if (decoded.samples.length > limits.maxSamples) {
    throw new Rejection(`profile has ${decoded.samples.length} samples, over the ${limits.maxSamples} limit`, 422);
  }
  const widest = Math.max(0, ...decoded.profile.sample.map((s) => s.label.length));
  if (widest > limits.maxLabelsPerSample) {
    throw new Rejection(`a sample has ${widest} labels, over the ${limits.maxLabelsPerSample} limit`, 422);
  }
  for (const text of decoded.profile.stringTable.strings) {
    // pprof-format decodes strings leniently: an invalid sequence shows up as U+FFFD.
    if (text.includes('\uFFFD')) throw new Rejection(`invalid utf8 string ${JSON.stringify(text.slice(0, 40))}`, 422);
  }
}

/**
 * Step 5: the series of an upload, as VisitSampleSeries forms them. Returns [{ labels, sampleCount }];
 * samples with an identical label set (span_id, and trace_id where exempt, aside) share one series.
 */
function splitIntoSeries(decoded, seriesLabels, traceIdExempt) {
  const perSample = ['span_id', 'profile_id', ...(traceIdExempt ? ['trace_id'] : [])];
  const groups = new Map();
  for (const sample of decoded.samples) {
    const labels = { ...seriesLabels };
    // Numeric labels are skipped (addSampleLabelsToLabelsBuilder: l.Str <= 0); series labels win.
    for (const [key, value] of Object.entries(sample.labels)) {
      if (perSample.includes(key) || labels[key] !== undefined) continue;
      labels[key] = value;
    }
    const key = seriesKey(labels);
    const group = groups.get(key);
    if (group) group.sampleCount++;
    else groups.set(key, { key, labels, sampleCount: 1 });
  }
  return [...groups.values()];
}

function seriesKey(labels) {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

const LEGACY_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const SANITIZABLE_NAME = /^[a-zA-Z_.][a-zA-Z0-9_.]*$/;

/** Step 6: ValidateLabels on one series; returns the labels as stored (after sanitization). */
function validateSeriesLabels(labels, limits, rule) {
  const shown = () => JSON.stringify(labels).slice(0, 300);
  const names = Object.keys(labels);
  if (names.length > limits.maxLabelNamesPerSeries) {
    throw new Rejection(`profile series '${shown()}' has ${names.length} label names; limit ${limits.maxLabelNamesPerSeries}`, 422);
  }
  if (!labels.service_name) throw new Rejection(`invalid labels '${shown()}': service name is not provided`, 422);
  const stored = {};
  const renamed = new Map();
  for (const name of names.sort()) {
    const value = labels[name];
    if (Buffer.byteLength(name) > limits.maxLabelNameLength) {
      throw new Rejection(`profile with labels '${shown()}' has label name too long: '${name.slice(0, 80)}'`, 422);
    }
    if (Buffer.byteLength(value) > limits.maxLabelValueLength) {
      throw new Rejection(`profile with labels '${shown()}' has label value too long: '${value.slice(0, 80)}...' (${Buffer.byteLength(value)} bytes)`, 422);
    }
    if (value.includes('\uFFFD')) throw new Rejection(`invalid label value '${value.slice(0, 80)}'`, 422);
    let storedName = name;
    if (rule === 'legacy' && !LEGACY_NAME.test(name)) {
      throw new Rejection(`invalid labels '${shown()}' with error: invalid label name '${name}'`, 422);
    }
    if (rule === 'sanitize') {
      // SanitizeLegacyLabelName: the first byte may not be a digit; dots become underscores.
      if (!SANITIZABLE_NAME.test(name)) throw new Rejection(`invalid labels '${shown()}' with error: invalid label name '${name}'`, 422);
      storedName = name.replaceAll('.', '_');
    }
    if (rule === 'utf8' && name.length === 0) throw new Rejection(`invalid label name ''`, 422);
    if (stored[storedName] !== undefined) {
      const sanitizedFrom = storedName !== name ? name : renamed.get(storedName);
      // handleSanitizedLabel: the same name and value after sanitization is merged, not rejected.
      if (sanitizedFrom !== undefined && stored[storedName] === value) continue;
      throw new Rejection(
        `profile with labels '${shown()}' has duplicate label name '${storedName}'${sanitizedFrom !== undefined ? ` after label name sanitization from '${sanitizedFrom}'` : ''}`,
        422,
      );
    }
    if (storedName !== name) renamed.set(storedName, name);
    stored[storedName] = value;
  }
  return stored;
}

/**
 * Starts a Pyroscope receiver on 127.0.0.1 (port 0 unless `opts.port`).
 * Options:
 * - `version` (default PYROSCOPE_VERSIONS.v22): the version the server is, which decides its rules
 *   (trace_id as a series label before 2.1.0, label-name rules) and what buildinfo answers.
 * - `buildInfo` (default true): false answers 404 at /api/v1/status/buildinfo (a proxy in front, or a
 *   server that does not tell); the rules are still those of `version`.
 * - `limits`: overrides of PYROSCOPE_LIMITS (a server with raised limits).
 * - `chargeDelayMs(n)`: ms the n-th /ingest upload (from 0) takes to read and parse before the rate
 *   limiter charges it (a busy server), default 0.
 * Returns { url, uploads, rejections, requests, series, buildInfoRequests, waitForUploads(pred, timeoutMs),
 * respondWith(mode), close() }.
 * - `uploads`: accepted uploads, each { path, query (all params), appName, tags, headers (lowercased),
 *   body (raw Buffer), profile (pprof-format Profile), samples: [{values, labels, numLabels, stack (leaf first)}],
 *   sampleTypes, periodType, period, timeNanos, durationNanos, uncompressedBytes, ingestBytes (what the
 *   rate limiter counts), series: [{ labels (as stored), sampleCount }] }.
 * - `rejections`: { path, query, headers, body, status (400 | 422 | 429), reason } for refused uploads.
 * - `requests`: every /ingest request ({method, path, headers, bytes, status}), faulted ones included.
 * - `series`: Map of every series the server has created (key -> stored labels): what its index holds.
 * - `buildInfoRequests`: every request to the build info endpoint ({headers, status}).
 * - `waitForUploads(uploads => cond, timeoutMs = 20000)`: resolves with cond's value if it is an
 *   object, else the uploads array.
 * - `respondWith('ok' | 503 | 'hang' | 'refuse' | 'resume')` (applies to every path).
 */
export async function startPyroscopeReceiver(opts = {}) {
  const version = opts.version ?? PYROSCOPE_VERSIONS.v22;
  const answersBuildInfo = opts.buildInfo ?? true;
  const limits = { ...PYROSCOPE_LIMITS, ...opts.limits };
  const traceIdExempt = keepsTraceIdOutOfSeries(version);
  const nameRule = labelNameRule(version);
  const rateLimiter = new TokenBuckets(limits.ingestionRateBytes, limits.ingestionBurstBytes);
  let ingestCount = 0;
  const uploads = [];
  const rejections = [];
  const requests = [];
  const buildInfoRequests = [];
  const series = new Map();
  const events = new EventEmitter();

  const server = await startFaultInjectingServer({
    host: opts.host,
    port: opts.port ?? 0,
    record(req, body) {
      const entry = { method: req.method, path: req.url, headers: { ...req.headers }, bytes: body.length };
      if (req.url.includes('/api/v1/status/buildinfo')) buildInfoRequests.push(entry);
      else requests.push(entry);
      return entry;
    },
    handle(req, res, body, entry) {
      const url = new URL(req.url, 'http://receiver');
      const answer = (status, text, type = 'text/plain') => {
        entry.status = status;
        res.writeHead(status, { 'content-type': type }).end(text);
      };
      if (url.pathname.endsWith('/api/v1/status/buildinfo') && req.method === 'GET') {
        if (!answersBuildInfo) return answer(404, '404 page not found\n');
        const data = { version, revision: 'abc1234', branch: 'HEAD', buildUser: '', buildDate: '', goVersion: 'go1.25.13' };
        return answer(200, JSON.stringify({ status: 'success', data }), 'application/json');
      }
      if (url.pathname !== '/ingest' && url.pathname !== '/pyroscope/ingest') return answer(404, 'not found\n');
      if (req.method !== 'POST') return answer(405, 'method not allowed\n');
      const query = Object.fromEntries(url.searchParams);
      const reject = (status, reason) => {
        rejections.push({ path: req.url, query, headers: entry.headers, body, status, reason });
        answer(status, `${reason}\n`);
        events.emit('rejection');
      };
      (async () => {
        try {
          if (!query.name) throw new Rejection('missing "name" query parameter');
          const { appName, tags } = parseIngestName(query.name);
          const decoded = decodeProfile(await profileBytesOf(req, body, query), limits);
          const delayMs = opts.chargeDelayMs?.(ingestCount++) ?? 0;
          if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
          const seriesLabels = seriesLabelsOf(decoded, appName, tags, query.spyName);
          const labelBytes = Object.entries(seriesLabels).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
          const ingestBytes = labelBytes + decoded.uncompressedBytes;
          const tenant = entry.headers['x-scope-orgid'] ?? 'anonymous';
          if (!rateLimiter.allowN(tenant, ingestBytes)) {
            throw new Rejection(
              `resource_exhausted: push rate limit (${ibytes(limits.ingestionRateBytes)}) exceeded while adding ${ibytes(ingestBytes)}`,
              429,
            );
          }
          validateProfile(decoded, limits);
          const groups = splitIntoSeries(decoded, seriesLabels, traceIdExempt);
          const stored = groups.map((g) => ({ labels: validateSeriesLabels(g.labels, limits, nameRule), sampleCount: g.sampleCount }));
          for (const s of stored) series.set(seriesKey(s.labels), s.labels);
          uploads.push({ path: req.url, query, appName, tags, headers: entry.headers, body, ...decoded, ingestBytes, series: stored });
          answer(200, '');
          events.emit('upload');
        } catch (err) {
          if (err instanceof Rejection) reject(err.status, err.message);
          else answer(500, `receiver error: ${err && err.stack}\n`);
        }
      })();
    },
  });

  return {
    url: server.url,
    port: server.port,
    version,
    traceIdExempt,
    uploads,
    rejections,
    requests,
    series,
    buildInfoRequests,
    waitForUploads(predicate = (all) => all.length > 0, timeoutMs = 20000) {
      return waitForEvent(events, 'upload', () => predicate(uploads), {
        timeoutMs,
        what: 'profile uploads',
        fallback: () => uploads,
        describe: () =>
          `accepted ${uploads.length} uploads (${uploads.reduce((n, u) => n + u.samples.length, 0)} samples), ` +
          `rejected ${rejections.length}${rejections.length ? ` (${rejections.map((r) => `${r.reason} (${r.status})`).join('; ').slice(0, 2000)})` : ''}, ` +
          `${requests.length} requests (statuses ${requests.map((r) => r.status ?? 'none').join(',')})`,
      });
    },
    respondWith: (mode) => server.respondWith(mode),
    close: () => server.close(),
  };
}
