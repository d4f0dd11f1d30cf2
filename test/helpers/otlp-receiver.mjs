// An OTLP/HTTP trace endpoint for tests: accepts POST /v1/traces as protobuf or JSON (gzip or
// not), flattens every span into a plain object, and can inject faults (see respondWith).
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import zlib from 'node:zlib';
import { startFaultInjectingServer } from './fault-injecting-server.mjs';
import { waitForEvent } from './wait-for.mjs';

const require = createRequire(import.meta.url);

// The subset of opentelemetry-proto (trace/v1, common/v1, resource/v1, collector/trace/v1) that
// spans need, decoded by protobufjs so we never decode with code we wrote for the agent.
const OTLP_TRACE_PROTO = `
syntax = "proto3";
package otlp;
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }
message InstrumentationScope { string name = 1; string version = 2; repeated KeyValue attributes = 3; uint32 dropped_attributes_count = 4; }
message Span {
  bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4; fixed32 flags = 16;
  string name = 5; int32 kind = 6; fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9; uint32 dropped_attributes_count = 10; repeated Event events = 11;
  uint32 dropped_events_count = 12; repeated Link links = 13; uint32 dropped_links_count = 14; Status status = 15;
}
message Event { fixed64 time_unix_nano = 1; string name = 2; repeated KeyValue attributes = 3; uint32 dropped_attributes_count = 4; }
message Link { bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; repeated KeyValue attributes = 4; uint32 dropped_attributes_count = 5; fixed32 flags = 6; }
message Status { string message = 2; int32 code = 3; }
message AnyValue { oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; ArrayValue array_value = 5; KeyValueList kvlist_value = 6; bytes bytes_value = 7; } }
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
`;

let requestType;
function exportTraceServiceRequestType() {
  if (!requestType) {
    const protobuf = require('protobufjs');
    requestType = protobuf.parse(OTLP_TRACE_PROTO).root.lookupType('otlp.ExportTraceServiceRequest');
  }
  return requestType;
}

