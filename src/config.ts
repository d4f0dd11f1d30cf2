/**
 * Every environment variable the agent reads, its default and its meaning, in one place.
 *
 * `readConfig()` never throws: a bad value produces one warning naming the variable, the value given and
 * the value used instead, and the default applies. Secret values are never echoed. Variables that the
 * OpenTelemetry exporters read themselves (OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT, _COMPRESSION, ...) are
 * left to them; the ones listed here are those the agent decides with.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import envVar from 'env-var';
import { LOG_LEVELS, type LogLevel } from './logger';
import { INSTRUMENTATION_NAMES } from './tracing/instrumentation-catalog';
import { findAppPackageName } from './app-package';
import { DEFAULT_DENIED_PROGRAMS } from './process-filter';
import { credentialsOf, percentDecoded, redactSecrets, stripUrlCredentials } from './redact';
import { sanitizeStaticLabels } from './export/app-name';

/** The HTTP path of OTLP profiles (opentelemetry-proto profiles/v1development). */
export const OTLP_PROFILES_PATH = '/v1development/profiles';

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

interface VarSpec {
  name: string;
  description: string;
  /** The default as a user would write it (for the table and the messages). */
  defaultText: string;
  secret?: boolean;
}

const MIB = 1024 * 1024;
/** Longest upload interval: Grafana's "Profiles for this span" looks 60 s around the span. */
const MAX_UPLOAD_INTERVAL_MS = 60_000;

/** Reads, validates and records variables; collects warnings instead of throwing. */
class EnvReader {
  readonly entries: ConfigEntry[] = [];
  readonly warnings: string[] = [];
  private readonly from: { get(name: string): envVar.IOptionalVariable };

  constructor(private readonly env: NodeJS.ProcessEnv) {
    this.from = envVar.from(env) as unknown as { get(name: string): envVar.IOptionalVariable };
  }

  /** The raw value, or undefined when unset or empty (the OpenTelemetry spec treats empty as unset). */
  raw(spec: VarSpec): string | undefined {
    const value = this.env[spec.name];
    if (value === undefined || value === '') return undefined;
    if (value.trim() === '') {
      this.warn(spec, value, 'is blank');
      return undefined;
    }
    return value.trim();
  }

  warn(spec: VarSpec, given: string, problem: string, used: string = spec.defaultText): void {
    const shown = spec.secret ? '<redacted>' : quote(given);
    this.warnings.push(`${spec.name}=${shown} ${problem}; using ${used}`);
  }

  record(spec: VarSpec, value: string, isSet: boolean): void {
    this.entries.push({
      name: spec.name,
      value: spec.secret && isSet ? '<redacted>' : redactSecrets(value, []),
      isSet,
      defaultValue: spec.defaultText,
      description: spec.description,
      secret: spec.secret ?? false,
    });
  }

  string(spec: VarSpec): string | undefined {
    const raw = this.raw(spec);
    this.record(spec, raw ?? spec.defaultText, raw !== undefined);
    return raw;
  }

  bool(spec: VarSpec & { fallback: boolean }): boolean {
    const raw = this.raw(spec);
    let value = spec.fallback;
    let isSet = false;
    if (raw !== undefined) {
      const lower = raw.toLowerCase();
      if (lower === 'true' || lower === 'false') {
        value = lower === 'true';
        isSet = true;
      } else {
        this.warn(spec, raw, 'is not true or false');
      }
    }
    this.record(spec, String(value), isSet);
    return value;
  }

  int(spec: VarSpec & { fallback: number; min: number; max: number; unit?: string }): number {
    const raw = this.raw(spec);
    let value = spec.fallback;
    let isSet = false;
    if (raw !== undefined) {
      let parsed: number | undefined;
      try {
        parsed = this.from.get(spec.name).asInt();
      } catch {
        parsed = undefined;
      }
      const what = spec.unit ? `a whole number of ${spec.unit}` : 'a whole number';
      if (parsed === undefined || !Number.isSafeInteger(parsed)) this.warn(spec, raw, `is not ${what}`);
      else if (parsed < spec.min || parsed > spec.max) this.warn(spec, raw, `is outside ${spec.min}..${spec.max}`);
      else {
        value = parsed;
        isSet = true;
      }
    }
    this.record(spec, String(value), isSet);
    return value;
  }

  /** A number between 0 and 1. */
  ratio(spec: VarSpec & { fallback: number }): number {
    const raw = this.raw(spec);
    let value = spec.fallback;
    let isSet = false;
    if (raw !== undefined) {
      const parsed = /^[+]?(\d+(\.\d*)?|\.\d+)$/.test(raw) ? Number(raw) : NaN;
      if (Number.isNaN(parsed)) this.warn(spec, raw, 'is not a number');
      else if (parsed < 0 || parsed > 1) this.warn(spec, raw, 'is outside 0..1');
      else {
        value = parsed;
        isSet = true;
      }
    }
    this.record(spec, String(value), isSet);
    return value;
  }

  /** Durations: `250ms`, `15s`, `2m`, `1h`; a bare number is milliseconds. */
  duration(spec: VarSpec & { fallbackMs: number; minMs: number; maxMs: number }): number {
    const raw = this.raw(spec);
    let value = spec.fallbackMs;
    let isSet = false;
    if (raw !== undefined) {
      const parsed = parseDuration(raw);
      if (parsed === undefined) this.warn(spec, raw, 'is not a duration such as 500ms, 15s or 1m');
      else if (parsed < spec.minMs || parsed > spec.maxMs) {
        this.warn(spec, raw, `is outside ${formatDuration(spec.minMs)}..${formatDuration(spec.maxMs)}`);
      } else {
        value = parsed;
        isSet = true;
      }
    }
    this.record(spec, formatDuration(value), isSet);
    return value;
  }

