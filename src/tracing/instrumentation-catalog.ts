/**
 * The instrumentations of `@opentelemetry/auto-instrumentations-node`, as data: the short name users write
 * in OTEL_NODE_ENABLED_INSTRUMENTATIONS, the class the package exports, and the modules it patches.
 * Knowing the modules lets the agent skip loading an instrumentation whose library the app does not have
 * installed, which is most of the ~40 and most of upstream's start-up cost.
 * Regenerate the table when upgrading auto-instrumentations-node (each instrumentation's
 * `getModuleDefinitions()` lists its modules).
 */

import { EXPRESS_OPTIONS } from './instrumentation-options';

/** One instrumentation package. */
export interface InstrumentationEntry {
  /** Short name, e.g. `http`; the package is `@opentelemetry/instrumentation-<name>`. */
  readonly name: string;
  /** The exported class. */
  readonly className: string;
  /**
   * What must be present for it to be useful: module names (`core` modules are always present), or
   * `always` (patches globals or diagnostics channels), or `lambda`, or `metrics` (needs a MeterProvider).
   */
  readonly targets: readonly string[] | 'always' | 'lambda' | 'metrics';
  /** Off unless named in OTEL_NODE_ENABLED_INSTRUMENTATIONS (as upstream). */
  readonly offByDefault?: boolean;
  /** The package to load when it is not `@opentelemetry/instrumentation-<name>`. */
  readonly packageName?: string;
  /** Options for the constructor. */
  readonly options?: Readonly<Record<string, unknown>>;
  /**
   * Not loaded when this other instrumentation is (unless named in OTEL_NODE_ENABLED_INSTRUMENTATIONS):
   * both would wrap the same functions and every span would come twice.
   */
  readonly supersededBy?: string;
}

export const INSTRUMENTATIONS: readonly InstrumentationEntry[] = [
  { name: 'amqplib', className: 'AmqplibInstrumentation', targets: ['amqplib'] },
  { name: 'aws-lambda', className: 'AwsLambdaInstrumentation', targets: 'lambda' },
  {
    name: 'aws-sdk',
    className: 'AwsInstrumentation',
    targets: ['@aws-sdk/middleware-stack', '@smithy/middleware-stack', '@smithy/core', '@aws-sdk/smithy-client', '@smithy/smithy-client'],
  },
  { name: 'bunyan', className: 'BunyanInstrumentation', targets: ['bunyan'] },
  { name: 'cassandra-driver', className: 'CassandraDriverInstrumentation', targets: ['cassandra-driver'] },
  { name: 'connect', className: 'ConnectInstrumentation', targets: ['connect'] },
  { name: 'cucumber', className: 'CucumberInstrumentation', targets: ['@cucumber/cucumber'] },
  { name: 'dataloader', className: 'DataloaderInstrumentation', targets: ['dataloader'] },
  { name: 'dns', className: 'DnsInstrumentation', targets: ['dns'] },
  { name: 'express', className: 'ExpressInstrumentation', targets: ['express'], options: EXPRESS_OPTIONS },
  // Not in auto-instrumentations-node any more: Fastify maintains its own. `registerOnInitialization` adds
  // its plugin to every Fastify instance through Fastify's diagnostics channel, so the app changes nothing.
  {
    name: 'fastify',
    className: 'FastifyOtelInstrumentation',
    targets: ['fastify'],
    packageName: '@fastify/otel',
    options: { registerOnInitialization: true },
  },
  { name: 'fs', className: 'FsInstrumentation', targets: ['fs'], offByDefault: true },
  { name: 'generic-pool', className: 'GenericPoolInstrumentation', targets: ['generic-pool'] },
  { name: 'graphql', className: 'GraphQLInstrumentation', targets: ['graphql'] },
  { name: 'grpc', className: 'GrpcInstrumentation', targets: ['@grpc/grpc-js'] },
  { name: 'hapi', className: 'HapiInstrumentation', targets: ['@hapi/hapi'] },
  { name: 'host-metrics', className: 'HostMetricsInstrumentation', targets: 'metrics', offByDefault: true },
  { name: 'http', className: 'HttpInstrumentation', targets: ['http'] },
  { name: 'ioredis', className: 'IORedisInstrumentation', targets: ['ioredis'] },
  { name: 'kafkajs', className: 'KafkaJsInstrumentation', targets: ['kafkajs'] },
  { name: 'knex', className: 'KnexInstrumentation', targets: ['knex'] },
  { name: 'koa', className: 'KoaInstrumentation', targets: ['koa'] },
  { name: 'lru-memoizer', className: 'LruMemoizerInstrumentation', targets: ['lru-memoizer'] },
  { name: 'memcached', className: 'MemcachedInstrumentation', targets: ['memcached'] },
  { name: 'mongodb', className: 'MongoDBInstrumentation', targets: ['mongodb'] },
  { name: 'mongoose', className: 'MongooseInstrumentation', targets: ['mongoose'] },
  { name: 'mysql', className: 'MySQLInstrumentation', targets: ['mysql'] },
  { name: 'mysql2', className: 'MySQL2Instrumentation', targets: ['mysql2'] },
  { name: 'nestjs-core', className: 'NestInstrumentation', targets: ['@nestjs/core'] },
  { name: 'net', className: 'NetInstrumentation', targets: ['net'] },
  { name: 'openai', className: 'OpenAIInstrumentation', targets: ['openai'] },
  { name: 'oracledb', className: 'OracleInstrumentation', targets: ['oracledb'] },
  { name: 'pg', className: 'PgInstrumentation', targets: ['pg', 'pg-pool'] },
  { name: 'pino', className: 'PinoInstrumentation', targets: ['pino'] },
  { name: 'redis', className: 'RedisInstrumentation', targets: ['redis', '@redis/client', '@node-redis/client'] },
  { name: 'restify', className: 'RestifyInstrumentation', targets: ['restify'] },
  // Express 5 runs on `router`: its instrumentation would wrap every layer the express one already wraps.
  { name: 'router', className: 'RouterInstrumentation', targets: ['router'], supersededBy: 'express' },
  { name: 'runtime-node', className: 'RuntimeNodeInstrumentation', targets: 'metrics' },
  { name: 'socket.io', className: 'SocketIoInstrumentation', targets: ['socket.io'] },
  { name: 'tedious', className: 'TediousInstrumentation', targets: ['tedious'] },
  { name: 'undici', className: 'UndiciInstrumentation', targets: 'always' },
  { name: 'winston', className: 'WinstonInstrumentation', targets: ['winston'] },
];

/** The agent's own instrumentation (tracing/instrumentation-connection-context.ts), as the startup summary names it. */
export const CONNECTION_CONTEXT_INSTRUMENTATION = 'span-profiles-connection-context';

/** Drivers whose replies the connection-context instrumentation binds to the query they answer. */
export const CONNECTION_CONTEXT_TARGETS: readonly string[] = ['pg', 'mysql2', 'ioredis', '@redis/client', 'amqplib', 'mysql'];

/** Short names, for validating OTEL_NODE_ENABLED_INSTRUMENTATIONS / _DISABLED_. */
export const INSTRUMENTATION_NAMES: readonly string[] = INSTRUMENTATIONS.map((entry) => entry.name);
