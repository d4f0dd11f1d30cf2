/**
 * Pooled connections: the CPU spent handling a database reply is charged to the request whose query it
 * answers.
 *
 * Why this is needed: a socket's `data` callbacks run in the async context of whoever created the socket.
 * A pooled connection is opened during one request and then serves hundreds of others, so without help
 * every reply's parsing (pg's `parseDataRowMessage`, `utf8Slice`, ioredis' decoder) runs, and is sampled,
 * in the context of the request that happened to open the connection, long after that request ended.
 *
 * What it does: each driver already knows which operation a reply belongs to (pg's active query, the
 * head of ioredis' command queue). We remember the OpenTelemetry context each operation was issued in,
 * and run the socket's `data` listener (and ioredis' per-reply dispatch) in the context of the operation
 * at the head of the queue. Entering the context goes through the context manager, so the profiler's
 * sample context follows (context-binding.ts). Replies that answer no known operation (connection set-up,
 * LISTEN notifications, pub/sub) keep the socket's context; the profiler's "after its span ended" guard
 * keeps those from being charged to a finished request.
 *
 * Covered: `pg` 8 (including pg-pool, which uses pg's Client), `mysql2` 3, `ioredis` 5-6, node-redis
 * (`redis` 5-6, `@redis/client` 5-6), `mysql` 2 (the v1 driver).
 *
 * AMQP (`amqplib` 0.10-2) is different: most of what arrives on its connection answers no request. A
 * delivery to a consumer is new work, whose span (`<queue> process`) amqplib's instrumentation starts when
 * it hands the message to the consumer callback; the frames before that (read, reassembled) belong to no
 * request, so the connection's frame loop runs in the root context instead of the opener's. Channel
 * operations a request waits for (RPC replies such as `assertQueue`, publisher confirms) run in the
 * context of the request that issued them.
 *
 * Other drivers rely on the guard alone (see the README).
 */
import { context, ROOT_CONTEXT, type Context } from '@opentelemetry/api';
import {
  InstrumentationBase,
  InstrumentationNodeModuleDefinition,
  InstrumentationNodeModuleFile,
  isWrapped,
  type InstrumentationConfig,
} from '@opentelemetry/instrumentation';
import { AGENT_VERSION } from '../version';
import { CONNECTION_CONTEXT_INSTRUMENTATION } from './instrumentation-catalog';
import { issuedContextOf, rememberIssuedContext } from './operation-context';

/** The short name doctor and the startup summary show. */
export { CONNECTION_CONTEXT_INSTRUMENTATION } from './instrumentation-catalog';

type Listener = (this: unknown, ...args: unknown[]) => unknown;

interface Emitter {
  rawListeners(event: string): Function[];
  removeListener(event: string, listener: Function): unknown;
  on(event: string, listener: Function): unknown;
}

/** Remembers the active context as the one `operation` (pg Query, ioredis Command) was issued in. */
function remember(operation: unknown): void {
  rememberIssuedContext(operation, context.active());
}

/** `listener` run in the context of the operation `current()` names, if it names one. */
function inContextOf(listener: Listener, current: () => unknown): Listener {
  return function (this: unknown, ...args: unknown[]): unknown {
    const ctx = issuedContextOf(current());
    if (ctx === undefined) return listener.apply(this, args);
    return context.with(ctx, listener, this, ...args);
  };
}

/**
 * Calls `attach` and rebinds the persistent `data` listeners it added to `stream` so they run in the
 * context of `current()`'s operation.
 */
function bindNewDataListeners<R>(stream: Emitter | undefined, attach: () => R, current: () => unknown): R {
  if (stream === undefined || typeof stream.rawListeners !== 'function') return attach();
  const before = new Set(stream.rawListeners('data'));
  const result = attach();
  rebindDataListeners(stream, current, before);
  return result;
}

/** Rebinds the persistent `data` listeners of `stream` not in `except` to the context of `current()`'s operation. */
function rebindDataListeners(stream: Emitter, current: () => unknown, except: ReadonlySet<Function> = new Set()): void {
  for (const listener of stream.rawListeners('data')) {
    // `once` wrappers carry `.listener`; those are one-shot handshake steps, left alone.
    if (except.has(listener) || (listener as { listener?: unknown }).listener !== undefined) continue;
    stream.removeListener('data', listener);
    stream.on('data', inContextOf(listener as Listener, current));
  }
}

interface PgClient {
  _queryQueue?: unknown[];
  _activeQuery?: unknown;
  _getActiveQuery?: () => unknown;
}

