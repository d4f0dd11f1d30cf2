// OTLP profiles as a receiver sees them: decoded by protobufjs over the opentelemetry-proto files the
// tests keep (test/fixtures/opentelemetry-proto, copied unchanged), checked against the rules the proto
// states, and flattened into the plain samples the span-linkage helpers read.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const require = createRequire(import.meta.url);
const PROTO_ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'opentelemetry-proto');
const SERVICE = 'opentelemetry/proto/collector/profiles/v1development/profiles_service.proto';
const PACKAGE = 'opentelemetry.proto.collector.profiles.v1development';

let types;
/** protobufjs types of the request and the response, loaded once. */
export function otlpProfilesTypes() {
  if (!types) {
    const protobuf = require('protobufjs');
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) => path.join(PROTO_ROOT, target);
    root.loadSync(SERVICE, { keepCase: false });
    types = {
      request: root.lookupType(`${PACKAGE}.ExportProfilesServiceRequest`),
      response: root.lookupType(`${PACKAGE}.ExportProfilesServiceResponse`),
    };
  }
  return types;
}

const TO_OBJECT = { longs: String, bytes: Buffer, defaults: true, arrays: true, oneofs: true };

/** Protobuf bytes (gzipped or not) -> the request as a plain object (camelCase, longs as strings, bytes as Buffers). */
export function decodeOtlpProfilesProtobuf(bytes) {
  const raw = bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b ? zlib.gunzipSync(bytes) : bytes;
  const { request } = otlpProfilesTypes();
  return request.toObject(request.decode(raw), TO_OBJECT);
}

/**
 * OTLP/JSON text -> the same plain object. Trace and span ids are hex in OTLP/JSON (not protobuf's
 * base64), so links are turned into bytes here before protobufjs reads the rest.
 */
export function decodeOtlpProfilesJson(text) {
  const json = JSON.parse(text);
  for (const link of json.dictionary?.linkTable ?? []) {
    for (const key of ['traceId', 'spanId']) {
      if (typeof link[key] !== 'string' || !/^([0-9a-fA-F]{2})*$/.test(link[key])) {
        throw new Error(`link ${key} ${JSON.stringify(link[key])} is not hex`);
      }
      link[key] = Buffer.from(link[key], 'hex').toString('base64');
    }
  }
  const { request } = otlpProfilesTypes();
  const message = request.fromObject(json);
  const problem = request.verify(message);
  if (problem) throw new Error(`not an ExportProfilesServiceRequest: ${problem}`);
  return request.toObject(message, TO_OBJECT);
}

/** Decodes a request body by its content type and encoding. */
export function decodeOtlpProfilesRequest(body, { contentType = '', contentEncoding = '' } = {}) {
  const raw = /gzip/i.test(contentEncoding) ? zlib.gunzipSync(body) : body;
  if (/json/i.test(contentType)) return decodeOtlpProfilesJson(raw.toString('utf8'));
  if (/protobuf/i.test(contentType)) return decodeOtlpProfilesProtobuf(raw);
  throw new Error(`unsupported content-type ${JSON.stringify(contentType)}`);
}

const isZeroMessage = (value) => {
  if (value == null) return true;
  if (Buffer.isBuffer(value)) return value.every((b) => b === 0);
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object') return Object.values(value).every(isZeroMessage);
  return value === 0 || value === '0' || value === '' || value === false;
};

/**
 * Every rule of profiles.proto a decoded request can break, as a list of problems (empty: valid):
 * each table's entry 0 is present and the zero value; every index is in range; links are 16/8 bytes;
 * one sample type per profile; a sample has values or timestamps and, if both, as many of each;
 * no string (or other entry) twice in a table; attribute keys unique per referencing list.
 */
