/**
 * Whether a cut holds no work of the app: only the profiler's `(idle)` and `(program)` ticks, garbage
 * collection, the agent's own work (cutting and writing the previous profile, including the continuations of
 * its file writes, which run in Node's internals with no agent frame and no span), and the count-0 "Non JS
 * threads activity" sample pprof adds to every profile. An idle app would otherwise leave one file per
 * upload interval in the store, each saying nothing.
 */
import type { Profile } from 'pprof-format';
import { isAgentFile } from '../package-layout';
import { valueColumns } from '../profile-format';

const IDLE_LEAVES = new Set(['(idle)', '(program)', '(garbage collector)', 'Garbage Collection']);

export function isIdleProfile(raw: Profile): boolean {
  const { count: countColumn } = valueColumns(raw);
  const strings = raw.stringTable.strings;
  const functions = new Map<number, { name: string; agent: boolean; internal: boolean }>();
  for (const fn of raw.function) {
    const file = strings[Number(fn.filename)] ?? '';
    functions.set(Number(fn.id), {
      name: strings[Number(fn.name)] ?? '',
      // The agent's compiled code is its own work; the OpenTelemetry code vendored beside it is not (it
      // runs in every request: counting it as the agent's would make request cuts look idle).
      agent: isAgentFile(file),
      internal: file === '' || file.startsWith('node:'),
    });
  }
  const locations = new Map<number, { name: string; agent: boolean; internal: boolean }>();
  for (const location of raw.location) {
    const line = location.line[0];
    locations.set(Number(location.id), (line && functions.get(Number(line.functionId))) || { name: '', agent: false, internal: true });
  }
  for (const sample of raw.sample) {
    if (countColumn >= 0 && Number(sample.value[countColumn] ?? 0) === 0) continue;
    const frames = Array.from(sample.locationId, (id) => locations.get(Number(id)));
    if (IDLE_LEAVES.has(frames[0]?.name ?? '')) continue;
    if (frames.some((frame) => frame?.agent === true)) continue;
    // Only Node's own code and no span: a continuation of the agent's I/O, never the app's code.
    if (frames.every((frame) => frame?.internal !== false) && !hasStringLabel(sample)) continue;
    return false;
  }
  return true;
}

/** Whether a sample carries a string label (a span's labels); the sample-time label is numeric. */
function hasStringLabel(sample: Profile['sample'][number]): boolean {
  return sample.label.some((label) => Number(label.str) !== 0);
}
