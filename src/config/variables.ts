/**
 * The table of variables: every environment variable the agent reads, one entry each, in the order
 * `doctor --all` lists them. It is the single source for parsing (./parse.ts), the warning a bad value
 * gets, doctor's listing of the effective configuration and the README's variable table (test/readme).
 * What the values mean together (which exporter is the default, which URL profiles go to) is decided in
 * the section files beside this one, never here.
 *
 * Variables that the OpenTelemetry exporters read themselves (traces' OTEL_EXPORTER_OTLP_HEADERS,
 * _TIMEOUT, _COMPRESSION, ...) are left to them; the ones listed here are those the agent decides with.
 *
 * A new variable: one entry below, in its section (the type gives its parsing and its warnings; a type
 * that does not exist yet is a parser in parse.ts), its row in the README's table (test/readme.test.mjs
 * prints the row it expects), and `values.NAME` (typed) read in the derivation of its section, which
 * puts it in the config (types.ts).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { LOG_LEVELS } from '../logger';
import { DEFAULT_DENIED_PROGRAMS } from '../process-filter';
import { INSTRUMENTATION_NAMES } from '../tracing/instrumentation-catalog';
import { MIB } from './units';

/** The HTTP path of OTLP profiles (opentelemetry-proto profiles/v1development). */
export const OTLP_PROFILES_PATH = '/v1development/profiles';

/** Where the local store lives when SPAN_PROFILES_DIR is not set. */
export const DEFAULT_STORE_DIR = path.join(os.tmpdir(), 'span-profiles');

export const RESOURCE_DETECTOR_NAMES = [
  'env',
  'host',
  'os',
  'process',
  'serviceinstance',
  'container',
  'alibaba',
  'aws',
  'azure',
  'gcp',
  'all',
  'none',
] as const;

export const DEFAULT_RESOURCE_DETECTORS = ['env', 'host', 'os', 'process', 'serviceinstance', 'container'];

/** Longest upload interval: Grafana's "Profiles for this span" looks 60 s around the span. */
export const MAX_UPLOAD_INTERVAL_MS = 60_000;

const OTLP_PROTOCOLS = ['http/protobuf', 'http/json', 'grpc'] as const;
const OTLP_COMPRESSIONS = ['gzip', 'none'] as const;

/** What every entry has. */
interface VariableBase {
  readonly name: string;
  /** What it does, one or two sentences: doctor's listing (the README words it for users, at more length). */
  readonly description: string;
  /**
   * The README's Meaning column where it tells users more than `description` (why, what it costs);
   * unset, the README says `description`.
   */
  readonly readme?: string;
  /** The default as a user would write it: the README's Default column, doctor's, and "using ..." in warnings. */
  readonly default: string;
  /** Never printed: doctor and warnings show `<redacted>`. */
  readonly secret?: boolean;
  /**
   * The default is this other variable's value (the OpenTelemetry signal-specific variables): its
   * effective value is the fallback and its text the default shown. Must come earlier in the table.
   */
  readonly inherits?: string;
  /**
   * When the default shown by doctor depends on other variables or on the machine: computed from the
   * values parsed so far (earlier in the table). `default` stays what the README documents.
   */
  readonly defaultFrom?: (parsed: ParsedSoFar) => string;
}

/** The values of the variables before this one, by name (typed access is `Values`, below). */
export type ParsedSoFar = Readonly<Record<string, unknown>>;

/**
 * One variable: its type says how it is parsed and what a bad value is told. Allowed values and ranges
 * are part of the entry; a value outside them gets one warning and the default.
 */