export function otlpProfilesProblems(request) {
  const problems = [];
  const dict = request.dictionary;
  if (!dict) return ['no dictionary'];
  const tables = ['mappingTable', 'locationTable', 'functionTable', 'linkTable', 'stringTable', 'attributeTable', 'stackTable'];
  for (const table of tables) {
    const entries = dict[table] ?? [];
    if (entries.length === 0) problems.push(`${table} is empty (entry 0 must be present)`);
    else if (!isZeroMessage(entries[0])) problems.push(`${table}[0] is not the zero value: ${JSON.stringify(entries[0])}`);
    const seen = new Set();
    entries.forEach((entry, index) => {
      const key = JSON.stringify(entry, (_k, v) => (v && v.type === 'Buffer' ? Buffer.from(v.data).toString('hex') : v));
      if (seen.has(key)) problems.push(`${table}[${index}] repeats an earlier entry: ${key}`);
      seen.add(key);
    });
  }
  const inRange = (what, index, table) => {
    if (!Number.isInteger(index) || index < 0 || index >= (dict[table]?.length ?? 0)) problems.push(`${what} ${index} is out of ${table} (length ${dict[table]?.length ?? 0})`);
  };
  const keysUnique = (what, indices) => {
    const keys = indices.map((i) => dict.attributeTable[i]?.keyStrindex);
    if (new Set(keys).size !== keys.length) problems.push(`${what}: attribute keys repeat`);
  };
  dict.linkTable.forEach((link, i) => {
    if (link.traceId.length !== 16) problems.push(`linkTable[${i}].traceId has ${link.traceId.length} bytes`);
    if (link.spanId.length !== 8) problems.push(`linkTable[${i}].spanId has ${link.spanId.length} bytes`);
    if (i > 0 && (isZeroMessage(link.traceId) || isZeroMessage(link.spanId))) problems.push(`linkTable[${i}] has a zero id`);
  });
  dict.mappingTable.forEach((m, i) => inRange(`mappingTable[${i}].filenameStrindex`, m.filenameStrindex, 'stringTable'));
  dict.functionTable.forEach((f, i) => {
    for (const key of ['nameStrindex', 'systemNameStrindex', 'filenameStrindex']) inRange(`functionTable[${i}].${key}`, f[key], 'stringTable');
  });
  dict.locationTable.forEach((loc, i) => {
    inRange(`locationTable[${i}].mappingIndex`, loc.mappingIndex, 'mappingTable');
    loc.lines.forEach((line, j) => inRange(`locationTable[${i}].lines[${j}].functionIndex`, line.functionIndex, 'functionTable'));
    loc.attributeIndices.forEach((a) => inRange(`locationTable[${i}].attributeIndices`, a, 'attributeTable'));
    keysUnique(`locationTable[${i}]`, loc.attributeIndices);
  });
  dict.attributeTable.forEach((a, i) => {
    inRange(`attributeTable[${i}].keyStrindex`, a.keyStrindex, 'stringTable');
    inRange(`attributeTable[${i}].unitStrindex`, a.unitStrindex, 'stringTable');
  });
  dict.stackTable.forEach((s, i) => s.locationIndices.forEach((l) => inRange(`stackTable[${i}].locationIndices`, l, 'locationTable')));
  for (const rp of request.resourceProfiles) {
    for (const sp of rp.scopeProfiles) {
      sp.profiles.forEach((profile, p) => {
        if (!profile.sampleType) problems.push(`profile ${p} has no sample type`);
        for (const vt of [profile.sampleType, profile.periodType].filter(Boolean)) {
          inRange(`profile ${p} value type`, vt.typeStrindex, 'stringTable');
          inRange(`profile ${p} value type unit`, vt.unitStrindex, 'stringTable');
        }
        profile.samples.forEach((s, i) => {
          const what = `profile ${p} sample ${i}`;
          inRange(`${what} stackIndex`, s.stackIndex, 'stackTable');
          inRange(`${what} linkIndex`, s.linkIndex, 'linkTable');
          s.attributeIndices.forEach((a) => inRange(`${what} attributeIndices`, a, 'attributeTable'));
          keysUnique(what, s.attributeIndices);
          if (s.values.length === 0 && s.timestampsUnixNano.length === 0) problems.push(`${what} has neither values nor timestamps`);
          if (s.values.length > 0 && s.timestampsUnixNano.length > 0 && s.values.length !== s.timestampsUnixNano.length) {
            problems.push(`${what} has ${s.values.length} values and ${s.timestampsUnixNano.length} timestamps`);
          }
        });
      });
    }
  }
  return problems;
}