/** OTLP SpanKind numbers (NOT the @opentelemetry/api SpanKind enum, which is shifted by one). */
const SPAN_KIND_NAMES = ['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];
const STATUS_CODE_NAMES = ['UNSET', 'OK', 'ERROR'];

function enumName(value, names, prefix) {
  if (typeof value === 'string') return value.startsWith(prefix) ? value.slice(prefix.length) : value;
  return names[value ?? 0] ?? String(value);
}

function flattenAnyValue(value) {
  if (value == null) return undefined;
  if ('stringValue' in value) return value.stringValue;
  if ('boolValue' in value) return value.boolValue;
  if ('intValue' in value) {
    const big = BigInt(value.intValue);
    return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
  }
  if ('doubleValue' in value) return Number(value.doubleValue);
  if ('arrayValue' in value) return (value.arrayValue.values ?? []).map(flattenAnyValue);
  if ('kvlistValue' in value) return flattenAttributes(value.kvlistValue.values);
  if ('bytesValue' in value) return Buffer.from(value.bytesValue, 'base64');
  return undefined;
}

function flattenAttributes(keyValues) {
  const flat = {};
  for (const { key, value } of keyValues ?? []) flat[key] = flattenAnyValue(value);
  return flat;
}

const toBigInt = (value) => (value == null || value === '' ? 0n : BigInt(String(value)));

/**
 * Flattens an OTLP ExportTraceServiceRequest in its JSON mapping (camelCase keys, as OTLP/JSON
 * and the Collector's file exporter write it; the local store's *.spans.jsonl lines too) into
 * plain span objects. `idEncoding` is 'hex' for OTLP/JSON, 'base64' for protobuf-decoded input.
 *
 * Span: { traceId, spanId, parentSpanId ('' if none), name, kind ('SERVER'|'CLIENT'|'INTERNAL'|
 * 'PRODUCER'|'CONSUMER'|'UNSPECIFIED'), attributes, resource, scope: {name, version},
 * startTimeUnixNano, endTimeUnixNano (BigInt), status: {code: 'UNSET'|'OK'|'ERROR', message},
 * flags, parentIsRemote (true|false|undefined when unknown), events, links }
 */
export function spansFromOtlpJson(request, { idEncoding = 'hex' } = {}) {
  const id = (value) => {
    if (!value) return '';
    return idEncoding === 'base64' ? Buffer.from(value, 'base64').toString('hex') : String(value).toLowerCase();
  };
  const spans = [];
  for (const resourceSpans of request.resourceSpans ?? request.resource_spans ?? []) {
    const resource = flattenAttributes(resourceSpans.resource?.attributes);
    for (const scopeSpans of resourceSpans.scopeSpans ?? resourceSpans.scope_spans ?? []) {
      const scope = { name: scopeSpans.scope?.name ?? '', version: scopeSpans.scope?.version ?? '' };
      for (const span of scopeSpans.spans ?? []) {
        const flags = span.flags ?? 0;
        spans.push({
          traceId: id(span.traceId),
          spanId: id(span.spanId),
          parentSpanId: id(span.parentSpanId),
          name: span.name ?? '',
          kind: enumName(span.kind, SPAN_KIND_NAMES, 'SPAN_KIND_'),
          attributes: flattenAttributes(span.attributes),
          resource,
          scope,
          startTimeUnixNano: toBigInt(span.startTimeUnixNano),
          endTimeUnixNano: toBigInt(span.endTimeUnixNano),
          status: {
            code: enumName(span.status?.code, STATUS_CODE_NAMES, 'STATUS_CODE_'),
            message: span.status?.message ?? '',
          },
          flags,
          // OTLP flags bit 8: "has is_remote", bit 9: "parent is remote".
          parentIsRemote: flags & 0x100 ? Boolean(flags & 0x200) : undefined,
          events: (span.events ?? []).map((event) => ({
            name: event.name ?? '',
            timeUnixNano: toBigInt(event.timeUnixNano),
            attributes: flattenAttributes(event.attributes),
          })),
          links: (span.links ?? []).map((link) => ({
            traceId: id(link.traceId),
            spanId: id(link.spanId),
            attributes: flattenAttributes(link.attributes),
          })),
        });
      }
    }
  }
  return spans;
}

/** Decodes a protobuf ExportTraceServiceRequest body (already gunzipped) into plain spans. */
export function spansFromOtlpProtobuf(body) {
  const type = exportTraceServiceRequestType();
  const message = type.decode(body);
  const plain = type.toObject(message, { longs: String, enums: Number, bytes: String, arrays: true });
  return spansFromOtlpJson(plain, { idEncoding: 'base64' });
}

/** The whole ExportTraceServiceRequest in a protobuf body, every field with its default, ids as base64. */
export function decodeExportTraceServiceRequest(body) {
  const type = exportTraceServiceRequestType();
  return type.toObject(type.decode(body), { longs: String, enums: Number, bytes: String, defaults: true, arrays: true, objects: true, oneofs: true });
}

/** Decodes an OTLP/HTTP trace request body by its content type and encoding. */
export function decodeOtlpTraceRequest(body, { contentType = '', contentEncoding = '' } = {}) {
  const raw = /gzip/i.test(contentEncoding) ? zlib.gunzipSync(body) : body;
  if (/json/i.test(contentType)) return spansFromOtlpJson(JSON.parse(raw.toString('utf8')));
  if (/protobuf|proto/i.test(contentType)) return spansFromOtlpProtobuf(raw);
  throw new Error(`unsupported content-type ${JSON.stringify(contentType)}`);
}

/**
 * Starts an OTLP/HTTP receiver on 127.0.0.1 (port 0 unless `opts.port`).
 * Returns { url, spans, requests, waitForSpans(predicate, timeoutMs), respondWith(mode), close() }.
 * - `url` is the base (give it as OTEL_EXPORTER_OTLP_ENDPOINT; traces go to `${url}/v1/traces`).
 * - `spans` grows with every accepted span; `requests` records every request
 *   ({method, path, headers, contentType, bytes, status, spanCount, error}), faulted ones included.
 * - `waitForSpans(spans => cond, timeoutMs = 15000)`: resolves when `cond` is truthy with its value
 *   if it is an object (e.g. the span from `spans.find(...)`), else with the spans array.
 * - `respondWith('ok' | 503 | 'hang' | 'refuse' | 'resume')`.
 */
export async function startOtlpReceiver(opts = {}) {
  const spans = [];
  const requests = [];
  const events = new EventEmitter();

  const server = await startFaultInjectingServer({
    host: opts.host,
    port: opts.port ?? 0,
    record(req, body) {
      const entry = {
        method: req.method,
        path: req.url,
        headers: { ...req.headers },
        contentType: req.headers['content-type'] ?? '',
        bytes: body.length,
      };
      requests.push(entry);
      events.emit('request', entry);
      return entry;
    },
    handle(req, res, body, entry) {
      const path = new URL(req.url, 'http://receiver').pathname;
      const isJson = /json/i.test(entry.contentType);
      const answer = (status, payload) => {
        entry.status = status;
        res.writeHead(status, { 'content-type': isJson ? 'application/json' : 'application/x-protobuf' });
        res.end(payload);
      };
      if (req.method !== 'POST') return answer(405, '');
      if (path !== '/v1/traces') return answer(200, isJson ? '{}' : ''); // metrics/logs: accepted, ignored
      let decoded;
      try {
        decoded = decodeOtlpTraceRequest(body, {
          contentType: entry.contentType,
          contentEncoding: req.headers['content-encoding'] ?? '',
        });
      } catch (err) {
        entry.error = String(err && err.message);
        entry.status = 400;
        res.writeHead(400, { 'content-type': 'text/plain' }).end(`${entry.error}\n`);
        return;
      }
      entry.spanCount = decoded.length;
      spans.push(...decoded);
      // An empty ExportTraceServiceResponse: zero bytes in protobuf, {} in JSON.
      answer(200, isJson ? '{}' : '');
      events.emit('spans', decoded);
    },
  });

  return {
    url: server.url,
    port: server.port,
    spans,
    requests,
    waitForSpans(predicate = (all) => all.length > 0, timeoutMs = 15000) {
      return waitForEvent(events, 'spans', () => predicate(spans), {
        timeoutMs,
        what: 'spans',
        fallback: () => spans,
        describe: () =>
          `received ${spans.length} spans (${[...new Set(spans.map((s) => `${s.kind} ${s.name}`))].join(', ')}) ` +
          `in ${requests.length} requests (statuses ${requests.map((r) => r.status ?? 'none').join(',')})`,
      });
    },
    respondWith: (mode) => server.respondWith(mode),
    close: () => server.close(),
  };
}