export type Variable = VariableBase &
  (
    | { readonly type: 'text' }
    | { readonly type: 'bool'; readonly fallback: boolean }
    | { readonly type: 'int'; readonly fallback: number; readonly min: number; readonly max: number; readonly unit?: string }
    /** A number between 0 and 1. */
    | { readonly type: 'ratio'; readonly fallback: number }
    /**
     * `250ms`, `15s`, `2m`, `1h`; a bare number is milliseconds. Above `cap` (still in range) the cap is
     * used, with `capReason` in the warning.
     */
    | {
        readonly type: 'duration';
        readonly fallbackMs: number;
        readonly minMs: number;
        readonly maxMs: number;
        readonly cap?: { readonly ms: number; readonly reason: string };
      }
    /** `512KiB`, `256MiB`, `1GB`...; a bare number is MiB. */
    | { readonly type: 'size'; readonly fallbackBytes: number; readonly minBytes: number }
    | { readonly type: 'enum'; readonly values: readonly string[]; readonly fallback: string; readonly caseInsensitive?: boolean }
    /** Comma-separated names out of `values`; unknown entries are reported and dropped, the rest kept. */
    | { readonly type: 'names'; readonly values: readonly string[] }
    /** Comma-separated program names or `*` patterns; entries with other characters are reported and dropped. */
    | { readonly type: 'programs' }
    /** An http(s) URL; credentials in it are kept (the section moves them to auth) but never printed. */
    | { readonly type: 'url' }
    /** `k=v,k2=v2`; malformed pairs are reported and dropped, the rest kept. */
    | { readonly type: 'keyValues' }
    /** OTLP headers: `key=value,key2=value2`, values percent-encoded (the OpenTelemetry spec's format). Secret. */
    | { readonly type: 'headers' }
    /** A JSON object of string values (header maps). Secret. */
    | { readonly type: 'json' }
  );