/** A decoded AnyValue as a plain JavaScript value. */
export function anyValue(value) {
  if (!value) return undefined;
  if (value.value === 'stringValue') return value.stringValue;
  if (value.value === 'boolValue') return value.boolValue;
  if (value.value === 'intValue') return Number(value.intValue);
  if (value.value === 'doubleValue') return value.doubleValue;
  if (value.value === 'arrayValue') return value.arrayValue.values.map(anyValue);
  return undefined;
}

/**
 * Flattens a decoded request into profiles:
 * [{ resource, scope, sampleType: 'samples/count', periodType: 'cpu/nanoseconds', period, timeNanos,
 *    durationNanos (BigInt), samples: [{ values: [count or value], timestamps: [BigInt], labels:
 *    { span_id, trace_id (hex, from the link), ...sample attributes }, stack: [function names, leaf first],
 *    frameTypes: [per frame] }] }].
 * For a "timestamps only" sample, values is [number of timestamps] (each counts one), so values[0] is
 * the sample count as span-linkage.mjs expects.
 */
export function flattenOtlpProfiles(request) {
  const dict = request.dictionary;
  const str = (i) => dict.stringTable[i] ?? '';
  const attributes = (indices) => {
    const out = {};
    for (const i of indices) out[str(dict.attributeTable[i].keyStrindex)] = anyValue(dict.attributeTable[i].value);
    return out;
  };
  const frames = (stackIndex) =>
    dict.stackTable[stackIndex].locationIndices.flatMap((l) =>
      dict.locationTable[l].lines.map((line) => str(dict.functionTable[line.functionIndex].nameStrindex)),
    );
  const frameTypes = (stackIndex) =>
    dict.stackTable[stackIndex].locationIndices.map((l) => attributes(dict.locationTable[l].attributeIndices)['profile.frame.type']);
  const out = [];
  for (const rp of request.resourceProfiles) {
    const resource = {};
    for (const kv of rp.resource?.attributes ?? []) resource[kv.key] = anyValue(kv.value);
    for (const sp of rp.scopeProfiles) {
      for (const profile of sp.profiles) {
        out.push({
          resource,
          scope: { name: sp.scope?.name ?? '', version: sp.scope?.version ?? '' },
          sampleType: `${str(profile.sampleType.typeStrindex)}/${str(profile.sampleType.unitStrindex)}`,
          periodType: profile.periodType ? `${str(profile.periodType.typeStrindex)}/${str(profile.periodType.unitStrindex)}` : '',
          period: Number(profile.period),
          timeNanos: BigInt(profile.timeUnixNano),
          durationNanos: BigInt(profile.durationNano),
          profileId: profile.profileId,
          samples: profile.samples.map((s) => {
            const link = dict.linkTable[s.linkIndex];
            const labels = attributes(s.attributeIndices);
            if (s.linkIndex !== 0) {
              labels.span_id = link.spanId.toString('hex');
              labels.trace_id = link.traceId.toString('hex');
            }
            const timestamps = s.timestampsUnixNano.map((t) => BigInt(t));
            return {
              values: s.values.length > 0 ? s.values.map(Number) : [timestamps.length],
              timestamps,
              labels,
              stack: frames(s.stackIndex),
              frameTypes: frameTypes(s.stackIndex),
            };
          }),
        });
      }
    }
  }
  return out;
}