interface IoRedisHandler {
  redis?: { commandQueue?: { peekFront(): { command?: unknown } | undefined } };
  onData?: Listener;
}

/**
 * Remembers the context of every query pushed on a pg client's queue. `Client.query` pushes synchronously
 * in its caller's context; the queue is patched, not `query`, because pg's own instrumentation unwraps
 * whatever wrapped `query` before it.
 */
function rememberQueued(queue: unknown[] | undefined): void {
  if (!Array.isArray(queue) || Object.prototype.hasOwnProperty.call(queue, 'push')) return;
  Object.defineProperty(queue, 'push', {
    configurable: true,
    writable: true,
    value: function push(this: unknown[], ...items: unknown[]): number {
      for (const item of items) remember(item);
      return Array.prototype.push.apply(this, items);
    },
  });
}

/** Which pg Client a pg Connection belongs to. */
const clientOfConnection = new WeakMap<object, PgClient>();

function activePgQuery(client: PgClient | undefined): unknown {
  if (client === undefined) return undefined;
  return typeof client._getActiveQuery === 'function' ? client._getActiveQuery() : client._activeQuery;
}

function frontIoRedisCommand(handler: IoRedisHandler): unknown {
  return handler.redis?.commandQueue?.peekFront()?.command;
}

/** See the module comment. Loaded with the profiler: it only changes which span CPU is charged to. */
export class ConnectionContextInstrumentation extends InstrumentationBase {
  constructor(config: InstrumentationConfig = {}) {
    super(`@acme/span-profiles/${CONNECTION_CONTEXT_INSTRUMENTATION}`, AGENT_VERSION, config);
  }

  protected init(): InstrumentationNodeModuleDefinition[] {
    return [
      new InstrumentationNodeModuleDefinition('pg', ['>=8.0.0 <9'], undefined, undefined, [
        new InstrumentationNodeModuleFile('pg/lib/client.js', ['>=8.0.0 <9'], (Client) => this.patchPgClient(Client), (Client) => this.unpatch(Client, ['_attachListeners'])),
        new InstrumentationNodeModuleFile('pg/lib/connection.js', ['>=8.0.0 <9'], (Connection) => this.patchPgConnection(Connection), (Connection) => this.unpatch(Connection, ['attachListeners'])),
      ]),
      new InstrumentationNodeModuleDefinition('mysql2', ['>=3.0.0 <4'], undefined, undefined, [
        new InstrumentationNodeModuleFile('mysql2/lib/base/connection.js', ['>=3.0.0 <4'], (Connection) => this.patchMysql2(Connection), (Connection) => this.unpatch(Connection, ['addCommand', 'handlePacket'])),
        new InstrumentationNodeModuleFile('mysql2/lib/connection.js', ['>=3.0.0 <4'], (Connection) => this.patchMysql2(Connection), (Connection) => this.unpatch(Connection, ['addCommand', 'handlePacket'])),
      ]),
      new InstrumentationNodeModuleDefinition('@redis/client', ['>=5.0.0 <7'], undefined, undefined, [
        new InstrumentationNodeModuleFile('@redis/client/dist/lib/client/commands-queue.js', ['>=5.0.0 <7'], (exports) => this.patchNodeRedisQueue(exports), (exports) => this.unpatch(exports?.default, ['addCommand', 'addBatch'])),
        new InstrumentationNodeModuleFile('@redis/client/dist/lib/RESP/decoder.js', ['>=5.0.0 <7'], (exports) => this.patchNodeRedisDecoder(exports), (exports) => this.unpatch(exports?.Decoder, ['write'])),
      ]),
      new InstrumentationNodeModuleDefinition('mysql', ['>=2.0.0 <3'], undefined, undefined, [
        new InstrumentationNodeModuleFile('mysql/lib/protocol/Protocol.js', ['>=2.0.0 <3'], (Protocol) => this.patchMysqlProtocol(Protocol), (Protocol) => this.unpatch(Protocol, ['_enqueue', 'write', '_parsePacket'])),
      ]),
      new InstrumentationNodeModuleDefinition('amqplib', ['>=0.10.0 <3'], undefined, undefined, [
        new InstrumentationNodeModuleFile('amqplib/lib/connection.js', ['>=0.10.0 <3'], (exports) => this.patchAmqpConnection(exports), (exports) => this.unpatch(exports?.Connection, ['acceptLoop'])),
        new InstrumentationNodeModuleFile('amqplib/lib/channel.js', ['>=0.10.0 <3'], (exports) => this.patchAmqpChannel(exports), (exports) => this.unpatch(exports?.Channel, ['sendOrEnqueue', 'pushConfirmCallback'])),
      ]),
      new InstrumentationNodeModuleDefinition('ioredis', ['>=5.0.0 <7'], undefined, undefined, [
        new InstrumentationNodeModuleFile('ioredis/built/Command.js', ['>=5.0.0 <7'], (exports) => this.patchIoRedisCommand(exports), (exports) => this.unpatch(exports?.default, ['initPromise'])),
        new InstrumentationNodeModuleFile('ioredis/built/DataHandler.js', ['>=5.0.0 <7'], (exports) => this.patchIoRedisDataHandler(exports), (exports) => this.unpatch(exports?.default, ['rebind', 'dispatch'])),
      ]),
    ];
  }

