// Turns a (gzipped) pprof Profile into plain samples tests can assert on. Decoding uses the
// `pprof-format` package; go-pprof.mjs offers the independent decoder (go tool pprof).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import zlib from 'node:zlib';

const require = createRequire(import.meta.url);
const { Profile } = require('pprof-format');

/** True when the buffer starts with the gzip magic bytes. */
export function isGzip(buffer) {
  return buffer.length >= 2 && buffer[0] === 0x1f && buffer[1] === 0x8b;
}

/**
 * Decodes pprof bytes (gzipped or not) into
 * { profile (pprof-format Profile), uncompressedBytes, sampleTypes: ['samples/count', ...],
 *   periodType: 'cpu/nanoseconds', period, timeNanos, durationNanos,
 *   samples: [{ values: number[], labels: {key: string}, numLabels: {key: number}, stack: [leaf first] }] }.
 * Throws when the bytes are not a pprof Profile.
 */
export function decodePprof(bytes) {
  const raw = isGzip(bytes) ? zlib.gunzipSync(bytes) : bytes;
  const profile = Profile.decode(raw);
  const strings = profile.stringTable.strings;
  const str = (index) => strings[Number(index)] ?? '';
  if (strings.length === 0 || strings[0] !== '') throw new Error('not a pprof profile: string table must start with ""');
  if (profile.sampleType.length === 0) throw new Error('not a pprof profile: no sample types');

  const functionNames = new Map(profile.function.map((fn) => [Number(fn.id), str(fn.name)]));
  const locationFrames = new Map(
    profile.location.map((location) => [
      Number(location.id),
      // pprof lists a location's inlined frames innermost first, matching leaf-first stacks.
      location.line.map((line) => functionNames.get(Number(line.functionId)) ?? '??'),
    ]),
  );
  const valueType = (vt) => (vt ? `${str(vt.type)}/${str(vt.unit)}` : '');

  const samples = profile.sample.map((sample) => {
    const labels = {};
    const numLabels = {};
    for (const label of sample.label) {
      // Like Go's pprof: a non-zero str index makes a string label, else a non-zero num/unit a numeric one.
      if (Number(label.str) !== 0) labels[str(label.key)] = str(label.str);
      else if (Number(label.num) !== 0 || Number(label.numUnit) !== 0) numLabels[str(label.key)] = Number(label.num);
    }
    return {
      values: sample.value.map(Number),
      labels,
      numLabels,
      stack: sample.locationId.flatMap((id) => locationFrames.get(Number(id)) ?? ['??']),
    };
  });

  return {
    profile,
    uncompressedBytes: raw.length,
    sampleTypes: profile.sampleType.map(valueType),
    periodType: valueType(profile.periodType),
    period: Number(profile.period),
    timeNanos: BigInt(profile.timeNanos),
    durationNanos: BigInt(profile.durationNanos),
    samples,
  };
}

/** decodePprof of a file, e.g. a local store `*.cpu.pb.gz`. */
export function readPprofFile(path) {
  return decodePprof(readFileSync(path));
}

/** Sum of value `index` over samples (e.g. 1 for cpu/nanoseconds when types are [samples/count, cpu/nanoseconds]). */
export function sumValues(samples, index) {
  return samples.reduce((total, sample) => total + sample.values[index], 0);
}
