// An OTLP/HTTP endpoint for profiles and traces on one base URL, as a Collector or Pyroscope 2.x offers
// them: POST /v1development/profiles (protobuf or JSON, gzip or not) and POST /v1/traces. Profiles are
// decoded with protobufjs over the kept opentelemetry-proto files and judged by the rules the real
// servers apply before they are accepted; fault modes as in fault-injecting-server.mjs.
import { EventEmitter } from 'node:events';
import zlib from 'node:zlib';
import { startFaultInjectingServer } from './fault-injecting-server.mjs';
import { decodeOtlpTraceRequest } from './otlp-receiver.mjs';
import { decodeOtlpProfilesJson, decodeOtlpProfilesProtobuf, flattenOtlpProfiles, otlpProfilesProblems } from './otlp-profiles.mjs';
import { waitForEvent } from './wait-for.mjs';

export const PROFILES_PATH = '/v1development/profiles';

/**
 * What Pyroscope 2.x refuses in an OTLP profiles request beyond the proto's own rules, as a reason, or
 * undefined when it would accept it.
 */
function pyroscopeRefusal(request) {
  // pkg/ingester/otlp/ingest_handler.go export(): a request without dictionary is invalid.
  if (!request.dictionary) return 'missing profile metadata dictionary';
  for (const rp of request.resourceProfiles) {
    for (const sp of rp.scopeProfiles) {
      for (const profile of sp.profiles) {
        // pkg/ingester/otlp/convert.go newProfileBuilder(): "sample type is missing".
        if (!profile.sampleType) return 'sample type is missing';
        for (const sample of profile.samples) {
          // convert.go convertSampleBack(): values, or timestamps counted as values, are required ...
          if (sample.values.length === 0 && sample.timestampsUnixNano.length === 0) return 'sample value is required';
          // ... and with a period set, exactly one value per sample type (one per profile).
          if (Number(profile.period) !== 0 && profile.periodType && sample.values.length > 1) {
            return `sample values length mismatch ${sample.values.length} 1`;
          }
        }
      }
    }
  }
  return undefined;
}

/**
 * Starts the receiver on 127.0.0.1 (port 0). Returns { url (the base: give it as
 * OTEL_EXPORTER_OTLP_ENDPOINT), profilesUrl, requests, uploads, spans, rejections,
 * waitForUploads(predicate, timeoutMs), waitForSpans(predicate, timeoutMs), respondWith(mode), close() }.
 * - uploads: accepted profile requests, each { body (as received), contentType, contentEncoding, headers,
 *   request (decoded), profiles (flattenOtlpProfiles) };
 * - requests: every request { method, path, headers, contentType, bytes, body, status, error };
 * - rejections: profile requests answered 400, with the reason;
 * - respondWith: 'ok' | status | 'hang' | 'refuse' | 'resume' | { status, body, headers } (one answer for all).
 */
export async function startOtlpProfilesReceiver() {
  const requests = [];
  const uploads = [];
  const spans = [];
  const rejections = [];
  const events = new EventEmitter();
  let custom;

  const server = await startFaultInjectingServer({
    record(req, body) {
      const entry = {
        method: req.method,
        path: req.url,
        headers: { ...req.headers },
        contentType: req.headers['content-type'] ?? '',
        bytes: body.length,
        body,
      };
      requests.push(entry);
      return entry;
    },
    handle(req, res, body, entry) {
      const path = new URL(req.url, 'http://receiver').pathname;
      const answer = (status, payload = '', headers = {}) => {
        entry.status = status;
        res.writeHead(status, { 'content-type': 'text/plain', ...headers });
        res.end(payload);
      };
      if (custom) return answer(custom.status, custom.body ?? '', custom.headers);
      if (req.method !== 'POST') return answer(405);
      const contentEncoding = req.headers['content-encoding'] ?? '';
      if (path === '/v1/traces') {
        const decoded = decodeOtlpTraceRequest(body, { contentType: entry.contentType, contentEncoding });
        spans.push(...decoded);
        answer(200, '', { 'content-type': 'application/x-protobuf' });
        events.emit('spans');
        return;
      }
      if (path !== PROFILES_PATH) return answer(404, `no route ${path}`);
      // pkg/ingester/otlp/ingest_handler.go: only these three content types; gzip optional.
      const type = entry.contentType;
      if (type !== 'application/json' && type !== 'application/x-protobuf' && type !== 'application/protobuf') {
        return answer(415, `Unsupported Content-Type: ${type}`);
      }
      let request;
      try {
        const raw = /gzip/i.test(contentEncoding) ? zlib.gunzipSync(body) : body;
        request = type === 'application/json' ? decodeOtlpProfilesJson(raw.toString('utf8')) : decodeOtlpProfilesProtobuf(raw);
      } catch (err) {
        entry.error = String(err && err.message);
        rejections.push({ reason: entry.error, entry });
        return answer(400, `Failed to parse request: ${entry.error}`);
      }
      const problems = otlpProfilesProblems(request);
      const refusal = problems.length > 0 ? problems.slice(0, 5).join('; ') : pyroscopeRefusal(request);
      if (refusal) {
        entry.error = refusal;
        rejections.push({ reason: refusal, entry });
        return answer(400, refusal);
      }
      const upload = { body, contentType: type, contentEncoding, headers: entry.headers, request, profiles: flattenOtlpProfiles(request) };
      uploads.push(upload);
      // An empty ExportProfilesServiceResponse.
      answer(200, type === 'application/json' ? '{}' : '', { 'content-type': type });
      events.emit('upload', upload);
    },
  });

  return {
    url: server.url,
    profilesUrl: `${server.url}${PROFILES_PATH}`,
    requests,
    uploads,
    spans,
    rejections,
    /** Resolves with the predicate's value when truthy (an object) or the uploads. */
    waitForUploads(predicate = (all) => all.length > 0, timeoutMs = 30_000) {
      return waitForEvent(events, 'upload', () => predicate(uploads), {
        timeoutMs,
        what: 'OTLP profile uploads',
        fallback: () => uploads,
        describe: () =>
          `${uploads.length} uploads in ${requests.length} requests (statuses ${requests.map((r) => r.status ?? 'none').join(',')}); ` +
          `rejections: ${rejections.map((r) => r.reason).join(' | ') || 'none'}`,
      });
    },
    waitForSpans(predicate = (all) => all.length > 0, timeoutMs = 15_000) {
      return waitForEvent(events, 'spans', () => predicate(spans), {
        timeoutMs,
        what: 'spans',
        fallback: () => spans,
        describe: () => `${spans.length} spans`,
      });
    },
    async respondWith(mode) {
      if (mode && typeof mode === 'object') {
        custom = mode;
        await server.respondWith('ok');
        return;
      }
      custom = undefined;
      await server.respondWith(mode);
    },
    close: () => server.close(),
  };
}
