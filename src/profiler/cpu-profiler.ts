/**
 * The CPU profiler's lifecycle: start the sampler, cut a profile every upload interval, turn it into the
 * profiles we send (profile-builder.ts) and hand them to the destinations. Every call into the native
 * profiler is guarded: pprof stops itself on process exit and throws if touched afterwards.
 */
import type { LabelSet, SourceMapper } from '@datadog/pprof';
import type { Profile } from 'pprof-format';
import { withDeadline } from '../deadline';
import { describeError, getLogger } from '../logger';
import type { ProfileCut, ProfileExporter } from '../export/profile-exporter';
import { SAMPLE_TIME_LABEL, SPAN_NAME_LABEL } from '../profile-format';
import type { ContextBinding } from '../linking/context-binding';
import { stopSampler, type PprofModule } from './native-profiler';
import { nextTurn } from '../slice-clock';
import { RawCutBuilder, type SampleLabelsOf } from './raw-cut-builder';
import { PendingSpanNames } from '../linking/late-span-names';
import { separateUnsampledCpu } from './sampler-gaps';
import { AFTER_SPAN_ENDED_MARK, SpansOfCut, capSpanCpu, isAfterSpanEnd, separateSamplesAfterSpanEnd } from '../linking/span-time-bounds';
import type { Symbolizer } from './symbolizer';

export interface CpuProfilerOptions {
  pprof: PprofModule;
  binding: ContextBinding;
  samplingIntervalMicros: number;
  uploadIntervalMs: number;
  /** Also build the wall-clock profile. */
  wall: boolean;
  /** Put the root span's name in the `span_name` label. */
  addSpanName: boolean;
  exporters: readonly ProfileExporter[];
  /** Maps frames through source maps before the destinations see a cut; undefined: compiled locations. */
  symbolizer?: Symbolizer;
  /**
   * Checked at every cut: a reason to stop for good (e.g. another profiler appeared in the process), or
   * undefined to go on.
   */
  stopIf?: () => string | undefined;
  /**
   * JavaScript CPU time (ms) after which the process's first cut comes, if before the first interval's middle;
   * default {@link FIRST_CUT_BUSY_MS}, Infinity: the first cut at the interval like every other.
   */
  firstCutBusyMs?: number;
}

/** Counters for diagnostics and tests. */
export interface CpuProfilerStats {
  intervals: number;
  /** Stops of the sampler within an interval (see {@link PIECE_BUSY_SAMPLES}). */
  pieces: number;
  profilesExported: number;
  samples: number;
  stuckRecoveries: number;
  failures: number;
}

const NO_LABELS: LabelSet = {};
const AFTER_SPAN_ENDED_LABELS: LabelSet = { [AFTER_SPAN_ENDED_MARK]: 1 };

/**
 * Longest a cut profile waits for its running spans to end and get their final names. The upload is late
 * by as much, which Grafana does not mind: a profile is found by its time range, not its arrival.
 */
export const MAX_NAME_WAIT_MS = 10_000;

/**
 * The sampler is also stopped and restarted within an interval (looked at every {@link PIECE_CHECK_MS}) once
 * the JavaScript thread has run for PIECE_BUSY_SAMPLES sampling intervals since the last stop, or the
 * sampler has taken PIECE_SAMPLES samples (idle ones included): pprof's native stop copies the whole
 * profile (a node per distinct stack, an entry per sample) into JavaScript objects in one synchronous
 * piece, so the pieces keep each stop short at any upload interval and traffic. An idle app is not
 * restarted. The pieces are merged into the interval's one cut.
 */
