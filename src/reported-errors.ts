/**
 * Errors the agent has already reported in its own words. OpenTelemetry's span processors hand a failed
 * export's error to the global error handler too; marking it avoids saying the same thing twice.
 */

const REPORTED = Symbol.for('acme.span-profiles.reported');

/** Marks an error object as reported. Non-objects are ignored. */
export function markReported(error: unknown): void {
  if (error !== null && typeof error === 'object') {
    try {
      Object.defineProperty(error, REPORTED, { value: true });
    } catch {
      // Frozen error: it may be reported twice, nothing worse.
    }
  }
}

export function wasReported(error: unknown): boolean {
  return error !== null && typeof error === 'object' && (error as Record<symbol, unknown>)[REPORTED] === true;
}
