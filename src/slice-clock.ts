/**
 * Long synchronous work (a profile cut's walk, an export request's encoding) done a slice at a time, with a
 * turn of the event loop between slices, so that none of it is a long stall of the app.
 */

// Walks waiting for a turn, first come first served. The agent's walks run at once at a cut (the CPU and
// heap profiles' builders, encoders, span batches): each yielding to its own setImmediate would run all
// their slices in one loop turn, one after the other, which is one long stall again. One slice per turn.
const waiting: Array<() => void> = [];
let releaseScheduled = false;

function releaseOne(): void {
  releaseScheduled = false;
  const next = waiting.shift();
  // Scheduled before the released walk runs: set during this check phase, it fires in the next turn.
  if (waiting.length > 0) scheduleRelease();
  next?.();
}

function scheduleRelease(): void {
  releaseScheduled = true;
  setImmediate(releaseOne);
}

/**
 * Resolves in a later turn of the event loop, after its pending I/O callbacks; of all the agent's work
 * waiting for a turn, one resumes per turn, in the order it asked.
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    if (!releaseScheduled) scheduleRelease();
  });
}

/**
 * Cuts a synchronous walk into slices of at most about `sliceMs`: call {@link tick} with the work just done
 * (nodes, samples); it yields to the event loop when the slice has run its time.
 */
export class SliceClock {
  /** The longest slice so far, ms (for benchmarks). */
  longestMs = 0;
  private start = performance.now();
  private work = 0;

  /** @param workPerLook work between two looks at the clock */
  constructor(
    private readonly sliceMs: number,
    private readonly workPerLook = 16,
  ) {}

  /** Starts a slice (at the beginning of a walk). */
  begin(): void {
    this.start = performance.now();
    this.work = 0;
  }

  /** Undefined while the slice has time left; otherwise a promise of the next turn (await it). */
  tick(work: number): Promise<void> | undefined {
    this.work += work;
    if (this.work < this.workPerLook) return undefined;
    this.work = 0;
    const ran = performance.now() - this.start;
    if (ran < this.sliceMs) return undefined;
    if (ran > this.longestMs) this.longestMs = ran;
    return nextTurn().then(() => {
      this.start = performance.now();
    });
  }

  /** Ends the walk's last slice. */
  end(): void {
    const ran = performance.now() - this.start;
    if (ran > this.longestMs) this.longestMs = ran;
  }
}