export const PIECE_BUSY_SAMPLES = 200;
export const PIECE_SAMPLES = 2000;
export const PIECE_CHECK_MS = 250;
/**
 * The process's first cut comes once the JavaScript thread has run for this long (ms of CPU) since the sampler's
 * last stop, or at the interval, whichever is first: a small first profile instead of a full interval's.
 * Measured (bench/ab/gc-timeline.mjs, an Express app at 400 req/s): when the first cut is a full interval's
 * profile, every scavenge of the next ~10 s keeps 8-11 MB and pauses 19-34 ms instead of 6-15; after a small first
 * cut, no later cut does that (4 of 4 processes each way). pprof's own serializer does the same on a large first
 * profile; why V8 does is not known.
 */
export const FIRST_CUT_BUSY_MS = 500;
/** Longest wait for the sampler's next sample before a stop (see CpuProfiler.afterNextSample). */
const MAX_SAMPLE_WAIT_MS = 60;

/** CPU time of the JavaScript thread, microseconds (of the process where Node cannot tell the thread's). */
const threadCpuMicros: () => number =
  typeof process.threadCpuUsage === 'function'
    ? () => {
        const used = process.threadCpuUsage();
        return used.user + used.system;
      }
    : () => {
        const used = process.cpuUsage();
        return used.user + used.system;
      };

/** The interval being sampled: every stopped piece of it goes into its builder, one after another. */
interface OpenCut {
  readonly unnamed: PendingSpanNames;
  readonly spans: SpansOfCut;
  readonly builder: RawCutBuilder;
  chain: Promise<void>;
  /** Pieces pprof serialized itself (where it could not hand its tree over). */
  readonly serialized: Profile[];
}

/** Pprof's context buffer must outlast the longest gap between two cuts, or samples are dropped silently. */
export function contextBufferMillis(uploadIntervalMs: number): number {
  return Math.max(4 * uploadIntervalMs, 60_000);
}

export class CpuProfiler {
  readonly stats: CpuProfilerStats = { intervals: 0, pieces: 0, profilesExported: 0, samples: 0, stuckRecoveries: 0, failures: 0 };
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private pieceTimer: NodeJS.Timeout | undefined;
  private cut: OpenCut | undefined;
  private pieceWaiting = false;
  private cutWaiting = false;
  /** Whether the process's first cut has been asked for (see {@link FIRST_CUT_BUSY_MS}). */
  private firstCutAsked = false;
  /** The thread's CPU at the sampler's last stop (or start), microseconds. */
  private cpuAtLastStop = 0;
  private intervalStart = 0;
  private cpuAtIntervalStart: NodeJS.CpuUsage | undefined;
  private readonly pending = new Set<Promise<void>>();
  private readonly generateLabels: (arg: { context?: { context?: unknown; timestamp?: bigint } }) => LabelSet;
  /** The spans of the cut being serialized that had not ended yet (when pprof serializes). */
  private unnamed = new PendingSpanNames();
  /** The spans the cut being serialized has samples of (when pprof serializes). */
  private spansOfCut = new SpansOfCut();
  /** Set at shutdown: the last cut reads source maps until then at most. */
  private mapDeadline = Infinity;

  constructor(private readonly options: CpuProfilerOptions) {
    const { binding, addSpanName } = options;
    const intervalNanos = options.samplingIntervalMicros * 1000;
    // Runs once per sample at serialization, not on the hot path: the span's labels are cached per span,
    // and only the small object that adds the sample's time is new.
    this.generateLabels = ({ context }) => {
      if (context === undefined) return NO_LABELS;
      const labels = binding.labelsOfSample(context.context);
      // Microseconds from pprof; as a number of nanoseconds it is exact to 256 ns, far below one tick.
      const time = context.timestamp === undefined ? undefined : Number(context.timestamp) * 1000;
      if (labels === undefined) return time === undefined ? NO_LABELS : { [SAMPLE_TIME_LABEL]: time };
      // Taken after its span ended: not the span's (see span-time-bounds.ts).
      if (isAfterSpanEnd(labels, time, intervalNanos)) {
        return time === undefined ? AFTER_SPAN_ENDED_LABELS : { [AFTER_SPAN_ENDED_MARK]: 1, [SAMPLE_TIME_LABEL]: time };
      }
      this.spansOfCut.add(labels);
      if (addSpanName && !labels.hasEnded) this.unnamed.add(labels);
      const spanLabels = labels.toLabelSet(addSpanName);
      return time === undefined ? spanLabels : { ...spanLabels, [SAMPLE_TIME_LABEL]: time };
    };
  }