  private unpatch(target: { prototype?: object } | undefined, methods: string[]): void {
    const proto = target?.prototype as Record<string, unknown> | undefined;
    if (proto === undefined) return;
    for (const method of methods) if (isWrapped(proto[method])) this._unwrap(proto, method);
  }

  private patchPgClient<T extends { prototype?: Record<string, unknown> }>(Client: T): T {
    const proto = Client?.prototype;
    if (proto === undefined || typeof proto._attachListeners !== 'function') return Client;
    this._wrap(proto, '_attachListeners', (original) =>
      function (this: PgClient, con: unknown, ...rest: unknown[]) {
        if (typeof con === 'object' && con !== null) clientOfConnection.set(con, this);
        rememberQueued(this._queryQueue);
        return (original as Listener).call(this, con, ...rest);
      },
    );
    return Client;
  }

  private patchPgConnection<T extends { prototype?: Record<string, unknown> }>(Connection: T): T {
    const proto = Connection?.prototype;
    if (proto === undefined || typeof proto.attachListeners !== 'function') return Connection;
    this._wrap(proto, 'attachListeners', (original) =>
      function (this: object, stream: Emitter, ...rest: unknown[]) {
        return bindNewDataListeners(
          stream,
          () => (original as Listener).call(this, stream, ...rest),
          () => activePgQuery(clientOfConnection.get(this)),
        );
      },
    );
    return Connection;
  }

  /**
   * mysql2: `addCommand` runs where the app calls `query`/`execute`, in its context. The socket's `data`
   * listener (packet framing), made in the constructor, is rebound at the connection's first command (the
   * handshake, also queued from the constructor); each packet is handled (rows decoded) in `handlePacket`
   * for the command in `_command`, which may change within one chunk. Older 3.x keep both methods in
   * lib/connection.js, newer ones in lib/base/connection.js: whichever file defines them is patched.
   */
  private patchMysql2<T extends { prototype?: Record<string, unknown> }>(Connection: T): T {
    const proto = Connection?.prototype;
    const own = (name: string): boolean => proto !== undefined && Object.prototype.hasOwnProperty.call(proto, name) && typeof proto[name] === 'function';
    if (proto === undefined || !own('addCommand') || !own('handlePacket')) return Connection;
    const rebound = new WeakSet<object>();
    this._wrap(proto, 'addCommand', (original) =>
      function (this: { _command?: unknown; stream?: Emitter }, command: unknown, ...rest: unknown[]) {
        remember(command);
        const stream = this.stream;
        if (!rebound.has(this) && stream !== undefined && typeof stream.rawListeners === 'function') {
          rebound.add(this);
          rebindDataListeners(stream, () => this._command);
        }
        return (original as Listener).call(this, command, ...rest);
      },
    );
    this._wrap(proto, 'handlePacket', (original) =>
      function (this: { _command?: unknown }, ...args: unknown[]) {
        const ctx = issuedContextOf(this._command);
        if (ctx === undefined || ctx === context.active()) return (original as Listener).apply(this, args);
        return context.with(ctx, original as Listener, this, ...args);
      },
    );
    return Connection;
  }

  /**
   * A Command is made where the app calls `redis.get(...)`, in its context; its constructor calls
   * `initPromise`. (Not `Redis.sendCommand`: ioredis' own instrumentation unwraps whatever wrapped it.)
   */
  private patchIoRedisCommand<T extends { default?: { prototype?: Record<string, unknown> } }>(exports: T): T {
    const proto = exports?.default?.prototype;
    if (proto === undefined || typeof proto.initPromise !== 'function') return exports;
    this._wrap(proto, 'initPromise', (original) =>
      function (this: unknown, ...args: unknown[]) {
        remember(this);
        return (original as Listener).apply(this, args);
      },
    );
    return exports;
  }

