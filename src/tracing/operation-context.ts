/**
 * The OpenTelemetry context a driver operation (a pg Query, an ioredis Command, a mysql sequence) was
 * issued in, kept until the operation's reply is handled (instrumentation-connection-context.ts).
 *
 * Kept on the operation itself, under a symbol, and not in a WeakMap: an operation is short-lived (a few
 * milliseconds), and V8's young-generation collector promotes a WeakMap's value to the old generation
 * when the value's key dies after surviving one collection, where it stays until the next full one. Every
 * query in flight at a collection then pushed its request's context (spans, attributes) into the old
 * generation: on the pg benchmark, twice the bytes surviving each young collection, a young generation
 * grown to its maximum (about 50 MB of RSS) and twice the full collections. A property dies with its
 * operation.
 */
import type { Context } from '@opentelemetry/api';

const ISSUED_IN: unique symbol = Symbol('span-profiles.issued-in');

interface Tagged {
  [ISSUED_IN]?: Context;
}

/** For an operation that cannot take a property (frozen, sealed or made non-extensible). */
const ofSealedOperations = new WeakMap<object, Context>();

/**
 * Remembers `context` as the one `operation` was issued in. The first call wins: ioredis re-sends queued
 * commands from its connect handler, in the wrong context. Not an object: nothing to remember.
 */
export function rememberIssuedContext(operation: unknown, context: Context): void {
  if (typeof operation !== 'object' || operation === null || issuedContextOf(operation) !== undefined) return;
  if (Object.isExtensible(operation)) (operation as Tagged)[ISSUED_IN] = context;
  else ofSealedOperations.set(operation, context);
}

/** The context `operation` was issued in, if it was remembered. */
export function issuedContextOf(operation: unknown): Context | undefined {
  if (typeof operation !== 'object' || operation === null) return undefined;
  return (operation as Tagged)[ISSUED_IN] ?? ofSealedOperations.get(operation);
}