  /**
   * The labels of a sample, for the cut whose spans are `spans` and whose unnamed spans are `unnamed`
   * (the raw cut builder adds the sample's time). The same decisions as {@link generateLabels}.
   */
  private labelsOfCut(unnamed: PendingSpanNames, spans: SpansOfCut): SampleLabelsOf {
    const { binding, addSpanName } = this.options;
    const intervalNanos = this.options.samplingIntervalMicros * 1000;
    return (context, time) => {
      const labels = binding.labelsOfSample(context.context);
      if (labels === undefined) return NO_LABELS;
      // Taken after its span ended: not the span's (see span-time-bounds.ts).
      if (isAfterSpanEnd(labels, time, intervalNanos)) return AFTER_SPAN_ENDED_LABELS;
      spans.add(labels);
      if (addSpanName && !labels.hasEnded) unnamed.add(labels);
      return labels.toLabelSet(addSpanName);
    };
  }

  /** Starts sampling. Throws if the native profiler refuses (the caller reports it and runs without). */
  start(): void {
    const { pprof, binding } = this.options;
    this.startSampler();
    try {
      binding.install();
    } catch (err) {
      this.safely(() => pprof.time.stop(false));
      throw err;
    }
    this.running = true;
    this.timer = setInterval(() => this.cutAfterNextSample(), this.options.uploadIntervalMs);
    this.timer.unref();
    this.pieceTimer = setInterval(() => this.maybeStopPiece(), PIECE_CHECK_MS);
    this.pieceTimer.unref();
  }

  /** Cuts the interval once the sampler has taken its next sample. */
  private cutAfterNextSample(): void {
    this.firstCutAsked = true;
    // One cut at a time: a loop blocked past the next interval must not queue a second, empty one.
    if (this.cutWaiting) return;
    this.cutWaiting = true;
    this.afterNextSample(() => {
      this.cutWaiting = false;
      void this.collect(false);
    });
  }

  private openCut(): OpenCut {
    const unnamed = new PendingSpanNames();
    const spans = new SpansOfCut();
    const builder = new RawCutBuilder({
      intervalMicros: this.options.samplingIntervalMicros,
      labelsOf: this.labelsOfCut(unnamed, spans),
      timeLabel: SAMPLE_TIME_LABEL,
      keepColumns: this.options.symbolizer !== undefined,
    });
    return { unnamed, spans, builder, chain: Promise.resolve(), serialized: [] };
  }

  /**
   * Stops the sampler (restarting it with `restart`) and queues what it took into `cut`'s build. Throws
   * what pprof throws.
   */
  private stopInto(cut: OpenCut, restart: boolean): void {
    const { pprof, binding } = this.options;
    if (!pprof.time.isStarted()) return;
    // Only used when pprof serializes the piece itself.
    this.unnamed = cut.unnamed;
    this.spansOfCut = cut.spans;
    const stopped = stopSampler(pprof.time, restart, this.generateLabels, [SPAN_NAME_LABEL]);
    this.cpuAtLastStop = threadCpuMicros();
    const stoppedAtNanos = Date.now() * 1e6;
    if ('tree' in stopped) {
      const tree = stopped.tree;
      // The walk starts in a later turn: this one already holds the sampler's stop.
      cut.chain = cut.chain
        .then(nextTurn)
        .then(() => cut.builder.add(tree))
        .then(() => binding.samplesLabelledUntil(stoppedAtNanos));
    } else {
      cut.serialized.push(stopped.profile);
      binding.samplesLabelledUntil(stoppedAtNanos);
    }
  }

