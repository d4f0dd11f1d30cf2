/**
 * Routes OpenTelemetry's own diagnostics (exporter failures, bad sampler values...) through the agent's
 * logger: same prefix, same level, repeated errors rate-limited, secrets removed. Without this, the SDK
 * is silent unless OTEL_LOG_LEVEL is set.
 */
import { diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';
import type { LogLevel } from '../logger';
import { getLogger } from '../logger';
import { redactSecrets } from '../redact';

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
  const parts = [message];
  for (const arg of args) {
    if (arg instanceof Error) parts.push(arg.message);
    else if (typeof arg === 'object' && arg !== null) {
      const text = (arg as { message?: unknown }).message;
      parts.push(typeof text === 'string' ? text : safeJson(arg));
    } else parts.push(String(arg));
  }
  return redactSecrets(parts.join(' '), secrets);
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
      const text = format(message, args, secrets);
      logger.warnRateLimited(`otel:${message.slice(0, 60)}`, `OpenTelemetry: ${text}`);
    },
    warn: (message, ...args) => {
      const text = format(message, args, secrets);
      logger.warnRateLimited(`otel:${message.slice(0, 60)}`, `OpenTelemetry: ${text}`);
    },
    info: (message, ...args) => logger.info(`OpenTelemetry: ${format(message, args, secrets)}`),
    debug: (message, ...args) => logger.debug(`OpenTelemetry: ${format(message, args, secrets)}`),
    verbose: (message, ...args) => logger.verbose(`OpenTelemetry: ${format(message, args, secrets)}`),
  };
  diag.setLogger(adapter, { logLevel: LEVELS[level], suppressOverrideMessage: true });
}
