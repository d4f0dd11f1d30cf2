/**
 * Long synchronous work (a profile cut's walk, an export request's encoding) done a slice at a time, with a
 * turn of the event loop between slices, so that none of it is a long stall of the app.
 */

/** Resolves after the event loop has run its pending I/O callbacks once. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
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
    private readonly workPerLook = 64,
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