  /**
   * Runs `fn` once the sampler has taken its next sample (or after a few sampling intervals at most),
   * without blocking the event loop meanwhile. V8 processes its samples on its own thread, shortly after
   * taking them; a sample still queued when the sampler is restarted goes to the new profile while its
   * context stays with the old one, and both are dropped. V8 works through its queue before it takes the
   * next sample, so a stop right after one loses none of the samples before it. (pprof's workaroundV8Bug
   * waited for that signal too, but asleep, inside the stop.)
   */
  private afterNextSample(fn: () => void): void {
    const { pprof } = this.options;
    const index = pprof.time.constants.kSampleCount as number;
    const taken = (): number | undefined => {
      try {
        return (pprof.time.getState() as Uint32Array)[index];
      } catch {
        return undefined;
      }
    };
    const before = taken();
    const giveUpAt = Date.now() + Math.min(MAX_SAMPLE_WAIT_MS, (3 * this.options.samplingIntervalMicros) / 1000);
    const poll = (): void => {
      const now = taken();
      if (now === undefined || now !== before || Date.now() >= giveUpAt) fn();
      else setTimeout(poll, 1).unref();
    };
    // First right after the callbacks already due (one of them may run long: the sampler signals meanwhile),
    // then every millisecond (a timer, so an idle loop still sleeps).
    if (before === undefined) fn();
    else setImmediate(poll);
  }

  /** Stops for good when `stopIf` gives a reason: the last cut, as at shutdown. */
  private stopIfAsked(): Promise<void> | undefined {
    const reason = this.options.stopIf?.();
    if (reason === undefined) return undefined;
    getLogger().warnOnce('profiler-stop', `CPU profiling stopped: ${reason}; tracing continues`);
    return this.collect(true);
  }

  /** Stops a piece of the interval when enough has been sampled since the sampler's last stop. */
  private maybeStopPiece(): void {
    const cut = this.cut;
    if (!this.running || cut === undefined || this.pieceWaiting) return;
    // Looked at here too, so each look covers only the modules loaded in the last moment: the first one
    // (every module loaded so far) then happens at start-up, not in the first cut at full traffic.
    if (this.stopIfAsked() !== undefined) return;
    // The cut itself is due: it stops the sampler anyway.
    if (Date.now() - this.intervalStart > this.options.uploadIntervalMs - PIECE_CHECK_MS) return;
    const { pprof, binding } = this.options;
    const busyMicros = threadCpuMicros() - this.cpuAtLastStop;
    if (!this.firstCutAsked && busyMicros >= (this.options.firstCutBusyMs ?? FIRST_CUT_BUSY_MS) * 1000) {
      this.firstCutAsked = true;
      // Only where the interval's own cut is not near anyway.
      if (Date.now() - this.intervalStart < this.options.uploadIntervalMs / 2) this.cutAfterNextSample();
      return;
    }
    if (busyMicros / this.options.samplingIntervalMicros < PIECE_BUSY_SAMPLES) {
      let taken = 0;
      this.safely(() => {
        taken = (pprof.time.getState() as Uint32Array)[pprof.time.constants.kSampleCount as number] ?? 0;
      });
      if (taken < PIECE_SAMPLES) return;
    }
    this.pieceWaiting = true;
    this.afterNextSample(() => {
      this.pieceWaiting = false;
      // The cut may have been taken meanwhile: that stop was the piece.
      if (!this.running || this.cut !== cut) return;
      try {
        this.stopInto(cut, true);
        binding.afterCollect();
        this.stats.pieces++;
      } catch (err) {
        this.stats.failures++;
        getLogger().warnRateLimited('profiler-collect', `could not collect the CPU profile: ${describeError(err)}`);
      }
      this.noteStuckSampler();
    });
  }

  get isRunning(): boolean {
    return this.running;
  }

