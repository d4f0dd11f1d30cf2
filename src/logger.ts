/**
 * The agent's own diagnostics: one prefixed line per message on stderr, never stdout (stdout belongs to
 * the app). The level comes from OTEL_LOG_LEVEL; warnings that can repeat (a backend that stays down)
 * are rate-limited so a fault never floods the app's logs.
 */

export type LogLevel = 'none' | 'error' | 'warn' | 'info' | 'debug' | 'verbose' | 'all';

export const LOG_LEVELS: readonly LogLevel[] = ['none', 'error', 'warn', 'info', 'debug', 'verbose', 'all'];

const SEVERITY: Record<LogLevel, number> = {
  none: 0,
  error: 1,
  warn: 2,
  info: 3,
  debug: 4,
  verbose: 5,
  all: 6,
};

const PREFIX = '[span-profiles]';

/** How often a rate-limited message with the same key may be printed. */
export const REPEAT_INTERVAL_MS = 60_000;

interface Repeat {
  lastPrintedAt: number;
  suppressed: number;
}

/** Where lines go; tests replace it to capture output. */
export type LogSink = (line: string) => void;

const stderrSink: LogSink = (line) => {
  try {
    process.stderr.write(line + '\n');
  } catch {
    // stderr closed: nothing sensible left to do, and the app must not notice.
  }
};

/** The agent's logger. One instance per process, created by {@link getLogger}. */
export class Logger {
  private severity = SEVERITY.warn;
  private readonly once = new Set<string>();
  private readonly repeats = new Map<string, Repeat>();

  constructor(private sink: LogSink = stderrSink) {}

  setLevel(level: LogLevel): void {
    this.severity = SEVERITY[level];
  }

  setSink(sink: LogSink): void {
    this.sink = sink;
  }

  enabled(level: Exclude<LogLevel, 'none' | 'all'>): boolean {
    return this.severity >= SEVERITY[level];
  }

  error(message: string): void {
    this.write('error', message);
  }

  warn(message: string): void {
    this.write('warn', message);
  }

  info(message: string): void {
    this.write('info', message);
  }

  debug(message: string): void {
    this.write('debug', message);
  }

  verbose(message: string): void {
    this.write('verbose', message);
  }

  /** Prints a warning the first time `key` is seen, never again in this process. */
  warnOnce(key: string, message: string): void {
    if (this.once.has(key)) return;
    this.once.add(key);
    this.warn(message);
  }

  /**
   * Prints a warning at most once per {@link REPEAT_INTERVAL_MS} for `key`; the next printed line says
   * how many were held back, so nothing is hidden, only folded.
   */
  warnRateLimited(key: string, message: string, now = Date.now()): void {
    const repeat = this.repeats.get(key);
    if (repeat && now - repeat.lastPrintedAt < REPEAT_INTERVAL_MS) {
      repeat.suppressed++;
      return;
    }
    const held = repeat?.suppressed ?? 0;
    this.repeats.set(key, { lastPrintedAt: now, suppressed: 0 });
    this.warn(held > 0 ? `${message} (${held} similar warning${held === 1 ? '' : 's'} held back)` : message);
  }

  private write(level: Exclude<LogLevel, 'none' | 'all'>, message: string): void {
    if (this.severity < SEVERITY[level]) return;
    this.sink(`${PREFIX} ${level}: ${message}`);
  }
}

/** An error's message for a diagnostic line (anything thrown, not only Errors). */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

let instance: Logger | undefined;

/** The process-wide logger. */
export function getLogger(): Logger {
  instance ??= new Logger();
  return instance;
}
