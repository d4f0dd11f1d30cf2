/**
 * The shape of the resolved configuration: what `readConfig` returns and the agent, the tracing setup
 * and `span-profiles doctor` read. No logic here.
 */
import type { LogLevel } from '../logger';

/** A trace destination the agent can build from OTEL_TRACES_EXPORTER. */
export type TraceExporterName = 'otlp' | 'console' | 'zipkin' | 'store';
/** A profile destination the agent can build from OTEL_PROFILES_EXPORTER. */
export type ProfileExporterName = 'otlp' | 'pyroscope' | 'store';
export type OtlpProtocol = 'http/protobuf' | 'http/json' | 'grpc';
export type StoreMode = 'auto' | 'always' | 'never';
export type SamplerName =
  | 'always_on'
  | 'always_off'
  | 'traceidratio'
  | 'parentbased_always_on'
  | 'parentbased_always_off'
  | 'parentbased_traceidratio';
export type PropagatorName = 'tracecontext' | 'baggage' | 'b3' | 'b3multi';

/** The resolved configuration. */
export interface AgentConfig {
  disabled: boolean;
  logLevel: LogLevel;
  serviceName: string;
  /** service.namespace from OTEL_RESOURCE_ATTRIBUTES (Grafana's default profile query uses it). */
  serviceNamespace: string | undefined;
  /** OTEL_RESOURCE_ATTRIBUTES, validated and percent-decoded (the resource's `env` detector). */
  resourceAttributes: Record<string, string>;
  /** Where the service name came from, for the startup summary. */
  serviceNameSource: 'OTEL_SERVICE_NAME' | 'OTEL_RESOURCE_ATTRIBUTES' | 'package.json' | 'default';
  traces: {
    exporters: TraceExporterName[];
    otlpProtocol: OtlpProtocol;
    /** The traces URL, credentials stripped: for display only; the exporter reads the env itself. */
    otlpEndpoint: string | undefined;
    sampler: SamplerName;
    /** The ratio for the traceidratio samplers, 0..1. */
    samplerRatio: number;
    /** Empty: no propagation (OTEL_PROPAGATORS=none). */
    propagators: PropagatorName[];
    batch: {
      scheduledDelayMillis: number;
      exportTimeoutMillis: number;
      maxQueueSize: number;
      maxExportBatchSize: number;
    };
  };
  instrumentations: {
    /** Short names named in OTEL_NODE_ENABLED_INSTRUMENTATIONS, or undefined for the defaults. */
    enabled: string[] | undefined;
    disabled: string[];
  };
  resourceDetectors: string[];
  metricsExporterSet: boolean;
  logsExporterSet: boolean;
  profiling: {
    enabled: boolean;
    rootSpanOnly: boolean;
    addSpanName: boolean;
    samplingIntervalMicros: number;
    uploadIntervalMs: number;
    wall: boolean;
    /** Map frames of compiled code to their original source through source maps. */
    sourceMaps: boolean;
    heap: {
      enabled: boolean;
      /** Average bytes allocated between two heap samples. */
      samplingIntervalBytes: number;
      /** Deepest stack recorded per heap sample. */
      stackDepth: number;
    };
  };
  /** Where profiles go (OTEL_PROFILES_EXPORTER), and the OTLP profiles exporter's settings. */
  profiles: {
    exporters: ProfileExporterName[];
    /** OTEL_PROFILES_EXPORTER=none: the profiler is off by choice. */
    none: boolean;
    otlp: {
      /** The signal URL as given or derived, credentials included: never print it; use `displayUrl`. */
      url: string;
      displayUrl: string;
      protocol: OtlpProtocol;
      /** OTEL_EXPORTER_OTLP_HEADERS merged with OTEL_EXPORTER_OTLP_PROFILES_HEADERS (which wins). Secret. */
      headers: Record<string, string>;
      compression: 'gzip' | 'none';
      timeoutMs: number;
    };
  };
  pyroscope: {
    serverAddress: string | undefined;
    applicationName: string;
    labels: Record<string, string>;
    basicAuth: { user: string; password: string } | undefined;
    authToken: string | undefined;
    tenantId: string | undefined;
    headers: Record<string, string>;
    timeoutMs: number;
    queueSize: number;
    /** auto: trace_id only if the server's version keeps it out of series labels; on/off force it. */
    traceId: 'auto' | 'on' | 'off';
    /** Distinct span_name values one process sends to Pyroscope in its lifetime. */
    maxSpanNames: number;
    /** Largest upload as Pyroscope's rate limiter counts it (series labels + uncompressed profile). */
    maxUploadBytes: number;
  };
  store: {
    mode: StoreMode;
    dir: string;
    maxBytes: number;
    profiles: boolean;
    spans: boolean;
  };
  shutdownTimeoutMs: number;
  esmHook: boolean;
  process: {
    /** Program names (script or package, `*` wildcards) the agent may start in; undefined: any. */
    allow: string[] | undefined;
    deny: string[];
  };
}

/** One variable as the agent resolved it: what `span-profiles doctor` and the debug summary print. */
export interface ConfigEntry {
  name: string;
  /** The resolved value as text; `<redacted>` for a secret that is set. */
  value: string;
  /** Given in the environment (a bad value given counts as not set: the default applies). */
  isSet: boolean;
  defaultValue: string;
  description: string;
  secret: boolean;
}

export interface ConfigReport {
  config: AgentConfig;
  /** One line per bad value, ready to print. */
  warnings: string[];
  entries: ConfigEntry[];
}

