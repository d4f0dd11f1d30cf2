/**
 * CPU that no sample saw. Each sample's CPU value is the thread's CPU time since the previous sample, so
 * when the sampler skips ticks (the profile cut and restart, a starved sampler thread on a busy machine)
 * the next sample carries all of it: a 3 ms request can show 140 ms of CPU. That CPU ran, but not
 * necessarily in that function or for that span. Each tick keeps at most two sampling intervals of CPU;
 * the rest moves to one unlabelled `(CPU between samples)` frame, so totals stay true and no span is
 * credited with work it may not have done.
 */
import { Function as PprofFunction, Location, Line, Sample, type Profile } from 'pprof-format';

/** The frame that holds CPU no sample can vouch for. */
export const UNSAMPLED_CPU_FRAME = '(CPU between samples)';

/** Ticks' worth of CPU one sample may carry. */
const MAX_INTERVALS_PER_TICK = 2;

/** Moves CPU beyond the per-tick cap into the unsampled frame, in place. Returns the nanoseconds moved. */
export function separateUnsampledCpu(raw: Profile, intervalMicros: number): number {
  const strings = raw.stringTable;
  let countColumn = -1;
  let cpuColumn = -1;
  raw.sampleType.forEach((valueType, index) => {
    const type = strings.strings[Number(valueType.type)];
    if (type === 'cpu' && cpuColumn < 0) cpuColumn = index;
    else if ((type === 'sample' || type === 'samples') && countColumn < 0) countColumn = index;
  });
  if (cpuColumn < 0 || countColumn < 0) return 0;

  const capPerTick = MAX_INTERVALS_PER_TICK * intervalMicros * 1000;
  let moved = 0;
  for (const sample of raw.sample) {
    const count = Number(sample.value[countColumn] ?? 0);
    // Count 0 with CPU: the profiler's own "Non JS threads activity", legitimately large.
    if (count <= 0) continue;
    const cpu = Number(sample.value[cpuColumn] ?? 0);
    const cap = count * capPerTick;
    if (cpu > cap) {
      sample.value[cpuColumn] = cap;
      moved += cpu - cap;
    }
  }
  if (moved === 0) return 0;

  const nextId = (items: Array<{ id: unknown }>) => items.reduce((max, item) => Math.max(max, Number(item.id)), 0) + 1;
  const functionId = nextId(raw.function);
  raw.function.push(new PprofFunction({ id: functionId, name: strings.dedup(UNSAMPLED_CPU_FRAME), systemName: strings.dedup(UNSAMPLED_CPU_FRAME) }));
  const locationId = nextId(raw.location);
  raw.location.push(new Location({ id: locationId, line: [new Line({ functionId, line: 0 })] }));
  const values = raw.sampleType.map(() => 0);
  values[cpuColumn] = moved;
  raw.sample.push(new Sample({ locationId: [locationId], value: values, label: [] }));
  return moved;
}
