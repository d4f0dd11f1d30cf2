/**
 * Routes OpenTelemetry's own diagnostics (exporter failures, bad sampler values...) through the agent's
 * logger: same prefix, same level, repeated errors rate-limited, secrets removed. Without this, the SDK
 * is silent unless OTEL_LOG_LEVEL is set.
 */
import { diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';
import { setGlobalErrorHandler } from '@opentelemetry/core';
import type { LogLevel } from '../logger';
import { getLogger } from '../logger';
import { redactSecrets } from '../redact';
import { wasReported } from '../reported-errors';

/** Longest diagnostic the agent prints: exporter errors can carry whole response bodies. */
const MAX_MESSAGE = 300;

/** Messages that differ only in numbers ("Dropped 207 spans") share one rate limit. */
function repeatKey(message: string): string {
  return `otel:${message.replace(/\d+/g, '#').slice(0, 80)}`;
}

function cut(text: string): string {
  return text.length > MAX_MESSAGE ? text.slice(0, MAX_MESSAGE - 3) + '...' : text;
}

const LEVELS: Record<LogLevel, DiagLogLevel> = {
  none: DiagLogLevel.NONE,
  error: DiagLogLevel.ERROR,
  warn: DiagLogLevel.WARN,
  info: DiagLogLevel.INFO,
  debug: DiagLogLevel.DEBUG,
  verbose: DiagLogLevel.VERBOSE,
  all: DiagLogLevel.ALL,
};

function format(message: string, args: unknown[], secrets: readonly (string | undefined)[]): string {
  const parts = [firstLine(message)];
  for (const arg of args) {
    if (arg instanceof Error) parts.push(firstLine(arg.message));
    else if (typeof arg === 'object' && arg !== null) {
      const text = (arg as { message?: unknown }).message;
      parts.push(typeof text === 'string' ? firstLine(text) : safeJson(arg));
    } else parts.push(firstLine(String(arg)));
  }
  return cut(redactSecrets(parts.join(' '), secrets));
}

/** The message without a stack or a dumped body: one line per diagnostic. */
function firstLine(text: string): string {
  // OpenTelemetry's default error handler JSON-encodes errors with their stacks.
  if (text.startsWith('{') && text.includes('"message"')) {
    try {
      const parsed = JSON.parse(text) as { message?: unknown };
      if (typeof parsed.message === 'string') return firstLine(parsed.message);
    } catch {
      // Not JSON after all.
    }
  }
  const newline = text.indexOf('\n');
  return newline >= 0 ? text.slice(0, newline) : text;
}

function safeJson(value: unknown): string {
  try {
    const text = JSON.stringify(value);
    return text.length > 300 ? text.slice(0, 297) + '...' : text;
  } catch {
    return String(value);
  }
}

/** Installs the adapter; call after NodeSDK's constructor (which installs its own console logger). */
export function installDiagnostics(level: LogLevel, secrets: readonly (string | undefined)[]): void {
  const logger = getLogger();
  const adapter: DiagLogger = {
    error: (message, ...args) => {
      logger.warnRateLimited(repeatKey(message), `OpenTelemetry: ${format(message, args, secrets)}`);
    },
    warn: (message, ...args) => {
      logger.warnRateLimited(repeatKey(message), `OpenTelemetry: ${format(message, args, secrets)}`);
    },
    info: (message, ...args) => logger.info(`OpenTelemetry: ${format(message, args, secrets)}`),
    debug: (message, ...args) => logger.debug(`OpenTelemetry: ${format(message, args, secrets)}`),
    verbose: (message, ...args) => logger.verbose(`OpenTelemetry: ${format(message, args, secrets)}`),
  };
  diag.setLogger(adapter, { logLevel: LEVELS[level], suppressOverrideMessage: true });
  // Export failures reach the global error handler: one line, no stack, nothing said twice.
  setGlobalErrorHandler((error) => {
    if (wasReported(error) || level === 'none') return;
    const message = error instanceof Error ? error.message : typeof error === 'string' ? error : safeJson(error);
    logger.warnRateLimited(repeatKey(firstLine(message)), `OpenTelemetry: ${format(message, [], secrets)}`);
  });
}
