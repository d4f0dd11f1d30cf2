// The heap cut we build from V8's allocation tree, a slice at a time, holds what @datadog/pprof's heap.profile()
// makes of the same tree: same stacks, values, period. The tree comes from the real heap sampler.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { loadNativeProfiler } = require('../dist/profiler/native-profiler.js');
const { buildHeapCut } = require('../dist/profiler/heap-cut-builder.js');

const load = loadNativeProfiler();
const INTERVAL_BYTES = 1024;

/** Each sample as text (frames, values), sorted: comparable across string tables and ids. */
function canonical(profile) {
  const strings = profile.stringTable.strings;
  const functions = new Map(profile.function.map((f) => [Number(f.id), f]));
  const locations = new Map(profile.location.map((l) => [Number(l.id), l]));
  const frame = (id) => {
    const line = locations.get(Number(id)).line[0];
    const fn = functions.get(Number(line.functionId));
    return `${strings[Number(fn.name)]}@${strings[Number(fn.filename)]}:${Number(line.line ?? 0)}:${Number(line.column ?? 0)}`;
  };
  return profile.sample.map((s) => `${Array.from(s.locationId, frame).join(';')} | ${s.label.length} | ${s.value.map(Number).join(',')}`).sort();
}

function header(profile) {
  const strings = profile.stringTable.strings;
  return {
    sampleType: profile.sampleType.map((t) => `${strings[Number(t.type)]}/${strings[Number(t.unit)]}`),
    periodType: `${strings[Number(profile.periodType.type)]}/${strings[Number(profile.periodType.unit)]}`,
    period: Number(profile.period),
  };
}

const kept = [];
function allocateSome() {
  const makeRecords = (n) => Array.from({ length: n }, (_, i) => ({ id: i, name: `record ${i}`, tags: [i, i * 2] }));
  const makeBuffers = (n) => Array.from({ length: n }, () => new Array(64).fill(0));
  kept.push(makeRecords(20000), makeBuffers(2000), (() => makeRecords(8000))());
}

for (const [title, keepColumns, columnNumbers, mapper] of [
  ['compiled locations, columns dropped', false, 'drop', undefined],
  ['columns kept for the symbolizer', true, 'emit', { mappingInfo: (location) => ({ ...location, missingMapFile: true }) }],
]) {
  test(`the heap cut built from V8's tree equals pprof's heap profile of it (${title})`, { skip: !load.ok && load.reason }, async () => {
    const { heap } = load.pprof;
    heap.start(INTERVAL_BYTES, 64);
    try {
      allocateSome();
      const tree = heap.v8Profile();
      // pprof's own conversion of the same tree; it adds the external memory it reads then, which we take over.
      const theirs = heap.convertProfile(tree, undefined, mapper, undefined, columnNumbers);
      const strings = theirs.stringTable.strings;
      const externalFn = theirs.function.find((f) => strings[Number(f.name)] === '(external)');
      const externalLoc = theirs.location.find((l) => Number(l.line[0].functionId) === Number(externalFn?.id));
      const externalBytes = Number(theirs.sample.find((s) => Number(s.locationId[0]) === Number(externalLoc?.id))?.value[1] ?? 0);
      const ours = await buildHeapCut(tree, { intervalBytes: INTERVAL_BYTES, externalBytes, keepColumns, sliceMs: 0.05 });
      assert.ok(theirs.sample.length > 5, `enough samples to compare (${theirs.sample.length})`);
      assert.ok(externalBytes > 0, 'the external memory frame is compared too');
      assert.deepEqual(header(ours), header(theirs));
      assert.deepEqual(canonical(ours), canonical(theirs));
    } finally {
      heap.stop();
    }
  });
}
