/**
 * Whether a cut holds no work of the app: only the profiler's `(idle)` and `(program)` ticks and the
 * count-0 "Non JS threads activity" sample pprof adds to every profile. An idle app would otherwise leave
 * one file per upload interval in the store, each saying nothing.
 */
import type { Profile } from 'pprof-format';
import { cpuColumns } from './sampler-gaps';

const IDLE_FRAMES = new Set(['(idle)', '(program)']);

export function isIdleProfile(raw: Profile): boolean {
  const { count: countColumn } = cpuColumns(raw);
  const strings = raw.stringTable.strings;
  const functionNames = new Map<number, string>();
  for (const fn of raw.function) functionNames.set(Number(fn.id), strings[Number(fn.name)] ?? '');
  const leafNames = new Map<number, string>();
  for (const location of raw.location) {
    const line = location.line[0];
    leafNames.set(Number(location.id), line === undefined ? '' : (functionNames.get(Number(line.functionId)) ?? ''));
  }
  for (const sample of raw.sample) {
    if (countColumn >= 0 && Number(sample.value[countColumn] ?? 0) === 0) continue;
    const leaf = sample.locationId[0];
    if (leaf === undefined || !IDLE_FRAMES.has(leafNames.get(Number(leaf)) ?? '')) return false;
  }
  return true;
}