  private patchIoRedisDataHandler<T extends { default?: { prototype?: Record<string, unknown> } }>(exports: T): T {
    const proto = exports?.default?.prototype;
    if (proto === undefined || typeof proto.rebind !== 'function' || typeof proto.dispatch !== 'function') return exports;
    const bound = new WeakSet<Listener>();
    // The decoder runs in onData, once per socket chunk: bound to the command at the head of the queue.
    this._wrap(proto, 'rebind', (original) =>
      function (this: IoRedisHandler, ...args: unknown[]) {
        const onData = this.onData;
        if (typeof onData === 'function' && !bound.has(onData)) {
          const handler = this;
          const wrapped = inContextOf(onData, () => frontIoRedisCommand(handler));
          bound.add(wrapped);
          this.onData = wrapped;
        }
        return (original as Listener).apply(this, args);
      },
    );
    // Each reply of a pipelined chunk is dispatched in the context of the command it answers.
    this._wrap(proto, 'dispatch', (original) =>
      function (this: IoRedisHandler, fn: unknown) {
        const ctx = issuedContextOf(frontIoRedisCommand(this));
        if (ctx === undefined) return (original as Listener).call(this, fn);
        return context.with(ctx, original as Listener, this, fn);
      },
    );
    return exports;
  }

  /**
   * node-redis (`@redis/client` 5-6). Its queue matches replies to commands by position in a private list
   * (`#waitingForReply`), which we do not mirror: a shadow list would drift from it with `asap` commands,
   * RESET, preludes and flushes. What the queue does expose is the head of that list, through the
   * decoder's `getTypeMapping()` callback, which returns the `typeMapping` of the command the next reply
   * answers. So each queued command gets its own `typeMapping` object (the caller's mapping as its
   * prototype, so decoding reads the same values), remembered with its context; and each socket chunk is
   * decoded (`Decoder.write`) in the context of the command at the head. Pub/sub (RESP2) and MONITOR
   * replace `getTypeMapping` with a constant, so their messages keep the socket's context.
   */
  private patchNodeRedisQueue<T extends { default?: { prototype?: Record<string, unknown> } }>(exports: T): T {
    const proto = exports?.default?.prototype;
    if (proto === undefined || typeof proto.addCommand !== 'function') return exports;
    this._wrap(proto, 'addCommand', (original) =>
      function (this: unknown, args: unknown, options?: { typeMapping?: object }, ...rest: unknown[]) {
        // Outside any request there is nothing to charge: the command is queued as it came.
        const ctx = context.active();
        if (ctx === ROOT_CONTEXT) return (original as Listener).call(this, args, options, ...rest);
        return (original as Listener).call(this, args, { ...options, typeMapping: taggedTypeMapping(options?.typeMapping, ctx) }, ...rest);
      },
    );
    // 6.x queues MULTI and pipelines as one batch; each command still has its own reply.
    if (typeof proto.addBatch === 'function') {
      this._wrap(proto, 'addBatch', (original) =>
        function (this: unknown, commands: unknown, ...rest: unknown[]) {
          const ctx = context.active();
          const tagged =
            Array.isArray(commands) && ctx !== ROOT_CONTEXT
              ? commands.map((command: { typeMapping?: object }) => ({ ...command, typeMapping: taggedTypeMapping(command?.typeMapping, ctx) }))
              : commands;
          return (original as Listener).call(this, tagged, ...rest);
        },
      );
    }
    return exports;
  }

  private patchNodeRedisDecoder<T extends { Decoder?: { prototype?: Record<string, unknown> } }>(exports: T): T {
    const proto = exports?.Decoder?.prototype;
    if (proto === undefined || typeof proto.write !== 'function') return exports;
    this._wrap(proto, 'write', (original) =>
      function (this: { getTypeMapping?: () => unknown }, ...args: unknown[]) {
        let ctx: Context | undefined;
        try {
          const head = typeof this.getTypeMapping === 'function' ? this.getTypeMapping() : undefined;
          if (typeof head === 'object' && head !== null) ctx = (head as { [COMMAND_CONTEXT]?: Context })[COMMAND_CONTEXT];
        } catch {
          // 5.x reads the head without checking the list is empty: nothing is waiting, no context.
        }
        if (ctx === undefined || ctx === context.active()) return (original as Listener).apply(this, args);
        return context.with(ctx, original as Listener, this, ...args);
      },
    );
    return exports;
  }