  /** Sizes: `512KiB`, `256MiB`, `1GB`...; a bare number is MiB. */
  size(spec: VarSpec & { fallbackBytes: number; minBytes: number }): number {
    const raw = this.raw(spec);
    let value = spec.fallbackBytes;
    let isSet = false;
    if (raw !== undefined) {
      const parsed = parseSize(raw);
      if (parsed === undefined) this.warn(spec, raw, 'is not a size such as 256MiB or 1GiB');
      else if (parsed < spec.minBytes) this.warn(spec, raw, `is below the minimum ${formatSize(spec.minBytes)}`);
      else {
        value = parsed;
        isSet = true;
      }
    }
    this.record(spec, formatSize(value), isSet);
    return value;
  }

  enumeration<T extends string>(spec: VarSpec & { fallback: T; values: readonly T[]; caseInsensitive?: boolean }): T {
    const raw = this.raw(spec);
    let value = spec.fallback;
    let isSet = false;
    if (raw !== undefined) {
      const candidate = spec.caseInsensitive ? raw.toLowerCase() : raw;
      const match = spec.values.find((v) => v === candidate);
      if (match === undefined) this.warn(spec, raw, `is not one of ${spec.values.join(', ')}`);
      else {
        value = match;
        isSet = true;
      }
    }
    this.record(spec, value, isSet);
    return value;
  }

  /** Comma-separated names; unknown entries are reported and dropped, the rest kept. */
  nameList(spec: VarSpec, known: readonly string[]): string[] | undefined {
    const raw = this.raw(spec);
    if (raw === undefined) {
      this.record(spec, spec.defaultText, false);
      return undefined;
    }
    const names = raw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    const good = names.filter((n) => known.includes(n));
    const bad = names.filter((n) => !known.includes(n));
    if (bad.length > 0) {
      this.warnings.push(
        `${spec.name}=${quote(raw)} names unknown ${bad.length === 1 ? 'entry' : 'entries'} ${bad.map(quote).join(', ')}; ` +
          `using ${good.length > 0 ? good.join(',') : 'none of it'} (known: ${known.join(', ')})`,
      );
    }
    this.record(spec, good.join(','), true);
    return good;
  }

  /** Comma-separated program names or `*` patterns; entries with other characters are reported and dropped. */
  patternList(spec: VarSpec): string[] | undefined {
    const raw = this.raw(spec);
    if (raw === undefined) {
      this.record(spec, spec.defaultText, false);
      return undefined;
    }
    const entries = raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    const good = entries.filter((e) => /^[A-Za-z0-9@/._*-]+$/.test(e));
    const bad = entries.filter((e) => !good.includes(e));
    if (bad.length > 0) {
      this.warnings.push(`${spec.name}=${quote(raw)} has invalid ${bad.length === 1 ? 'entry' : 'entries'} ${bad.map(quote).join(', ')}; using ${good.join(',') || spec.defaultText || 'none'}`);
    }
    this.record(spec, good.join(','), good.length > 0);
    return good.length > 0 ? good : undefined;
  }

  /** An http(s) URL; credentials in it are kept (the caller moves them to auth) but never printed. */
  url(spec: VarSpec): URL | undefined {
    const raw = this.raw(spec);
    if (raw === undefined) {
      this.record(spec, spec.defaultText, false);
      return undefined;
    }
    let parsed: URL | undefined;
    try {
      parsed = new URL(raw);
    } catch {
      parsed = undefined;
    }
    // Never echo a URL with credentials, not even in a warning.
    const shown = { ...spec, secret: spec.secret || /\/\/[^/]*@/.test(raw) };
    if (!parsed) {
      this.warn(shown, raw, /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? 'is not a valid URL' : 'is not a URL (it needs http:// or https://)');
    } else if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      this.warn(shown, raw, 'is not an http:// or https:// URL');
      parsed = undefined;
    }
    this.record(spec, parsed ? stripUrlCredentials(parsed) : spec.defaultText, parsed !== undefined);
    return parsed;
  }

  /** `k=v,k2=v2`; malformed pairs are reported and dropped, the rest kept. */
  keyValues(spec: VarSpec): Record<string, string> {
    const raw = this.raw(spec);
    const result: Record<string, string> = {};
    if (raw === undefined) {
      this.record(spec, spec.defaultText, false);
      return result;
    }
    const bad: string[] = [];
    for (const part of raw.split(',')) {
      if (part.trim() === '') continue;
      const eq = part.indexOf('=');
      const key = eq > 0 ? part.slice(0, eq).trim() : '';
      const value = eq > 0 ? part.slice(eq + 1).trim() : '';
      if (key === '' || value === '') bad.push(part.trim());
      else result[key] = value;
    }
    if (bad.length > 0) {
      const kept = Object.keys(result).length;
      this.warnings.push(
        `${spec.name} has malformed ${bad.length === 1 ? 'entry' : 'entries'} ${bad.map(quote).join(', ')} (expected key=value); ` +
          `using the other ${kept} ${kept === 1 ? 'entry' : 'entries'}`,
      );
    }
    const shown = Object.entries(result)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    this.record(spec, shown, Object.keys(result).length > 0);
    return result;
  }

  /**
   * OTLP headers, `key=value,key2=value2` with percent-encoded values (the OpenTelemetry spec's format).
   * Always secret: neither values nor malformed entries are ever echoed; the record shows the keys.
   */
  headerList(spec: VarSpec): Record<string, string> | undefined {
    const raw = this.raw(spec);
    if (raw === undefined) {
      this.record(spec, spec.defaultText, false);
      return undefined;
    }
    const result: Record<string, string> = {};
    let bad = 0;
    for (const part of raw.split(',')) {
      if (part.trim() === '') continue;
      const eq = part.indexOf('=');
      const key = eq > 0 ? percentDecoded(part.slice(0, eq).trim()) : '';
      const value = eq > 0 ? percentDecoded(part.slice(eq + 1).trim()) : '';
      if (key === '' || value === '' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(key)) bad++;
      else result[key] = value;
    }
    const kept = Object.keys(result);
    if (bad > 0) {
      this.warnings.push(
        `${spec.name}=<redacted> has ${bad} malformed ${bad === 1 ? 'entry' : 'entries'} (expected key=value,key2=value2 with percent-encoded values); ` +
          `using ${kept.length > 0 ? `the headers ${kept.join(', ')}` : 'no headers from it'}`,
      );
    }
    this.record(spec, kept.join(','), kept.length > 0);
    return result;
  }

  /** A JSON object of string values (header maps). Always secret: headers carry credentials. */
  jsonStringMap(spec: VarSpec): Record<string, string> {
    const raw = this.raw(spec);
    const result: Record<string, string> = {};
    let isSet = false;
    if (raw !== undefined) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch {
        parsed = undefined;
      }
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
        for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
          if (typeof v === 'string') result[k] = v;
        }
        isSet = true;
      } else {
        this.warn(spec, raw, 'is not a JSON object such as {"X-Header":"value"}', 'no extra headers');
      }
    }
    this.record(spec, isSet ? Object.keys(result).join(',') : spec.defaultText, isSet);
    return result;
  }
}

