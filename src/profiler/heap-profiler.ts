/**
 * The heap profiler: V8's sampling heap profiler (through @datadog/pprof) records, for about one
 * allocation every `samplingIntervalBytes`, the stack that made it, and forgets the sample when the
 * object is collected. Every upload interval we take what is live, map its frames through source maps
 * and hand it to the destinations that take heap profiles.
 *
 * Heap samples carry no span labels: an object outlives the request that allocated it, and V8 records
 * no context with the sample.
 */
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import type { SourceMapper } from '@datadog/pprof';
import { Profile, ValueType } from 'pprof-format';
import { withDeadline } from '../deadline';
import { describeError, getLogger } from '../logger';
import type { EncodedProfile, HeapCut, ProfileExporter } from '../export/profile-exporter';
import { nextTurn } from '../slice-clock';
import { buildHeapCut, type HeapTreeNode } from './heap-cut-builder';
import type { PprofModule } from './native-profiler';
import { HEAP_PERIOD_TYPE, HEAP_TYPE_RENAMES, heapColumns } from '../profile-format';
import type { ProfileLimits } from './profile-limits';
import type { Symbolizer } from './symbolizer';

const gzip = promisify(gzipCallback);

export interface HeapProfilerOptions {
  pprof: PprofModule;
  /** Average bytes allocated between two samples (V8's sampling interval). */
  samplingIntervalBytes: number;
  /** Deepest stack recorded per sample. */
  stackDepth: number;
  uploadIntervalMs: number;
  exporters: readonly ProfileExporter[];
  symbolizer?: Symbolizer;
}

/** Counters for diagnostics and tests. */
export interface HeapProfilerStats {
  profilesExported: number;
  failures: number;
}

export class HeapProfiler {
  readonly stats: HeapProfilerStats = { profilesExported: 0, failures: 0 };
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private intervalStart = 0;
  private mapDeadline = Infinity;
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly options: HeapProfilerOptions) {}

  /** Starts V8's sampling heap profiler. Throws if it refuses (the caller reports it and runs without). */
  start(): void {
    const { pprof, samplingIntervalBytes, stackDepth, uploadIntervalMs } = this.options;
    pprof.heap.start(samplingIntervalBytes, stackDepth);
    this.running = true;
    this.intervalStart = Date.now();
    // The CPU profile is cut on the same period, right at its start: its sampler's stop and first walks come
    // due then. Taken half a period later, V8's heap profile (one native call of about a millisecond) shares no
    // loop turn with them; it is a snapshot of what is live, so when in the period it is taken changes nothing
    // it says. It also waits for its turn among the agent's sliced walks (nextTurn).
    const collectInTurn = (): void => void nextTurn().then(() => this.collect(false));
    this.timer = setTimeout(() => {
      this.timer = setInterval(collectInTurn, uploadIntervalMs);
      this.timer.unref();
      collectInTurn();
    }, uploadIntervalMs * 1.5);
    this.timer.unref();
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** Takes the live heap samples now and exports them; `final` also stops the profiler. */
  collect(final: boolean): Promise<void> {
    if (!this.running) return Promise.resolve();
    const { pprof, symbolizer } = this.options;
    const startMs = this.intervalStart;
    const endMs = Date.now();
    this.intervalStart = endMs;
    let taken: (() => Promise<Profile>) | undefined;
    try {
      if (typeof pprof.heap.v8Profile === 'function') {
        // Only V8's tree is taken now; it becomes the profile a slice at a time (heap-cut-builder.ts), as
        // pprof's heap.profile() would make it in one synchronous piece.
        const tree = pprof.heap.v8Profile() as unknown as HeapTreeNode;
        const externalBytes = process.memoryUsage().external;
        const cut = { intervalBytes: this.options.samplingIntervalBytes, externalBytes, keepColumns: symbolizer !== undefined };
        taken = () => buildHeapCut(tree, cut);
      } else {
        const raw = symbolizer
          ? pprof.heap.profile(undefined, symbolizer.columnKeeper as unknown as SourceMapper, undefined, 'emit')
          : pprof.heap.profile();
        taken = () => Promise.resolve(raw);
      }
    } catch (err) {
      this.stats.failures++;
      getLogger().warnRateLimited('heap-collect', `could not collect the heap profile: ${describeError(err)}`);
    }
    if (final) this.stop();
    if (taken === undefined) return Promise.resolve();
    const work = this.export(taken, startMs, endMs);
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
    return work;
  }

  /** Stops sampling for good (another profiler appeared, or shutdown). */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    try {
      this.options.pprof.heap.stop();
    } catch {
      // Already stopped (pprof stops itself on process exit).
    }
  }

  private async export(taken: () => Promise<Profile>, startMs: number, endMs: number): Promise<void> {
    try {
      // V8's tree was taken in the collecting turn; building the profile from it starts in a turn of its own.
      await nextTurn();
      const raw = await taken();
      await this.options.symbolizer?.symbolize(raw, this.mapDeadline);
      nameSampleTypes(raw);
      raw.timeNanos = BigInt(endMs) * 1_000_000n;
      raw.durationNanos = BigInt(Math.max(0, endMs - startMs)) * 1_000_000n;
      if (raw.sample.length === 0) return;
      const cut: HeapCut = { raw, startMs, endMs, intervalBytes: this.options.samplingIntervalBytes };
      this.stats.profilesExported++;
      for (const exporter of this.options.exporters) exporter.exportHeap?.(cut);
    } catch (err) {
      this.stats.failures++;
      getLogger().warnRateLimited('heap-build', `could not build the heap profile: ${describeError(err)}`);
    }
  }

  /** Takes the last heap profile and waits for it to be handed over, giving up at `deadline`. */
  async shutdown(deadline: number): Promise<void> {
    this.mapDeadline = Date.now() + (deadline - Date.now()) / 2;
    await this.collect(true);
    await withDeadline(Promise.all(this.pending), deadline, false);
  }
}

