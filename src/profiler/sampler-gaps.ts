/**
 * CPU that no sample saw. Each sample's CPU value is the thread's CPU time since the previous sample, so
 * when the sampler skips ticks (the profile cut and restart, a starved sampler thread on a busy machine)
 * the next sample carries all of it: a 3 ms request can show 140 ms of CPU. That CPU ran, but not
 * necessarily in that function or for that span. Each tick keeps at most two sampling intervals of CPU;
 * the rest moves to one unlabelled `(CPU between samples)` frame, so totals stay true and no span is
 * credited with work it may not have done.
 */
import { Function as PprofFunction, Location, Line, Sample, type Profile } from 'pprof-format';
import { UNSAMPLED_CPU_FRAME, valueColumns } from '../profile-format';

/** Ticks' worth of CPU one sample may carry. */
const MAX_INTERVALS_PER_TICK = 2;

/** Moves CPU beyond the per-tick cap into the unsampled frame, in place. Returns the nanoseconds moved. */
export function separateUnsampledCpu(raw: Profile, intervalMicros: number): number {
  const { count: countColumn, cpu: cpuColumn } = valueColumns(raw);
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
  addUnsampledCpu(raw, moved);
  return moved;
}

/** Adds a location holding one synthetic frame named `name` (no file, no line); returns its id. */
export function addSyntheticFrame(raw: Profile, name: string): number {
  const strings = raw.stringTable;
  const nextId = (items: Array<{ id: unknown }>) => items.reduce((max, item) => Math.max(max, Number(item.id)), 0) + 1;
  const functionId = nextId(raw.function);
  raw.function.push(new PprofFunction({ id: functionId, name: strings.dedup(name), systemName: strings.dedup(name) }));
  const locationId = nextId(raw.location);
  raw.location.push(new Location({ id: locationId, line: [new Line({ functionId, line: 0 })] }));
  return locationId;
}

/** The samples holding CPU under the {@link UNSAMPLED_CPU_FRAME} frame, one per raw profile. */
const unsampledSamples = new WeakMap<Profile, Sample>();

/**
 * Adds `nanos` of CPU, in no span, under the {@link UNSAMPLED_CPU_FRAME} frame. Every caller adds to the
 * same sample, so the cut holds one such frame (a second would be the same stack under another id).
 */
export function addUnsampledCpu(raw: Profile, nanos: number): void {
  const { cpu } = valueColumns(raw);
  if (cpu < 0 || nanos <= 0) return;
  const existing = unsampledSamples.get(raw);
  if (existing !== undefined) {
    existing.value[cpu] = Number(existing.value[cpu] ?? 0) + nanos;
    return;
  }
  const locationId = addSyntheticFrame(raw, UNSAMPLED_CPU_FRAME);
  const values = raw.sampleType.map(() => 0);
  values[cpu] = nanos;
  const sample = new Sample({ locationId: [locationId], value: values, label: [] });
  raw.sample.push(sample);
  unsampledSamples.set(raw, sample);
}
