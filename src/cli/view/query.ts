/**
 * Validation of what the browser sends. Nothing from a request ever becomes part of a file path: ids
 * must be hex of the exact length, names and services are only compared with stored values.
 */

/** A request the API refuses; `status` is the HTTP status to answer with. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const SPAN_ID = /^[0-9a-fA-F]{16}$/;
const MAX_TEXT = 500;

/** A span id (16 hex digits), lowercased; `what` names the parameter in the error. */
export function spanIdParam(value: string | null | undefined, what: string): string {
  if (value == null || !SPAN_ID.test(value)) throw new ApiError(400, `${what} must be a span id (16 hex digits)`);
  return value.toLowerCase();
}

/** An optional free-text parameter (service, span name); empty means absent. */
export function textParam(params: URLSearchParams, name: string): string | undefined {
  const value = params.get(name);
  if (value === null || value === '') return undefined;
  if (value.length > MAX_TEXT) throw new ApiError(400, `${name} is longer than ${MAX_TEXT} characters`);
  return value;
}

/** An optional time, Unix milliseconds. */
export function timeParam(params: URLSearchParams, name: string): number | undefined {
  const value = params.get(name);
  if (value === null || value === '') return undefined;
  if (!/^\d{1,15}$/.test(value)) throw new ApiError(400, `${name} must be a time in Unix milliseconds, got ${JSON.stringify(value.slice(0, 40))}`);
  return Number(value);
}

/** An optional whole number in [1, max], else `fallback`. */
export function limitParam(params: URLSearchParams, name: string, fallback: number, max: number): number {
  const value = params.get(name);
  if (value === null || value === '') return fallback;
  if (!/^\d{1,6}$/.test(value) || Number(value) < 1) throw new ApiError(400, `${name} must be a positive whole number`);
  return Math.min(Number(value), max);
}

/** One of `choices`, else `fallback` when absent. */
export function choiceParam<T extends string>(params: URLSearchParams, name: string, choices: readonly T[], fallback: T): T {
  const value = params.get(name);
  if (value === null || value === '') return fallback;
  if (!(choices as readonly string[]).includes(value)) throw new ApiError(400, `${name} must be one of ${choices.join(', ')}`);
  return value as T;
}