/**
 * Names the sample types `inuse_objects/count` and `inuse_space/bytes` (older pprof releases say
 * `objects`/`space`) and the period `space/bytes`, as Go's heap profiles and Grafana's profile types
 * do: Pyroscope files them as `memory:inuse_space:bytes:space:bytes` and
 * `memory:inuse_objects:count:space:bytes`. pprof's own period `inuse_space/bytes` would make series of
 * another name (`...:inuse_space:bytes`) that Grafana's memory views do not list.
 */
function nameSampleTypes(raw: Profile): void {
  const strings = raw.stringTable;
  raw.sampleType = raw.sampleType.map((vt) => {
    const renamed = HEAP_TYPE_RENAMES[strings.strings[Number(vt.type)] ?? ''];
    return renamed === undefined ? vt : new ValueType({ type: strings.dedup(renamed), unit: vt.unit });
  });
  raw.periodType = new ValueType({ type: strings.dedup(HEAP_PERIOD_TYPE.type), unit: strings.dedup(HEAP_PERIOD_TYPE.unit) });
}

/**
 * The gzipped pprof of a heap cut. With `limits` (Pyroscope's), a profile over them keeps its heaviest
 * samples by in-use space (the server rejects an oversized profile whole); the cut itself is not changed.
 */
export async function encodeHeapCut(cut: HeapCut, limits?: Pick<ProfileLimits, 'maxSamples' | 'maxBytes'>): Promise<EncodedProfile> {
  let profile = cut.raw;
  let encoded = profile.encode();
  if (limits !== undefined && (profile.sample.length > limits.maxSamples || encoded.length > limits.maxBytes)) {
    const spaceAt = Math.max(0, heapColumns(profile).space);
    const heaviest = [...profile.sample].sort((a, b) => Number(b.value[spaceAt] ?? 0) - Number(a.value[spaceAt] ?? 0));
    let keep = Math.min(heaviest.length, limits.maxSamples);
    for (;;) {
      // Same tables, fewer samples: unused locations cost bytes, not correctness.
      profile = new Profile({ ...cut.raw, sample: heaviest.slice(0, keep) });
      encoded = profile.encode();
      if (encoded.length <= limits.maxBytes || keep <= 1) break;
      keep = Math.floor(keep / 2);
    }
    getLogger().debug(`heap profile: kept the ${keep} heaviest of ${cut.raw.sample.length} samples to stay within Pyroscope's limits`);
  }
  const data = await gzip(encoded);
  return { kind: 'heap', data, startMs: cut.startMs, endMs: cut.endMs, sampleCount: profile.sample.length, intervalMicros: 0 };
}