  private startSampler(): void {
    const { pprof, binding } = this.options;
    pprof.time.start({
      intervalMicros: this.options.samplingIntervalMicros,
      durationMillis: contextBufferMillis(this.options.uploadIntervalMs),
      withContexts: true,
      collectCpuTime: true,
      useCPED: binding.useCPED,
      lineNumbers: false,
      // pprof's workaround for a V8 sampler hang sleeps in every stop until the next SIGPROF, before the
      // restart and again after it: 0-20 ms of blocked event loop at each cut whatever the profile's size,
      // most of the cut's stall. Without it the stop takes under a millisecond; the wait before the
      // restart (which lets V8 process the samples it has queued) is done without blocking, by
      // afterNextSample(). pprof still detects the hang at every stop (and restarts V8's profiler then),
      // and checkEmpty() below catches the rest.
      workaroundV8Bug: false,
      // With a symbolizer, pprof keeps each frame's column (see Symbolizer.columnKeeper): bundles need it.
      ...(this.options.symbolizer
        ? { sourceMapper: this.options.symbolizer.columnKeeper as unknown as SourceMapper, columnNumbers: 'emit' as const }
        : {}),
    });
    this.intervalStart = Date.now();
    this.cpuAtIntervalStart = process.cpuUsage();
    this.cpuAtLastStop = threadCpuMicros();
    this.cut = this.openCut();
  }

  /**
   * Cuts the current interval's profile and exports it. `final`: the sampler is stopped for good (at
   * shutdown); otherwise it restarts first so no time goes unsampled.
   */
  collect(final: boolean): Promise<void> {
    if (!this.running) return Promise.resolve();
    if (!final) {
      const stopped = this.stopIfAsked();
      if (stopped !== undefined) return stopped;
    }
    const { binding } = this.options;
    const startMs = this.intervalStart;
    const endMs = Date.now();
    const cpuUsed = process.cpuUsage(this.cpuAtIntervalStart);
    const cut = this.cut ?? this.openCut();
    try {
      if (final) {
        this.running = false;
        if (this.timer) clearInterval(this.timer);
        if (this.pieceTimer) clearInterval(this.pieceTimer);
        binding.uninstall();
      }
      this.stopInto(cut, !final);
      if (!final) binding.afterCollect();
    } catch (err) {
      this.stats.failures++;
      getLogger().warnRateLimited('profiler-collect', `could not collect the CPU profile: ${describeError(err)}`);
    }
    // Samples from now on belong to the next cut.
    this.cut = final ? undefined : this.openCut();
    this.intervalStart = endMs;
    this.cpuAtIntervalStart = process.cpuUsage();
    this.stats.intervals++;
    if (!final) this.noteStuckSampler();
    const nameWaitMs = final ? 0 : MAX_NAME_WAIT_MS;
    const work = this.export(cut, startMs, endMs, nameWaitMs, final ? undefined : { cpuUsed, wallMs: endMs - startMs });
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
    return work;
  }

  /** V8's sampler can get stuck (no samples while the process burns CPU); pprof restarts it when stop() sees it. */
  private noteStuckSampler(): void {
    const { pprof } = this.options;
    let detected = 0;
    this.safely(() => {
      detected = pprof.time.v8ProfilerStuckEventLoopDetected();
    });
    if (detected > 0) {
      this.stats.stuckRecoveries++;
      getLogger().debug(`V8's CPU profiler was stuck (level ${detected}); pprof restarted it`);
    }
  }

