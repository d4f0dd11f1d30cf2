/**
 * Where a raw @datadog/pprof time profile keeps each value of a sample: the tick count (`sample/count`,
 * `samples` in older versions), wall time and CPU time. Every reader of the raw cut looks them up here.
 */
import type { Profile } from 'pprof-format';

/** Index of each value in a raw sample's `value` array; -1 when the profile lacks it. */
export interface ValueColumns {
  readonly count: number;
  readonly wall: number;
  readonly cpu: number;
}

export function valueColumns(raw: Profile): ValueColumns {
  const strings = raw.stringTable.strings;
  let count = -1;
  let wall = -1;
  let cpu = -1;
  raw.sampleType.forEach((valueType, index) => {
    const type = strings[Number(valueType.type)];
    if ((type === 'sample' || type === 'samples') && count < 0) count = index;
    else if (type === 'wall' && wall < 0) wall = index;
    else if (type === 'cpu' && cpu < 0) cpu = index;
  });
  return { count, wall, cpu };
}