  /**
   * mysql (v1): `Protocol._enqueue` runs where the app calls `query`, in its context. A socket chunk is
   * framed (`write`) in the context of the sequence at the head of `_queue`, and each packet is handled
   * (rows decoded) by `_parsePacket` in the context of the head at that packet, which changes within a
   * chunk when one query ends and the next begins. (The parser binds `_parsePacket` when a Protocol is
   * made, after this patch.)
   */
  private patchMysqlProtocol<T extends { prototype?: Record<string, unknown> }>(Protocol: T): T {
    const proto = Protocol?.prototype;
    if (proto === undefined || typeof proto._enqueue !== 'function' || typeof proto.write !== 'function' || typeof proto._parsePacket !== 'function') return Protocol;
    this._wrap(proto, '_enqueue', (original) =>
      function (this: unknown, sequence: unknown, ...rest: unknown[]) {
        remember(sequence);
        return (original as Listener).call(this, sequence, ...rest);
      },
    );
    const inHeadContext = (original: Listener): Listener =>
      function (this: unknown, ...args: unknown[]) {
        const ctx = issuedContextOf((this as { _queue?: unknown[] })._queue?.[0]);
        if (ctx === undefined || ctx === context.active()) return original.apply(this, args);
        return context.with(ctx, original, this, ...args);
      };
    this._wrap(proto, 'write', (original) => inHeadContext(original as Listener));
    this._wrap(proto, '_parsePacket', (original) => inHeadContext(original as Listener));
    return Protocol;
  }

  /**
   * amqplib: the frame loop (`acceptLoop` reads frames on `readable` and hands them to the channels) runs
   * in the root context: see the module comment.
   */
  private patchAmqpConnection<T extends { Connection?: { prototype?: Record<string, unknown> } }>(exports: T): T {
    const proto = exports?.Connection?.prototype;
    if (proto === undefined || typeof proto.acceptLoop !== 'function') return exports;
    this._wrap(proto, 'acceptLoop', (original) =>
      function (this: { stream?: Emitter }, ...args: unknown[]) {
        const stream = this.stream;
        const before = stream !== undefined && typeof stream.rawListeners === 'function' ? new Set(stream.rawListeners('readable')) : undefined;
        const result = context.with(ROOT_CONTEXT, original as Listener, this, ...args);
        if (stream !== undefined && before !== undefined) {
          for (const listener of stream.rawListeners('readable')) {
            if (before.has(listener) || (listener as { listener?: unknown }).listener !== undefined) continue;
            stream.removeListener('readable', listener);
            stream.on('readable', context.bind(ROOT_CONTEXT, listener));
          }
        }
        return result;
      },
    );
    return exports;
  }

  /** amqplib: an RPC reply and a publisher confirm run in the context of the operation they answer. */
  private patchAmqpChannel<T extends { Channel?: { prototype?: Record<string, unknown> } }>(exports: T): T {
    const proto = exports?.Channel?.prototype;
    if (proto === undefined || typeof proto.sendOrEnqueue !== 'function' || typeof proto.pushConfirmCallback !== 'function') return exports;
    this._wrap(proto, 'sendOrEnqueue', (original) =>
      function (this: unknown, method: unknown, fields: unknown, reply: unknown, ...rest: unknown[]) {
        return (original as Listener).call(this, method, fields, bindToActive(reply), ...rest);
      },
    );
    this._wrap(proto, 'pushConfirmCallback', (original) =>
      function (this: unknown, callback: unknown, ...rest: unknown[]) {
        return (original as Listener).call(this, bindToActive(callback), ...rest);
      },
    );
    return exports;
  }
}

/** `fn` bound to the active context, unless there is nothing to bind (no function, or the root context). */
function bindToActive(fn: unknown): unknown {
  const active = context.active();
  return typeof fn === 'function' && active !== ROOT_CONTEXT ? context.bind(active, fn) : fn;
}

/** Where a node-redis command's own `typeMapping` carries the context the command was issued in. */
const COMMAND_CONTEXT = Symbol('span-profiles.command-context');

/** The own `typeMapping` of a command that had none: like the queue's `{}`, no mapping at all. */
class EmptyTypeMapping {
  [COMMAND_CONTEXT]: Context;
  constructor(ctx: Context) {
    this[COMMAND_CONTEXT] = ctx;
  }
}

/**
 * A `typeMapping` of its own for one node-redis command, carrying the caller's context. Decoding reads
 * it like the caller's mapping (its prototype). A symbol property, not a WeakMap: this runs per command.
 */
function taggedTypeMapping(mapping: object | undefined, ctx: Context): object {
  if (mapping === undefined || mapping === null) return new EmptyTypeMapping(ctx);
  const tagged = Object.create(mapping) as { [COMMAND_CONTEXT]?: Context };
  tagged[COMMAND_CONTEXT] = ctx;
  return tagged;
}