  /** The case pprof cannot see: a busy interval with no samples gets a full restart. */
  private checkEmpty(raws: readonly Profile[], cpuUsed: NodeJS.CpuUsage, wallMs: number): void {
    const { pprof } = this.options;
    const cpuMs = (cpuUsed.user + cpuUsed.system) / 1000;
    const expectedSamples = (cpuMs * 1000) / this.options.samplingIntervalMicros;
    const busyButEmpty = raws.length > 0 && raws.every((raw) => raw.sample.length === 0) && expectedSamples >= 50 && wallMs > 0;
    if (busyButEmpty && this.running) {
      // (Restarting drops the pieces of the interval under way: a stuck sampler's, empty too.)
      this.stats.stuckRecoveries++;
      getLogger().warnRateLimited(
        'profiler-stuck',
        `the CPU profiler took no samples in ${Math.round(wallMs / 1000)} s while the process used ${Math.round(cpuMs)} ms of CPU; restarting it`,
      );
      this.safely(() => pprof.time.stop(false));
      try {
        this.startSampler();
        this.options.binding.resync();
      } catch (err) {
        this.running = false;
        if (this.timer) clearInterval(this.timer);
        if (this.pieceTimer) clearInterval(this.pieceTimer);
        getLogger().warn(`the CPU profiler could not be restarted and is off: ${describeError(err)}`);
      }
    }
  }

  private async export(
    cut: OpenCut,
    startMs: number,
    endMs: number,
    nameWaitMs: number,
    usage: { cpuUsed: NodeJS.CpuUsage; wallMs: number } | undefined,
  ): Promise<void> {
    try {
      // The cut is several synchronous stages; each starts in a turn of its own so requests waiting
      // behind the sampler's stop are served between them instead of after all of them.
      await nextTurn();
      await cut.chain;
      const raws = cut.builder.pieceCount > 0 ? [cut.builder.finish(), ...cut.serialized] : cut.serialized;
      if (usage !== undefined) this.checkEmpty(raws, usage.cpuUsed, usage.wallMs);
      for (const raw of raws) await this.exportRaw(raw, cut, startMs, endMs, nameWaitMs);
    } catch (err) {
      this.stats.failures++;
      getLogger().warnRateLimited('profiler-build', `could not build the CPU profile: ${describeError(err)}`);
    }
  }

  /** The rest of the cut's pipeline, then every destination; each synchronous stage in a turn of its own. */
  private async exportRaw(raw: Profile, open: OpenCut, startMs: number, endMs: number, nameWaitMs: number): Promise<void> {
    const { unnamed, spans } = open;
    if (unnamed.size > 0) {
      await unnamed.settle(nameWaitMs, () => !this.running);
      unnamed.applyTo(raw);
    }
    await this.options.symbolizer?.symbolize(raw, this.mapDeadline);
    // Each pass over the samples in a turn of its own.
    await nextTurn();
    separateSamplesAfterSpanEnd(raw);
    await nextTurn();
    separateUnsampledCpu(raw, this.options.samplingIntervalMicros);
    await nextTurn();
    // After the wait: spans that ended meanwhile are capped at their real duration.
    capSpanCpu(raw, spans, startMs, endMs);
    // An empty interval (an idle app, `node -e 0`) is not worth a file or a request.
    if (raw.sample.length === 0) return;
    const cut: ProfileCut = { raw, startMs, endMs, intervalMicros: this.options.samplingIntervalMicros, wall: this.options.wall };
    this.stats.samples += raw.sample.length;
    this.stats.profilesExported++;
    for (const exporter of this.options.exporters) {
      // Each destination builds and encodes its own profile: one per turn.
      await nextTurn();
      exporter.export(cut);
    }
  }

  /** Cuts the last profile and delivers everything pending, giving up at `deadline`. */
  async shutdown(deadline: number): Promise<void> {
    // Reading maps for the last cut gets half the time left; the rest is for delivering it.
    this.mapDeadline = Date.now() + (deadline - Date.now()) / 2;
    await this.collect(true);
    await withDeadline(Promise.all(this.pending), deadline, false);
    await Promise.all(this.options.exporters.map((e) => e.shutdown(deadline).catch(() => undefined)));
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch {
      // The profiler is already stopped: nothing to do.
    }
  }
}