/** Parses `250ms`, `15s`, `2m`, `1h`, or a bare number of milliseconds. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/i.exec(text.trim());
  if (!match) return undefined;
  const amount = Number(match[1]);
  const unit = (match[2] ?? 'ms').toLowerCase();
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  const ms = Math.round(amount * factor);
  return Number.isSafeInteger(ms) ? ms : undefined;
}

export function formatDuration(ms: number): string {
  if (ms !== 0 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms !== 0 && ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** Parses `512KiB`, `256MiB`, `1GiB`, `100MB`, `1024B`, or a bare number of MiB. */
export function parseSize(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?$/i.exec(text.trim());
  if (!match) return undefined;
  const amount = Number(match[1]);
  const unit = (match[2] ?? 'mib').toLowerCase();
  const factors: Record<string, number> = {
    b: 1,
    kb: 1000,
    kib: 1024,
    mb: 1000 ** 2,
    mib: MIB,
    gb: 1000 ** 3,
    gib: 1024 ** 3,
  };
  const bytes = Math.round(amount * (factors[unit] ?? MIB));
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

export function formatSize(bytes: number): string {
  if (bytes % (1024 * MIB) === 0) return `${bytes / (1024 * MIB)}GiB`;
  if (bytes % MIB === 0) return `${bytes / MIB}MiB`;
  if (bytes % 1024 === 0) return `${bytes / 1024}KiB`;
  return `${bytes}B`;
}

/** A value as it may appear in a warning: quoted, control characters escaped, long values cut. */
function quote(value: string): string {
  // A URL with credentials in the wrong variable is still a secret.
  const safe = redactSecrets(value, []);
  const cut = safe.length > 80 ? safe.slice(0, 77) + '...' : safe;
  return JSON.stringify(cut);
}

/** Percent-decodes attribute values, as the spec says OTEL_RESOURCE_ATTRIBUTES values are encoded. */
function decodeValues(pairs: Record<string, string>): Record<string, string> {
  const decoded: Record<string, string> = {};
  for (const [key, value] of Object.entries(pairs)) decoded[key] = percentDecoded(value);
  return decoded;
}

/** Where the local store lives when SPAN_PROFILES_DIR is not set. */
const DEFAULT_STORE_DIR = path.join(os.tmpdir(), 'span-profiles');

/** The default local store directory; the CLI uses the same. */
export function defaultStoreDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.SPAN_PROFILES_DIR?.trim();
  return fromEnv ? path.resolve(fromEnv) : DEFAULT_STORE_DIR;
}

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

const DEFAULT_DETECTORS = ['env', 'host', 'os', 'process', 'serviceinstance', 'container'];

/**
 * Reads the agent's configuration from `env`. Never throws.
 */