/** The table. Order matters twice: doctor lists in this order, and `inherits`/`defaultFrom` look only back. */
export const VARIABLES = [
  // The agent itself.
  {
    name: 'OTEL_SDK_DISABLED',
    type: 'bool',
    description: 'true turns the whole agent off: no tracing, no profiling.',
    default: 'false',
    fallback: false,
  },
  {
    name: 'OTEL_LOG_LEVEL',
    type: 'enum',
    description: "The agent's own diagnostics on stderr; info or debug also print a startup summary.",
    default: 'warn',
    fallback: 'warn',
    values: LOG_LEVELS,
    caseInsensitive: true,
  },

  // Service identity (./service.ts).
  {
    name: 'OTEL_SERVICE_NAME',
    type: 'text',
    description: "The service name of traces and profiles. Defaults to service.name in OTEL_RESOURCE_ATTRIBUTES, else the app's package.json name.",
    default: 'package.json name',
  },
  {
    name: 'OTEL_RESOURCE_ATTRIBUTES',
    type: 'keyValues',
    description: 'Extra resource attributes, key=value,key=value (values percent-encoded).',
    default: '',
    readme:
      "Extra resource attributes, key=value,key=value (read by the OpenTelemetry SDK).",
  },

  // The local store's mode comes early: the trace and profile destinations' defaults depend on it.
  {
    name: 'SPAN_PROFILES_STORE',
    type: 'enum',
    description:
      'The local store: auto keeps what has no other destination (profiles without PYROSCOPE_SERVER_ADDRESS or OTEL_PROFILES_EXPORTER, spans without an OTLP endpoint); always keeps both beside the backends; never turns it off.',
    default: 'auto',
    fallback: 'auto',
    values: ['auto', 'always', 'never'],
    caseInsensitive: true,
  },

  // Traces (./traces.ts).
  {
    name: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
    type: 'url',
    description: 'The OTLP traces URL (used as is). Headers, timeout and compression variables are read by the exporter.',
    default: '',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_ENDPOINT',
    type: 'url',
    description: 'The OTLP base URL; traces go to <url>/v1/traces for http protocols.',
    default: '',
  },
  {
    name: 'OTEL_TRACES_EXPORTER',
    type: 'names',
    description:
      'Comma list of otlp, console, zipkin, store, none. Default: otlp when an OTLP endpoint is set, else store (the local store).',
    default: 'store',
    values: ['otlp', 'console', 'zipkin', 'store', 'none'],
    defaultFrom: (parsed) => defaultTraceExporters(parsed).join(','),
  },
  {
    name: 'OTEL_EXPORTER_OTLP_PROTOCOL',
    type: 'enum',
    description: 'http/protobuf, http/json or grpc.',
    default: 'http/protobuf',
    fallback: 'http/protobuf',
    values: OTLP_PROTOCOLS,
  },
  {
    name: 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
    type: 'enum',
    description: 'Overrides OTEL_EXPORTER_OTLP_PROTOCOL for traces.',
    default: 'http/protobuf',
    fallback: 'http/protobuf',
    values: OTLP_PROTOCOLS,
    inherits: 'OTEL_EXPORTER_OTLP_PROTOCOL',
  },
  {
    name: 'OTEL_TRACES_SAMPLER',
    type: 'enum',
    description: 'always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio.',
    default: 'parentbased_always_on',
    fallback: 'parentbased_always_on',
    values: ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'],
  },
  {
    name: 'OTEL_TRACES_SAMPLER_ARG',
    type: 'ratio',
    description: 'The sampling ratio of the traceidratio samplers, 0..1.',
    default: '1',
    fallback: 1,
  },
  {
    name: 'OTEL_PROPAGATORS',
    type: 'names',
    description: 'Comma list of tracecontext, baggage, b3, b3multi, none.',
    default: 'tracecontext,baggage',
    values: ['tracecontext', 'baggage', 'b3', 'b3multi', 'none'],
  },
  {
    name: 'OTEL_BSP_SCHEDULE_DELAY',
    type: 'int',
    description: 'Delay between two span exports, ms.',
    default: '5000',
    fallback: 5000,
    min: 0,
    max: 3_600_000,
    unit: 'milliseconds',
  },
  {
    name: 'OTEL_BSP_EXPORT_TIMEOUT',
    type: 'int',
    description: 'Longest a span export may take, ms.',
    default: '30000',
    fallback: 30_000,
    min: 1,
    max: 3_600_000,
    unit: 'milliseconds',
  },
  {
    name: 'OTEL_BSP_MAX_QUEUE_SIZE',
    type: 'int',
    description: 'Spans buffered before new ones are dropped.',
    default: '2048',
    fallback: 2048,
    min: 1,
    max: 10_000_000,
  },
  {
    name: 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
    type: 'int',
    description: 'Spans per export; at most OTEL_BSP_MAX_QUEUE_SIZE.',
    default: '512',
    fallback: 512,
    min: 1,
    max: 10_000_000,
  },

  // What the OpenTelemetry SDK loads (./sdk.ts).
  {
    name: 'OTEL_NODE_ENABLED_INSTRUMENTATIONS',
    type: 'names',
    description: 'Comma list of instrumentation short names (http,express,pg,...) to enable; only these load.',
    default: 'all but fs and host-metrics',
    values: INSTRUMENTATION_NAMES,
  },
  {
    name: 'OTEL_NODE_DISABLED_INSTRUMENTATIONS',
    type: 'names',
    description: 'Comma list of instrumentation short names to disable (applied after the enabled list).',
    default: '',
    values: INSTRUMENTATION_NAMES,
  },
  {
    name: 'OTEL_NODE_RESOURCE_DETECTORS',
    type: 'names',
    description: 'Comma list of env, host, os, process, serviceinstance, container, alibaba, aws, azure, gcp, all, none.',
    default: DEFAULT_RESOURCE_DETECTORS.join(','),
    values: RESOURCE_DETECTOR_NAMES,
  },
  {
    name: 'OTEL_METRICS_EXPORTER',
    type: 'names',
    description: 'Metrics are off unless set: otlp, console, prometheus, none (then the OpenTelemetry SDK exports them).',
    default: 'off',
    readme:
      "Metrics are off unless set (otlp, console, prometheus); then the SDK reads it.",
    values: ['otlp', 'console', 'prometheus', 'none'],
  },
  {
    name: 'OTEL_LOGS_EXPORTER',
    type: 'names',
    description: 'Log export is off unless set: otlp, console, none.',
    default: 'off',
    readme:
      "Log export is off unless set (otlp, console); then the SDK reads it.",
    values: ['otlp', 'console', 'none'],
  },

  // Profiling, named as Grafana's Java agent names them (./profiling.ts).
  {
    name: 'OTEL_PYROSCOPE_START_PROFILING',
    type: 'bool',
    description: 'Run the CPU profiler. false keeps tracing only.',
    default: 'true',
    fallback: true,
  },
  {
    name: 'OTEL_PYROSCOPE_ROOT_SPAN_ONLY',
    type: 'bool',
    description: "true: samples carry the local root span's id. false: every span gets its own pyroscope.profile.id and samples carry the innermost span's id.",
    default: 'true',
    fallback: true,
  },
  {
    name: 'OTEL_PYROSCOPE_ADD_SPAN_NAME',
    type: 'bool',
    description: "Add the span_name label (the root span's final name) to samples.",
    default: 'true',
    fallback: true,
  },
  {
    name: 'PYROSCOPE_PROFILING_INTERVAL',
    type: 'duration',
    description: 'CPU sampling interval.',
    default: '10ms',
    fallbackMs: 10,
    minMs: 1,
    maxMs: 1000,
  },
  {
    name: 'PYROSCOPE_UPLOAD_INTERVAL',
    type: 'duration',
    description:
      "How often profiles are cut and sent, at most 60s (longer is cut to 60s: Grafana looks for a span's profile within 60 s of it, and a profile is stamped with its window's start).",
    default: '15s',
    readme:
      "How often profiles are cut and sent, at most `60s`: a longer value is cut to 60s with a warning (Grafana looks for a span's profile from 60 s before it to 60 s after, and a profile is stamped with its window's start). The process's first profile is cut early, once the app has used 0.5 s of CPU.",
    fallbackMs: 15_000,
    minMs: 1000,
    maxMs: 24 * 3_600_000,
    cap: {
      ms: MAX_UPLOAD_INTERVAL_MS,
      reason:
        "Grafana looks for a span's profile from 60 s before it to 60 s after it, and a profile is stamped with its window's start, so spans late in a longer window would find no profile",
    },
  },
  {
    name: 'SPAN_PROFILES_WALL',
    type: 'bool',
    description: 'Also send the wall-clock profile (Pyroscope type wall).',
    default: 'false',
    fallback: false,
  },
  {
    name: 'SPAN_PROFILES_SOURCE_MAPS',
    type: 'bool',
    description: "Report frames of compiled code (TypeScript, bundles) at their original file, line and function through the code's source maps. false keeps the compiled .js locations.",
    default: 'true',
    fallback: true,
  },
  {
    name: 'SPAN_PROFILES_HEAP',
    type: 'bool',
    description: "Run V8's sampling heap profiler and send heap profiles (Pyroscope types memory:inuse_space and memory:inuse_objects) every upload interval. false turns it off.",
    default: 'true',
    fallback: true,
  },
  {
    name: 'PYROSCOPE_HEAP_SAMPLING_INTERVAL_BYTES',
    type: 'int',
    description: 'Average bytes allocated between two heap samples. Smaller is more precise and costs more CPU.',
    default: '524288',
    fallback: 512 * 1024,
    min: 1024,
    max: 1024 * 1024 * 1024,
    unit: 'bytes',
  },
  {
    name: 'PYROSCOPE_HEAP_STACK_DEPTH',
    type: 'int',
    description: 'Deepest stack recorded per heap sample, frames.',
    default: '64',
    fallback: 64,
    min: 1,
    max: 1024,
    unit: 'frames',
  },

  // Pyroscope, named as Grafana's other agents name them (./pyroscope.ts).
  {
    name: 'PYROSCOPE_SERVER_ADDRESS',
    type: 'url',
    description: 'Pyroscope URL, e.g. http://pyroscope:4040. Unset: profiles go to the local store.',
    default: '',
  },
  {
    name: 'PYROSCOPE_APPLICATION_NAME',
    type: 'text',
    description: 'The Pyroscope application (service_name). Default: the service name, with characters Pyroscope rejects replaced by _.',
    default: 'the service name',
  },
  {
    name: 'PYROSCOPE_LABELS',
    type: 'keyValues',
    description:
      'Static profile labels, key=value,key=value. Names are sent as letters, digits and _ (dots become _, a leading digit gets a _), at most 23 labels.',
    default: '',
    readme:
      "Static profile labels, key=value,key=value. Names are sent as every Pyroscope reads them: letters, digits and `_` (a dot becomes `_`, a leading digit gets a `_` in front); names starting with `__`, names the agent sets (`service_name`, `span_id`, `trace_id`, `span_name`) and the second of two names that become equal are left out; at most 23 labels. One warning per change.",
  },
  {
    name: 'PYROSCOPE_BASIC_AUTH_USER',
    type: 'text',
    description: 'Basic auth user (Grafana Cloud: the stack user id).',
    default: '',
  },
  {
    name: 'PYROSCOPE_BASIC_AUTH_PASSWORD',
    type: 'text',
    description: 'Basic auth password (Grafana Cloud: an access token).',
    default: '',
    secret: true,
  },
  {
    name: 'PYROSCOPE_AUTH_TOKEN',
    type: 'text',
    description: 'Bearer token, sent as Authorization: Bearer.',
    default: '',
    secret: true,
  },
  {
    name: 'PYROSCOPE_TENANT_ID',
    type: 'text',
    description: 'Tenant, sent as X-Scope-OrgID.',
    default: '',
  },
  {
    name: 'PYROSCOPE_HTTP_HEADERS',
    type: 'json',
    description: 'Extra upload headers as a JSON object.',
    default: '',
    secret: true,
  },
  {
    name: 'SPAN_PROFILES_UPLOAD_TIMEOUT',
    type: 'duration',
    description: 'Timeout of one profile upload to Pyroscope.',
    default: '10s',
    fallbackMs: 10_000,
    minMs: 100,
    maxMs: 120_000,
  },
  {
    name: 'SPAN_PROFILES_UPLOAD_QUEUE',
    type: 'int',
    description: 'Profiles kept per destination (Pyroscope, OTLP) while it is unreachable; when full the oldest is dropped (and counted).',
    default: '8',
    fallback: 8,
    min: 1,
    max: 1000,
  },
  {
    name: 'SPAN_PROFILES_TRACE_ID_LABEL',
    type: 'enum',
    description:
      'auto: samples sent to Pyroscope carry trace_id only if the server (asked once at /api/v1/status/buildinfo) is 2.1.0 or later; older ones make each trace_id a series. true forces it (on an older server: one series per request), false leaves it out.',
    default: 'auto',
    readme:
      "`auto`: samples sent to Pyroscope carry `trace_id` only if the server, asked once at `/api/v1/status/buildinfo` in the background, is 2.1.0 or later (older ones make every trace id a series: one per request). `true` forces it: on an older server that grows its series count with traffic until the tenant's series limit refuses new data. `false` leaves it out. The local store always keeps it.",
    fallback: 'auto',
    values: ['auto', 'true', 'false'],
    caseInsensitive: true,
  },
  {
    name: 'SPAN_PROFILES_MAX_SPAN_NAMES',
    type: 'int',
    description:
      'Distinct span_name values a process sends to Pyroscope or over OTLP in its lifetime (each is a series); later names are sent as "(other span names)". The local store keeps the real names.',
    default: '200',
    readme:
      "Distinct `span_name` values one process sends to Pyroscope or over OTLP (a sample attribute there) in its lifetime (each is a series that stays in Pyroscope's index); later names are sent as `(other span names)`, with one warning per destination. The local store keeps the real names.",
    fallback: 200,
    min: 1,
    max: 100_000,
  },
  {
    name: 'SPAN_PROFILES_MAX_UPLOAD_SIZE',
    type: 'size',
    description:
      "Largest Pyroscope upload, uncompressed with its labels; bigger profiles are split. Pyroscope refuses (429, for good) one over its ingestion burst, 2 MiB by default: raise it only with the server's distributor.ingestion-burst-size-mb (and validation.max-profile-size-bytes above 4 MiB).",
    default: '2MiB',
    readme:
      "Largest Pyroscope upload, uncompressed with its labels; bigger cuts are sent as several uploads. Pyroscope refuses (429, however often retried) one over its ingestion burst, 2 MiB by default: raise it only together with the server's `distributor.ingestion-burst-size-mb` (and `validation.max-profile-size-bytes` above 4 MiB).",
    fallbackBytes: 2 * MIB,
    minBytes: 256 * 1024,
  },

  // Where profiles go, and OTLP profiles (./profiles.ts). The OpenTelemetry specification has no
  // profiles variables yet; these are the names it gives every other signal, with PROFILES for the signal.
  {
    name: 'OTEL_PROFILES_EXPORTER',
    type: 'names',
    description:
      'Comma list of otlp, pyroscope, store, none: where profiles go. Default: pyroscope when PYROSCOPE_SERVER_ADDRESS is set, else store. Ahead of the OpenTelemetry specification.',
    default: 'store',
    values: ['otlp', 'pyroscope', 'store', 'none'],
    defaultFrom: (parsed) => defaultProfileExporters(parsed).join(',') || 'none',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_PROFILES_ENDPOINT',
    type: 'url',
    description: `The OTLP profiles URL (used as is). Default: OTEL_EXPORTER_OTLP_ENDPOINT + ${OTLP_PROFILES_PATH}, else http://localhost:4318${OTLP_PROFILES_PATH} (grpc: the base endpoint, else http://localhost:4317).`,
    default: '',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_PROFILES_PROTOCOL',
    type: 'enum',
    description: 'Overrides OTEL_EXPORTER_OTLP_PROTOCOL for profiles: http/protobuf, http/json or grpc.',
    default: 'http/protobuf',
    fallback: 'http/protobuf',
    values: OTLP_PROTOCOLS,
    inherits: 'OTEL_EXPORTER_OTLP_PROTOCOL',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_HEADERS',
    type: 'headers',
    description: 'Headers of every OTLP request, key=value,key2=value2 (percent-encoded values). Traces: read by the exporter.',
    default: '',
    secret: true,
  },
  {
    name: 'OTEL_EXPORTER_OTLP_PROFILES_HEADERS',
    type: 'headers',
    description: 'Headers of OTLP profiles requests, added to OTEL_EXPORTER_OTLP_HEADERS (same key: this one wins).',
    default: '',
    secret: true,
  },
  {
    name: 'OTEL_EXPORTER_OTLP_TIMEOUT',
    type: 'int',
    description: 'Timeout of one OTLP request, milliseconds.',
    default: '10000',
    fallback: 10_000,
    min: 1,
    max: 600_000,
    unit: 'milliseconds',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_PROFILES_TIMEOUT',
    type: 'int',
    description: 'Overrides OTEL_EXPORTER_OTLP_TIMEOUT for profiles, milliseconds.',
    default: '10000',
    fallback: 10_000,
    min: 1,
    max: 600_000,
    unit: 'milliseconds',
    inherits: 'OTEL_EXPORTER_OTLP_TIMEOUT',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_COMPRESSION',
    type: 'enum',
    description: 'gzip or none, for every OTLP signal.',
    default: 'none',
    fallback: 'none',
    values: OTLP_COMPRESSIONS,
    caseInsensitive: true,
  },
  {
    name: 'OTEL_EXPORTER_OTLP_PROFILES_COMPRESSION',
    type: 'enum',
    description: 'Overrides OTEL_EXPORTER_OTLP_COMPRESSION for profiles.',
    default: 'none',
    fallback: 'none',
    values: OTLP_COMPRESSIONS,
    caseInsensitive: true,
    inherits: 'OTEL_EXPORTER_OTLP_COMPRESSION',
  },

  // The local store (./store.ts).
  {
    name: 'SPAN_PROFILES_DIR',
    type: 'text',
    description: 'The local store directory.',
    default: '<tmpdir>/span-profiles',
    defaultFrom: () => DEFAULT_STORE_DIR,
  },
  {
    name: 'SPAN_PROFILES_STORE_MAX_SIZE',
    type: 'size',
    description: 'Size cap of the local store; the oldest files are removed first.',
    default: '256MiB',
    fallbackBytes: 256 * MIB,
    minBytes: MIB,
  },

  // The agent's process: exit, ES modules, which programs it starts in.
  {
    name: 'SPAN_PROFILES_SHUTDOWN_TIMEOUT',
    type: 'duration',
    description: 'Longest the agent may delay exit to flush spans and the last profile.',
    default: '5s',
    fallbackMs: 5000,
    minMs: 0,
    maxMs: 60_000,
  },
  {
    name: 'SPAN_PROFILES_ESM_HOOK',
    type: 'bool',
    description: 'Register the ESM loader hook so ES module apps are instrumented.',
    default: 'true',
    fallback: true,
  },
  {
    name: 'SPAN_PROFILES_PROCESS_ALLOW',
    type: 'programs',
    description: 'Comma list of programs (script file name or package name, * wildcards) the agent starts in; unset: any not denied.',
    default: '',
  },
  {
    name: 'SPAN_PROFILES_PROCESS_DENY',
    type: 'programs',
    description: 'Comma list of programs the agent stays out of (NODE_OPTIONS reaches them all).',
    default: DEFAULT_DENIED_PROGRAMS.join(','),
  },
] as const satisfies readonly Variable[];

