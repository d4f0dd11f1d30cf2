/**
 * Argument handling shared by the `span-profiles` subcommands: node:util parseArgs with usage errors
 * turned into exit code 2, and the time/limit values the filters accept.
 */

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { describeError } from '../logger';

/** Conventional exit codes. */
export const EXIT_OK = 0;
/** Something failed, or nothing matched. */
export const EXIT_FAILURE = 1;
/** Bad command line: unknown flag, bad value, missing argument. */
export const EXIT_USAGE = 2;

/** A bad command line; the message says what and the command prints it with a pointer to --help. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** What a subcommand parsed: flag values by name, and the positionals. */
export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** Strict parseArgs; throws {@link UsageError} on unknown flags, missing values and too many positionals. */
export function parseCommandArgs(argv: string[], options: Options, maxPositionals: number): ParsedArgs {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(describeError(error).replace(/^TypeError \[\w+\]: /, ''));
  }
  if (parsed.positionals.length > maxPositionals) {
    throw new UsageError(`unexpected argument '${parsed.positionals[maxPositionals]}'`);
  }
  return { values: parsed.values as ParsedArgs['values'], positionals: parsed.positionals };
}

const RELATIVE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A point in time from `--since`/`--until`: an ISO date/time (`2026-11-24T20:15:00Z`) or a duration
 * before now (`90s`, `10m`, `2h`, `1d`). Throws {@link UsageError} naming the flag otherwise.
 */
export function parseTimeArg(flag: string, text: string, now: number = Date.now()): number {
  const relative = RELATIVE.exec(text.trim());
  if (relative) return now - Number(relative[1]) * UNIT_MS[relative[2]!]!;
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const ms = Date.parse(text);
    if (!Number.isNaN(ms)) return ms;
  }
  throw new UsageError(`--${flag} '${text}' is neither an ISO time (2026-11-24T20:15:00Z) nor a duration ago (10m, 2h, 1d)`);
}

/** A positive whole number from `--flag`; throws {@link UsageError} otherwise. */
export function parsePositiveInt(flag: string, text: string): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1) throw new UsageError(`--${flag} '${text}' is not a positive whole number`);
  return Number(text);
}

/** Shortest id prefix accepted, so a prefix is still practically unique. */
const MIN_ID_PREFIX = 8;

/**
 * A span id (`hexDigits` 16) or trace id (32), or a prefix of it of 8 or more hex digits, lowercased.
 * Throws {@link UsageError} naming the flag otherwise.
 */
export function parseIdPrefix(flag: string, text: string, hexDigits: number): string {
  const valid = new RegExp(`^[0-9a-fA-F]{${MIN_ID_PREFIX},${hexDigits}}$`);
  if (!valid.test(text)) {
    throw new UsageError(`--${flag} '${text}' is not a ${flag} id (${hexDigits} hex digits, or the first ${MIN_ID_PREFIX} or more)`);
  }
  return text.toLowerCase();
}