export function readConfig(env: NodeJS.ProcessEnv = process.env): ConfigReport {
  const r = new EnvReader(env);

  const disabled = r.bool({
    name: 'OTEL_SDK_DISABLED',
    description: 'true turns the whole agent off: no tracing, no profiling.',
    defaultText: 'false',
    fallback: false,
  });
  const logLevel = r.enumeration<LogLevel>({
    name: 'OTEL_LOG_LEVEL',
    description: "The agent's own diagnostics on stderr; info or debug also print a startup summary.",
    defaultText: 'warn',
    fallback: 'warn',
    values: LOG_LEVELS,
    caseInsensitive: true,
  });

  // Service name: OTEL_SERVICE_NAME wins over service.name in OTEL_RESOURCE_ATTRIBUTES (spec), then the
  // app's package.json, then the SDK default.
  const explicitName = r.string({
    name: 'OTEL_SERVICE_NAME',
    description: "The service name of traces and profiles. Defaults to service.name in OTEL_RESOURCE_ATTRIBUTES, else the app's package.json name.",
    defaultText: 'package.json name',
  });
  const resourceAttributes = decodeValues(
    r.keyValues({
      name: 'OTEL_RESOURCE_ATTRIBUTES',
      description: 'Extra resource attributes, key=value,key=value (values percent-encoded).',
      defaultText: '',
    }),
  );
  let serviceName: string;
  let serviceNameSource: AgentConfig['serviceNameSource'];
  const fromAttributes = resourceAttributes['service.name'];
  const fromPackage = explicitName || fromAttributes ? undefined : findAppPackageName();
  if (explicitName) {
    serviceName = explicitName;
    serviceNameSource = 'OTEL_SERVICE_NAME';
  } else if (fromAttributes) {
    serviceName = fromAttributes;
    serviceNameSource = 'OTEL_RESOURCE_ATTRIBUTES';
  } else if (fromPackage) {
    serviceName = fromPackage;
    serviceNameSource = 'package.json';
  } else {
    serviceName = 'unknown_service:node';
    serviceNameSource = 'default';
  }

  const storeMode = r.enumeration<StoreMode>({
    name: 'SPAN_PROFILES_STORE',
    description:
      'The local store: auto keeps what has no other destination (profiles without PYROSCOPE_SERVER_ADDRESS or OTEL_PROFILES_EXPORTER, spans without an OTLP endpoint); always keeps both beside the backends; never turns it off.',
    defaultText: 'auto',
    fallback: 'auto',
    values: ['auto', 'always', 'never'],
    caseInsensitive: true,
  });

  // Traces.
  const otlpTracesEndpoint = r.url({
    name: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
    description: 'The OTLP traces URL (used as is). Headers, timeout and compression variables are read by the exporter.',
    defaultText: '',
  });
  const otlpEndpoint = r.url({
    name: 'OTEL_EXPORTER_OTLP_ENDPOINT',
    description: 'The OTLP base URL; traces go to <url>/v1/traces for http protocols.',
    defaultText: '',
  });
  const endpointConfigured = otlpTracesEndpoint !== undefined || otlpEndpoint !== undefined;
  const tracesDefault: TraceExporterName[] = endpointConfigured || storeMode === 'never' ? ['otlp'] : ['store'];
  if (storeMode === 'always' && !tracesDefault.includes('store')) tracesDefault.push('store');
  const exportersSpec: VarSpec = {
    name: 'OTEL_TRACES_EXPORTER',
    description:
      'Comma list of otlp, console, zipkin, store, none. Default: otlp when an OTLP endpoint is set, else store (the local store).',
    defaultText: tracesDefault.join(','),
  };
  const exporterNames = r.nameList(exportersSpec, ['otlp', 'console', 'zipkin', 'store', 'none']);
  let exporters: TraceExporterName[];
  if (exporterNames === undefined) exporters = tracesDefault;
  else if (exporterNames.includes('none')) exporters = [];
  else if (exporterNames.length === 0) exporters = tracesDefault;
  else exporters = exporterNames as TraceExporterName[];
  if (storeMode === 'always' && !exporters.includes('store')) exporters = [...exporters, 'store'];

  const protocolSpec = {
    description: 'http/protobuf, http/json or grpc.',
    defaultText: 'http/protobuf',
    values: ['http/protobuf', 'http/json', 'grpc'] as const,
  };
  const generalProtocol = r.enumeration<OtlpProtocol>({
    ...protocolSpec,
    name: 'OTEL_EXPORTER_OTLP_PROTOCOL',
    fallback: 'http/protobuf',
  });
  const otlpProtocol = r.enumeration<OtlpProtocol>({
    ...protocolSpec,
    name: 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
    description: 'Overrides OTEL_EXPORTER_OTLP_PROTOCOL for traces.',
    defaultText: generalProtocol,
    fallback: generalProtocol,
  });
  let tracesUrl: string | undefined;
  if (otlpTracesEndpoint) tracesUrl = stripUrlCredentials(otlpTracesEndpoint);
  else if (otlpEndpoint) {
    const base = stripUrlCredentials(otlpEndpoint).replace(/\/$/, '');
    tracesUrl = otlpProtocol === 'grpc' ? base : `${base}/v1/traces`;
  } else if (exporters.includes('otlp')) {
    tracesUrl = otlpProtocol === 'grpc' ? 'http://localhost:4317' : 'http://localhost:4318/v1/traces';
  }

  const sampler = r.enumeration<SamplerName>({
    name: 'OTEL_TRACES_SAMPLER',
    description: 'always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio.',
    defaultText: 'parentbased_always_on',
    fallback: 'parentbased_always_on',
    values: ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'],
  });
  const samplerRatio = r.ratio({
    name: 'OTEL_TRACES_SAMPLER_ARG',
    description: 'The sampling ratio of the traceidratio samplers, 0..1.',
    defaultText: '1',
    fallback: 1,
  });
  const propagatorNames = r.nameList(
    {
      name: 'OTEL_PROPAGATORS',
      description: 'Comma list of tracecontext, baggage, b3, b3multi, none.',
      defaultText: 'tracecontext,baggage',
    },
    ['tracecontext', 'baggage', 'b3', 'b3multi', 'none'],
  );
  let propagators: PropagatorName[];
  if (propagatorNames === undefined || propagatorNames.length === 0) propagators = ['tracecontext', 'baggage'];
  else if (propagatorNames.includes('none')) propagators = [];
  else propagators = [...new Set(propagatorNames)] as PropagatorName[];

  const batch = {
    scheduledDelayMillis: r.int({
      name: 'OTEL_BSP_SCHEDULE_DELAY',
      description: 'Delay between two span exports, ms.',
      defaultText: '5000',
      fallback: 5000,
      min: 0,
      max: 3_600_000,
      unit: 'milliseconds',
    }),
    exportTimeoutMillis: r.int({
      name: 'OTEL_BSP_EXPORT_TIMEOUT',
      description: 'Longest a span export may take, ms.',
      defaultText: '30000',
      fallback: 30_000,
      min: 1,
      max: 3_600_000,
      unit: 'milliseconds',
    }),
    maxQueueSize: r.int({
      name: 'OTEL_BSP_MAX_QUEUE_SIZE',
      description: 'Spans buffered before new ones are dropped.',
      defaultText: '2048',
      fallback: 2048,
      min: 1,
      max: 10_000_000,
    }),
    maxExportBatchSize: r.int({
      name: 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
      description: 'Spans per export; at most OTEL_BSP_MAX_QUEUE_SIZE.',
      defaultText: '512',
      fallback: 512,
      min: 1,
      max: 10_000_000,
    }),
  };
  if (batch.maxExportBatchSize > batch.maxQueueSize) {
    r.warnings.push(
      `OTEL_BSP_MAX_EXPORT_BATCH_SIZE=${batch.maxExportBatchSize} is larger than OTEL_BSP_MAX_QUEUE_SIZE=${batch.maxQueueSize}; using ${batch.maxQueueSize}`,
    );
    batch.maxExportBatchSize = batch.maxQueueSize;
  }

  const enabledInstrumentations = r.nameList(
    {
      name: 'OTEL_NODE_ENABLED_INSTRUMENTATIONS',
      description: 'Comma list of instrumentation short names (http,express,pg,...) to enable; only these load.',
      defaultText: 'all but fs and host-metrics',
    },
    INSTRUMENTATION_NAMES,
  );
  const disabledInstrumentations =
    r.nameList(
      {
        name: 'OTEL_NODE_DISABLED_INSTRUMENTATIONS',
        description: 'Comma list of instrumentation short names to disable (applied after the enabled list).',
        defaultText: '',
      },
      INSTRUMENTATION_NAMES,
    ) ?? [];
  const detectorNames = r.nameList(
    {
      name: 'OTEL_NODE_RESOURCE_DETECTORS',
      description: 'Comma list of env, host, os, process, serviceinstance, container, alibaba, aws, azure, gcp, all, none.',
      defaultText: DEFAULT_DETECTORS.join(','),
    },
    RESOURCE_DETECTOR_NAMES,
  );
  let resourceDetectors = detectorNames ?? DEFAULT_DETECTORS;
  if (resourceDetectors.includes('none')) resourceDetectors = [];
  else if (resourceDetectors.includes('all')) {
    resourceDetectors = RESOURCE_DETECTOR_NAMES.filter((n) => n !== 'all' && n !== 'none');
  }

  // Metrics and logs are not this agent's job; on only when asked for, then the SDK reads these itself.
  const metricsExporters = r.nameList(
    {
      name: 'OTEL_METRICS_EXPORTER',
      description: 'Metrics are off unless set: otlp, console, prometheus, none (then the OpenTelemetry SDK exports them).',
      defaultText: 'off',
    },
    ['otlp', 'console', 'prometheus', 'none'],
  );
  const logsExporters = r.nameList(
    {
      name: 'OTEL_LOGS_EXPORTER',
      description: 'Log export is off unless set: otlp, console, none.',
      defaultText: 'off',
    },
    ['otlp', 'console', 'none'],
  );
  const metricsExporterSet = (metricsExporters ?? []).some((n) => n !== 'none');
  const logsExporterSet = (logsExporters ?? []).some((n) => n !== 'none');

  // Profiling, named as Grafana's Java agent names them.
  const profiling = {
    enabled: r.bool({
      name: 'OTEL_PYROSCOPE_START_PROFILING',
      description: 'Run the CPU profiler. false keeps tracing only.',
      defaultText: 'true',
      fallback: true,
    }),
    rootSpanOnly: r.bool({
      name: 'OTEL_PYROSCOPE_ROOT_SPAN_ONLY',
      description: "true: samples carry the local root span's id. false: every span gets its own pyroscope.profile.id and samples carry the innermost span's id.",
      defaultText: 'true',
      fallback: true,
    }),
    addSpanName: r.bool({
      name: 'OTEL_PYROSCOPE_ADD_SPAN_NAME',
      description: 'Add the span_name label (the root span\'s final name) to samples.',
      defaultText: 'true',
      fallback: true,
    }),
    samplingIntervalMicros:
      r.duration({
        name: 'PYROSCOPE_PROFILING_INTERVAL',
        description: 'CPU sampling interval.',
        defaultText: '10ms',
        fallbackMs: 10,
        minMs: 1,
        maxMs: 1000,
      }) * 1000,
    uploadIntervalMs: r.duration({
      name: 'PYROSCOPE_UPLOAD_INTERVAL',
      description:
        "How often profiles are cut and sent, at most 60s (longer is cut to 60s: Grafana looks for a span's profile within 60 s of it, and a profile is stamped with its window's start).",
      defaultText: '15s',
      fallbackMs: 15_000,
      minMs: 1000,
      maxMs: 24 * 3_600_000,
    }),
    wall: r.bool({
      name: 'SPAN_PROFILES_WALL',
      description: 'Also send the wall-clock profile (Pyroscope type wall).',
      defaultText: 'false',
      fallback: false,
    }),
    sourceMaps: r.bool({
      name: 'SPAN_PROFILES_SOURCE_MAPS',
      description: "Report frames of compiled code (TypeScript, bundles) at their original file, line and function through the code's source maps. false keeps the compiled .js locations.",
      defaultText: 'true',
      fallback: true,
    }),
    heap: {
      enabled: r.bool({
        name: 'SPAN_PROFILES_HEAP',
        description: "Run V8's sampling heap profiler and send heap profiles (Pyroscope types memory:inuse_space and memory:inuse_objects) every upload interval. false turns it off.",
        defaultText: 'true',
        fallback: true,
      }),
      samplingIntervalBytes: r.int({
        name: 'PYROSCOPE_HEAP_SAMPLING_INTERVAL_BYTES',
        description: 'Average bytes allocated between two heap samples. Smaller is more precise and costs more CPU.',
        defaultText: '524288',
        fallback: 512 * 1024,
        min: 1024,
        max: 1024 * 1024 * 1024,
        unit: 'bytes',
      }),
      stackDepth: r.int({
        name: 'PYROSCOPE_HEAP_STACK_DEPTH',
        description: 'Deepest stack recorded per heap sample, frames.',
        defaultText: '64',
        fallback: 64,
        min: 1,
        max: 1024,
        unit: 'frames',
      }),
    },
  };

  if (profiling.uploadIntervalMs > MAX_UPLOAD_INTERVAL_MS) {
    r.warnings.push(
      `PYROSCOPE_UPLOAD_INTERVAL=${quote(env.PYROSCOPE_UPLOAD_INTERVAL ?? '')} is longer than 60s: Grafana looks for a span's ` +
        "profile from 60 s before it to 60 s after it, and a profile is stamped with its window's start, so spans late in a longer " +
        'window would find no profile; using 60s',
    );
    profiling.uploadIntervalMs = MAX_UPLOAD_INTERVAL_MS;
    const entry = r.entries.find((e) => e.name === 'PYROSCOPE_UPLOAD_INTERVAL');
    if (entry) entry.value = formatDuration(MAX_UPLOAD_INTERVAL_MS);
  }

  // Pyroscope, named as Grafana's other agents name them.
  const serverUrl = r.url({
    name: 'PYROSCOPE_SERVER_ADDRESS',
    description: 'Pyroscope URL, e.g. http://pyroscope:4040. Unset: profiles go to the local store.',
    defaultText: '',
  });
  const applicationName = r.string({
    name: 'PYROSCOPE_APPLICATION_NAME',
    description: 'The Pyroscope application (service_name). Default: the service name, with characters Pyroscope rejects replaced by _.',
    defaultText: 'the service name',
  });
  const givenLabels = r.keyValues({
    name: 'PYROSCOPE_LABELS',
    description:
      'Static profile labels, key=value,key=value. Names are sent as letters, digits and _ (dots become _, a leading digit gets a _), at most 23 labels.',
    defaultText: '',
  });
  const { labels, problems: labelProblems } = sanitizeStaticLabels(givenLabels);
  for (const problem of labelProblems) r.warnings.push(`PYROSCOPE_LABELS: ${redactSecrets(problem, [])}`);
  const basicUser = r.string({
    name: 'PYROSCOPE_BASIC_AUTH_USER',
    description: 'Basic auth user (Grafana Cloud: the stack user id).',
    defaultText: '',
  });
  const basicPassword = r.string({
    name: 'PYROSCOPE_BASIC_AUTH_PASSWORD',
    description: 'Basic auth password (Grafana Cloud: an access token).',
    defaultText: '',
    secret: true,
  });
  const authToken = r.string({
    name: 'PYROSCOPE_AUTH_TOKEN',
    description: 'Bearer token, sent as Authorization: Bearer.',
    defaultText: '',
    secret: true,
  });
  const tenantId = r.string({
    name: 'PYROSCOPE_TENANT_ID',
    description: 'Tenant, sent as X-Scope-OrgID.',
    defaultText: '',
  });
  const headers = r.jsonStringMap({
    name: 'PYROSCOPE_HTTP_HEADERS',
    description: 'Extra upload headers as a JSON object.',
    defaultText: '',
    secret: true,
  });
  const timeoutMs = r.duration({
    name: 'SPAN_PROFILES_UPLOAD_TIMEOUT',
    description: 'Timeout of one profile upload to Pyroscope.',
    defaultText: '10s',
    fallbackMs: 10_000,
    minMs: 100,
    maxMs: 120_000,
  });
  const queueSize = r.int({
    name: 'SPAN_PROFILES_UPLOAD_QUEUE',
    description: 'Profiles kept per destination (Pyroscope, OTLP) while it is unreachable; when full the oldest is dropped (and counted).',
    defaultText: '8',
    fallback: 8,
    min: 1,
    max: 1000,
  });

  const traceIdLabel = r.enumeration<'auto' | 'true' | 'false'>({
    name: 'SPAN_PROFILES_TRACE_ID_LABEL',
    description:
      'auto: samples sent to Pyroscope carry trace_id only if the server (asked once at /api/v1/status/buildinfo) is 2.1.0 or later; older ones make each trace_id a series. true forces it (on an older server: one series per request), false leaves it out.',
    defaultText: 'auto',
    fallback: 'auto',
    values: ['auto', 'true', 'false'],
    caseInsensitive: true,
  });
  const maxSpanNames = r.int({
    name: 'SPAN_PROFILES_MAX_SPAN_NAMES',
    description:
      'Distinct span_name values a process sends to Pyroscope or over OTLP in its lifetime (each is a series); later names are sent as "(other span names)". The local store keeps the real names.',
    defaultText: '200',
    fallback: 200,
    min: 1,
    max: 100_000,
  });
  const maxUploadBytes = r.size({
    name: 'SPAN_PROFILES_MAX_UPLOAD_SIZE',
    description:
      "Largest Pyroscope upload, uncompressed with its labels; bigger profiles are split. Pyroscope refuses (429, for good) one over its ingestion burst, 2 MiB by default: raise it only with the server's distributor.ingestion-burst-size-mb (and validation.max-profile-size-bytes above 4 MiB).",
    defaultText: '2MiB',
    fallbackBytes: 2 * MIB,
    minBytes: 256 * 1024,
  });

  let basicAuth: AgentConfig['pyroscope']['basicAuth'];
  let serverAddress: string | undefined;
  if (serverUrl) {
    // Credentials in the URL become basic auth, so the address itself is safe to print.
    basicAuth = credentialsOf(serverUrl);
    serverAddress = stripUrlCredentials(serverUrl);
  }
  if (basicUser !== undefined || basicPassword !== undefined) {
    basicAuth = { user: basicUser ?? '', password: basicPassword ?? '' };
  }

  const profiles = readProfileDestinations(r, {
    serverAddress,
    storeMode,
    otlpEndpoint,
    generalProtocol,
  });

  const storeDir = r.string({
    name: 'SPAN_PROFILES_DIR',
    description: 'The local store directory.',
    defaultText: DEFAULT_STORE_DIR,
  });
  const storeMaxBytes = r.size({
    name: 'SPAN_PROFILES_STORE_MAX_SIZE',
    description: 'Size cap of the local store; the oldest files are removed first.',
    defaultText: '256MiB',
    fallbackBytes: 256 * MIB,
    minBytes: MIB,
  });

  const shutdownTimeoutMs = r.duration({
    name: 'SPAN_PROFILES_SHUTDOWN_TIMEOUT',
    description: 'Longest the agent may delay exit to flush spans and the last profile.',
    defaultText: '5s',
    fallbackMs: 5000,
    minMs: 0,
    maxMs: 60_000,
  });
  const esmHook = r.bool({
    name: 'SPAN_PROFILES_ESM_HOOK',
    description: 'Register the ESM loader hook so ES module apps are instrumented.',
    defaultText: 'true',
    fallback: true,
  });

  const allowList = r.patternList({
    name: 'SPAN_PROFILES_PROCESS_ALLOW',
    description: 'Comma list of programs (script file name or package name, * wildcards) the agent starts in; unset: any not denied.',
    defaultText: '',
  });
  const denyList =
    r.patternList({
      name: 'SPAN_PROFILES_PROCESS_DENY',
      description: 'Comma list of programs the agent stays out of (NODE_OPTIONS reaches them all).',
      defaultText: DEFAULT_DENIED_PROGRAMS.join(','),
    }) ?? DEFAULT_DENIED_PROGRAMS;

  const config: AgentConfig = {
    disabled,
    logLevel,
    serviceName,
    serviceNamespace: resourceAttributes['service.namespace'],
    resourceAttributes,
    serviceNameSource,
    traces: {
      exporters,
      otlpProtocol,
      otlpEndpoint: exporters.includes('otlp') ? tracesUrl : undefined,
      sampler,
      samplerRatio,
      propagators,
      batch,
    },
    instrumentations: { enabled: enabledInstrumentations, disabled: disabledInstrumentations },
    resourceDetectors,
    metricsExporterSet,
    logsExporterSet,
    profiling,
    profiles,
    pyroscope: {
      serverAddress,
      applicationName: applicationName ?? serviceName,
      labels,
      basicAuth,
      authToken,
      tenantId,
      headers,
      timeoutMs,
      queueSize,
      traceId: traceIdLabel === 'true' ? 'on' : traceIdLabel === 'false' ? 'off' : 'auto',
      maxSpanNames,
      maxUploadBytes,
    },
    store: {
      mode: storeMode,
      dir: storeDir ? path.resolve(storeDir) : DEFAULT_STORE_DIR,
      maxBytes: storeMaxBytes,
      profiles: profiles.exporters.includes('store'),
      spans: exporters.includes('store'),
    },
    shutdownTimeoutMs,
    esmHook,
    process: { allow: allowList, deny: denyList },
  };
  if (profiles.none) {
    config.profiling.enabled = false;
  } else if (profiles.exporters.length === 0 && profiling.enabled) {
    r.warnings.push(
      storeMode === 'never' && !serverAddress && !env.OTEL_PROFILES_EXPORTER
        ? 'SPAN_PROFILES_STORE="never" and no PYROSCOPE_SERVER_ADDRESS: profiles have nowhere to go; the profiler stays off'
        : 'no profile destination is left (see the warnings above): profiles have nowhere to go; the profiler stays off',
    );
    config.profiling.enabled = false;
  }
  return { config, warnings: r.warnings, entries: r.entries };
}