/** A variable's name. */
export type VariableName = (typeof VARIABLES)[number]['name'];

/** What a variable of this entry parses to (undefined: not set, or nothing usable in it). */
type ValueOf<V> = V extends { type: 'bool' }
  ? boolean
  : V extends { type: 'int' | 'ratio' | 'duration' | 'size' }
    ? number
    : V extends { type: 'enum'; values: readonly (infer T)[] }
      ? T
      : V extends { type: 'names'; values: readonly (infer T)[] }
        ? T[] | undefined
        : V extends { type: 'programs' }
          ? string[] | undefined
          : V extends { type: 'url' }
            ? URL | undefined
            : V extends { type: 'text' }
              ? string | undefined
              : V extends { type: 'headers' }
                ? Record<string, string> | undefined
                : V extends { type: 'keyValues' | 'json' }
                  ? Record<string, string>
                  : never;

/** Every variable's parsed value, by name: what the section derivations read. */
export type Values = { readonly [V in (typeof VARIABLES)[number] as V['name']]: ValueOf<V> };

/**
 * The trace destinations when OTEL_TRACES_EXPORTER is not set: otlp when an OTLP endpoint is set (or the
 * store is off), else the store; the store too with SPAN_PROFILES_STORE=always.
 */
export function defaultTraceExporters(parsed: ParsedSoFar): Array<'otlp' | 'store'> {
  const endpointSet = parsed.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined || parsed.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined;
  const storeMode = parsed.SPAN_PROFILES_STORE;
  const exporters: Array<'otlp' | 'store'> = endpointSet || storeMode === 'never' ? ['otlp'] : ['store'];
  if (storeMode === 'always' && !exporters.includes('store')) exporters.push('store');
  return exporters;
}

/**
 * The profile destinations when OTEL_PROFILES_EXPORTER is not set: Pyroscope when PYROSCOPE_SERVER_ADDRESS
 * is set, the local store when nothing else takes profiles (or SPAN_PROFILES_STORE=always).
 */
export function defaultProfileExporters(parsed: ParsedSoFar): Array<'pyroscope' | 'store'> {
  const serverSet = parsed.PYROSCOPE_SERVER_ADDRESS !== undefined;
  const storeMode = parsed.SPAN_PROFILES_STORE;
  const exporters: Array<'pyroscope' | 'store'> = [];
  if (serverSet) exporters.push('pyroscope');
  if (storeMode === 'always' || (storeMode === 'auto' && !serverSet)) exporters.push('store');
  return exporters;
}