/**
 * OTEL_PROFILES_EXPORTER and the OTLP profiles variables. The OpenTelemetry specification has no profiles
 * variables yet; these are the names it gives every other signal, with PROFILES for the signal.
 * Unset, the destinations are today's: Pyroscope when PYROSCOPE_SERVER_ADDRESS is set, the local store
 * when nothing else takes profiles (or SPAN_PROFILES_STORE=always).
 */
function readProfileDestinations(
  r: EnvReader,
  given: { serverAddress: string | undefined; storeMode: StoreMode; otlpEndpoint: URL | undefined; generalProtocol: OtlpProtocol },
): AgentConfig['profiles'] {
  const { serverAddress, storeMode } = given;
  const defaults: ProfileExporterName[] = [];
  if (serverAddress) defaults.push('pyroscope');
  if (storeMode === 'always' || (storeMode === 'auto' && !serverAddress)) defaults.push('store');
  const names = r.nameList(
    {
      name: 'OTEL_PROFILES_EXPORTER',
      description:
        'Comma list of otlp, pyroscope, store, none: where profiles go. Default: pyroscope when PYROSCOPE_SERVER_ADDRESS is set, else store. Ahead of the OpenTelemetry specification.',
      defaultText: defaults.join(',') || 'none',
    },
    ['otlp', 'pyroscope', 'store', 'none'],
  );
  let exporters: ProfileExporterName[];
  let none = false;
  if (names === undefined || names.length === 0) exporters = defaults;
  else if (names.includes('none')) {
    exporters = [];
    none = true;
  } else {
    exporters = [...new Set(names)] as ProfileExporterName[];
    if (exporters.includes('pyroscope') && !serverAddress) {
      r.warnings.push('OTEL_PROFILES_EXPORTER names pyroscope but PYROSCOPE_SERVER_ADDRESS is not set; leaving pyroscope out');
      exporters = exporters.filter((name) => name !== 'pyroscope');
    }
  }
  if (!none && storeMode === 'always' && !exporters.includes('store')) exporters.push('store');
  const signalEndpoint = r.url({
    name: 'OTEL_EXPORTER_OTLP_PROFILES_ENDPOINT',
    description: `The OTLP profiles URL (used as is). Default: OTEL_EXPORTER_OTLP_ENDPOINT + ${OTLP_PROFILES_PATH}, else http://localhost:4318${OTLP_PROFILES_PATH} (grpc: the base endpoint, else http://localhost:4317).`,
    defaultText: '',
  });
  const protocol = r.enumeration<OtlpProtocol>({
    name: 'OTEL_EXPORTER_OTLP_PROFILES_PROTOCOL',
    description: 'Overrides OTEL_EXPORTER_OTLP_PROTOCOL for profiles: http/protobuf, http/json or grpc.',
    defaultText: given.generalProtocol,
    fallback: given.generalProtocol,
    values: ['http/protobuf', 'http/json', 'grpc'],
  });
  // gRPC has no signal path: the base endpoint is the server, as for traces.
  let url: string;
  if (signalEndpoint) url = signalEndpoint.href;
  else if (given.otlpEndpoint) {
    const base = given.otlpEndpoint.href.replace(/\/+$/u, '');
    url = protocol === 'grpc' ? base : `${base}${OTLP_PROFILES_PATH}`;
  } else url = protocol === 'grpc' ? 'http://localhost:4317' : `http://localhost:4318${OTLP_PROFILES_PATH}`;

  const generalHeaders = r.headerList({
    name: 'OTEL_EXPORTER_OTLP_HEADERS',
    description: 'Headers of every OTLP request, key=value,key2=value2 (percent-encoded values). Traces: read by the exporter.',
    defaultText: '',
    secret: true,
  });
  const profileHeaders = r.headerList({
    name: 'OTEL_EXPORTER_OTLP_PROFILES_HEADERS',
    description: 'Headers of OTLP profiles requests, added to OTEL_EXPORTER_OTLP_HEADERS (same key: this one wins).',
    defaultText: '',
    secret: true,
  });
  const timeoutSpec = { description: 'Timeout of one OTLP request, milliseconds.', min: 1, max: 600_000, unit: 'milliseconds' };
  const generalTimeout = r.int({ ...timeoutSpec, name: 'OTEL_EXPORTER_OTLP_TIMEOUT', defaultText: '10000', fallback: 10_000 });
  const timeoutMs = r.int({
    ...timeoutSpec,
    name: 'OTEL_EXPORTER_OTLP_PROFILES_TIMEOUT',
    description: 'Overrides OTEL_EXPORTER_OTLP_TIMEOUT for profiles, milliseconds.',
    defaultText: String(generalTimeout),
    fallback: generalTimeout,
  });
  const compressionSpec = { values: ['gzip', 'none'] as const, caseInsensitive: true };
  const generalCompression = r.enumeration<'gzip' | 'none'>({
    ...compressionSpec,
    name: 'OTEL_EXPORTER_OTLP_COMPRESSION',
    description: 'gzip or none, for every OTLP signal.',
    defaultText: 'none',
    fallback: 'none',
  });
  const compression = r.enumeration<'gzip' | 'none'>({
    ...compressionSpec,
    name: 'OTEL_EXPORTER_OTLP_PROFILES_COMPRESSION',
    description: 'Overrides OTEL_EXPORTER_OTLP_COMPRESSION for profiles.',
    defaultText: generalCompression,
    fallback: generalCompression,
  });

  return {
    exporters,
    none,
    otlp: {
      url,
      displayUrl: protocol === 'grpc' ? new URL(url).origin : stripUrlCredentials(url),
      protocol,
      headers: { ...generalHeaders, ...profileHeaders },
      compression,
      timeoutMs,
    },
  };
}
