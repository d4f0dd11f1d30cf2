/**
 * Uploads profiles to Grafana Pyroscope's `/ingest` endpoint (gzipped pprof body), the wire format of
 * @pyroscope/nodejs 0.6.2+: `POST {server}/ingest?name=app{k=v}&from=&until=&format=pprof&
 * spyName=nodespy&sampleRate=`. Queueing, retries and deadlines live in {@link UploadQueue}.
 *
 * What is sent follows Pyroscope's ingest rules (grafana/pyroscope; see the README's contract table):
 * - trace_id only where the server keeps it out of series labels (server-version.ts), span_name cut and
 *   bounded for the process's lifetime (pyroscope-labels.ts);
 * - every upload under the distributor's ingestion burst (2 MiB by default: series label bytes plus
 *   the uncompressed profile, `pkg/distributor/distributor.go` rateLimit) and 16,000 samples;
 * - a 429 whose body says the push was over the rate limit is retried once; if it comes again, or
 *   says the upload alone is over the default burst, the upload is split in halves (no sample lost),
 *   later uploads are built smaller, and one warning says why.
 *
 * Transport: node:http/https rather than global fetch, because only a raw request gives us its
 * socket, which we unref so an upload to a slow or hanging server never keeps the app's process
 * alive; undici's sockets cannot be unref'd.
 */

import type * as http from 'node:http';
import { promisify } from 'node:util';
import { gunzip as gunzipCallback } from 'node:zlib';
import { Profile } from 'pprof-format';
import { describeError, getLogger } from '../logger';
import { credentialsOf, redactSecrets } from '../redact';
import { formatIngestName } from './app-name';
import { postUntraced } from './http-post';
import { buildProfiles, buildProfilesOfCut } from '../profiler/profile-builder';
import { encodeHeapCut } from '../profiler/heap-profiler';
import { PYROSCOPE_INGEST_BURST_BYTES, PYROSCOPE_INGEST_RATE_BYTES_PER_SECOND, PYROSCOPE_PROFILE_LIMITS } from '../profiler/profile-limits';
import type { EncodedProfile, HeapCut, ProfileCut, ProfileExporter } from './profile-exporter';
import { DEFAULT_MAX_SPAN_NAMES, relabelForPyroscope, SpanNameGuard } from './pyroscope-labels';
import { keepsTraceIdPerSample, probeServerVersion, PROBE_TIMEOUT_MS, type ServerVersion } from './server-version';
import {
  BackgroundUploads,
  DEFAULT_RETRY_POLICY,
  type AttemptResult,
  type RetryPolicy,
  type UploadCounters,
} from './upload-queue';

/** Construction options of a {@link PyroscopeExporter}. */
export interface PyroscopeExporterOptions {
  /** e.g. `http://localhost:4040` or `https://user:token@profiles-prod.grafana.net/some/prefix`; the path is kept. */
  readonly serverAddress: string;
  /** Becomes the `service_name` series label; sanitized to what Pyroscope accepts. */
  readonly appName: string;
  /** Static series labels added to every profile; keys and values sanitized. */
  readonly tags: Readonly<Record<string, string>>;
  /** HTTP basic auth (Grafana Cloud: user = stack id, password = token). Overrides URL credentials. */
  readonly basicAuth?: { readonly user: string; readonly password: string };
  /** Sent as `Authorization: Bearer <token>`; takes precedence over basic auth, as in Pyroscope's SDKs. */
  readonly authToken?: string;
  /** Sent as `X-Scope-OrgID` (multi-tenant Pyroscope). */
  readonly tenantId?: string;
  /** Extra request headers; their values are treated as secrets. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Per-request timeout. */
  readonly timeoutMs: number;
  /** Most profiles waiting to be sent; beyond it the oldest is dropped. */
  readonly queueSize: number;
  readonly retry?: RetryPolicy;
  /**
   * Largest upload as the server's rate limiter counts it (series label bytes + uncompressed profile).
   * Default {@link PYROSCOPE_INGEST_BURST_BYTES}, the server's default burst.
   */
  readonly maxUploadBytes?: number;
  /** `auto` (default): trace_id only if the server's version keeps it out of series; `on`/`off` force it. */
  readonly traceId?: TraceIdMode;
  /** Distinct span_name values this process sends in its lifetime; default {@link DEFAULT_MAX_SPAN_NAMES}. */
  readonly maxSpanNames?: number;
}

/** Whether samples sent to Pyroscope carry trace_id. */
export type TraceIdMode = 'auto' | 'on' | 'off';


/** After a probe got no answer, the next cut may ask again this much later, at most {@link MAX_PROBES} times in all. */
const REPROBE_MS = 30_000;
const MAX_PROBES = 10;

/** Longest a cut waits for the version probe's answer (the first cut usually comes long after it). */
const DECISION_WAIT_MS = 1000;

/** Uploads are never split below this: a rate limit that refuses less is not about the burst. */
const MIN_SPLIT_BYTES = 64 * 1024;

/** The distributor's answer to a push over the rate limit (`pkg/distributor/distributor.go`, rateLimit). */
const RATE_LIMIT_ANSWER = /push rate limit \([^)]*\) exceeded while adding ([\d.]+) ?([KMGT]i?B|B)/u;

const gunzip = promisify(gunzipCallback);

/** Longest server reason quoted in a message. */
const MAX_REASON_CHARS = 200;
/** Response bytes read to find the reason; the rest is discarded. */

/** Sends profiles to Pyroscope; see the module comment. */
export class PyroscopeExporter implements ProfileExporter {
  readonly description: string;
  /** Upload totals: sent, failed, dropped, retried. */
  readonly counters: UploadCounters;

  private readonly ingestUrl: URL;
  private readonly ingestName: string;
  private readonly headers: Record<string, string>;
  private readonly agent: http.Agent;
  private readonly request: typeof http.request;
  private readonly secrets: string[];
  /** Cuts being shaped into profiles, and the queue of their uploads. */
  private readonly uploads: BackgroundUploads<EncodedProfile>;
  /** Bounds span_name values for the process's lifetime. */
  readonly spanNames: SpanNameGuard;
  /** Resolves with whether samples carry trace_id (after the version probe, in auto mode). */
  traceIdDecision: Promise<boolean>;
  /** When to ask the server its version again after it could not answer; undefined: never. */
  private reprobeAt: number | undefined;
  private probes = 0;
  private readonly buildInfoUrl: URL;
  /** Series label bytes the rate limiter adds to each upload's size. */
  private readonly seriesLabelBytes: number;
  /** Largest upload, lowered when the server shows a smaller burst. */
  private uploadLimitBytes: number;
  /** Uploads answered once with a rate-limit 429. */
  private readonly rateLimited = new WeakSet<EncodedProfile>();
  /**
   * Keeps this process's uploads within Pyroscope's default per-tenant rate and burst. The server charges
   * an upload when it has read and parsed it, so two uploads may reach its limiter closer together than
   * they left: the pacer refills only between an answer and the next upload (see {@link UploadPacer}),
   * and at half the rate.
   */
  private readonly pacer = new UploadPacer(PYROSCOPE_INGEST_RATE_BYTES_PER_SECOND / 2, PYROSCOPE_INGEST_BURST_BYTES);

  /** Throws if `serverAddress` is not an http(s) URL; the message never contains its credentials. */
  constructor(options: PyroscopeExporterOptions) {
    const server = parseServerAddress(options.serverAddress);
    const urlCredentials = credentialsOf(server);
    const rawUrlPassword = server.password;
    server.username = '';
    server.password = '';
    server.hash = '';
    const basePath = server.pathname.replace(/\/+$/u, '');
    this.description = `pyroscope ${server.origin}${basePath}`;
    this.ingestUrl = new URL(server.href);
    this.ingestUrl.pathname = `${basePath}/ingest`;
    this.ingestName = formatIngestName(options.appName, options.tags);
    this.seriesLabelBytes = seriesLabelBytesOf(this.ingestName);
    this.uploadLimitBytes = options.maxUploadBytes ?? PYROSCOPE_INGEST_BURST_BYTES;
    this.spanNames = new SpanNameGuard(options.maxSpanNames ?? DEFAULT_MAX_SPAN_NAMES);

    const basicAuth = options.basicAuth ?? urlCredentials;
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(options.headers ?? {})) headers[name.toLowerCase()] = value;
    headers['content-type'] = 'application/octet-stream';
    if (options.authToken) {
      headers['authorization'] = `Bearer ${options.authToken}`;
    } else if (basicAuth) {
      headers['authorization'] = `Basic ${Buffer.from(`${basicAuth.user}:${basicAuth.password}`).toString('base64')}`;
    }
    if (options.tenantId) headers['x-scope-orgid'] = options.tenantId;
    this.headers = headers;

    this.secrets = [
      urlCredentials?.password ?? '',
      rawUrlPassword,
      basicAuth?.password ?? '',
      options.authToken ?? '',
      headers['authorization'] ?? '',
      ...Object.values(options.headers ?? {}),
    ].filter((secret) => secret.length > 0);

    // Only the scheme in use is loaded: `https` brings TLS and all of crypto into the process.
    const transport = (server.protocol === 'https:' ? require('node:https') : require('node:http')) as typeof import('node:http');
    // One upload at a time, so one kept-alive socket is all we need.
    this.agent = new transport.Agent({ keepAlive: true, maxSockets: 1 });
    this.request = transport.request;

    this.uploads = new BackgroundUploads<EncodedProfile>({
      name: this.description,
      capacity: options.queueSize,
      timeoutMs: options.timeoutMs,
      retry: options.retry ?? DEFAULT_RETRY_POLICY,
      deliver: (profile, signal) => this.deliver(profile, signal),
    });
    this.counters = this.uploads.counters;

    this.buildInfoUrl = new URL(server.href);
    this.buildInfoUrl.pathname = `${basePath}/api/v1/status/buildinfo`;
    this.traceIdDecision = this.decideTraceId(options.traceId ?? 'auto');
  }

  /** Shapes `cut` for Pyroscope in the background (labels, merged samples, its limits) and queues the uploads. */
  export(cut: ProfileCut): void {
    this.uploads.inBackground(
      () => this.shape(cut),
      (profiles) => {
        for (const profile of profiles) this.enqueue(profile);
      },
      'pyroscope-build',
      `could not build a profile for ${this.description}`,
    );
  }

  /** The profiles to upload for `cut`: Pyroscope's labels, each upload within the limits. */
  private async shape(cut: ProfileCut): Promise<EncodedProfile[]> {
    if (this.reprobeAt !== undefined && Date.now() >= this.reprobeAt) {
      this.reprobeAt = undefined;
      this.traceIdDecision = this.probe();
    }
    const includeTraceId = await this.traceIdWithin(DECISION_WAIT_MS);
    const raw = await relabelForPyroscope(cut.raw, { includeTraceId, spanNames: this.spanNames });
    return buildProfilesOfCut({ ...cut, raw }, { limits: { maxBytes: this.profileByteBudget() } });
  }

  /**
   * The trace_id decision, waiting for the version probe at most `ms`: a server that hangs must not hold
   * back a cut (the last one at shutdown above all). Undecided means no trace_id, the safe side.
   */
  private traceIdWithin(ms: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      timer.unref();
      void this.traceIdDecision.then((decision) => {
        clearTimeout(timer);
        resolve(decision);
      });
    });
  }

  /** Uncompressed bytes a profile may have so that, with the series labels, it fits the upload limit. */
  private profileByteBudget(): number {
    return Math.max(MIN_SPLIT_BYTES, this.uploadLimitBytes - this.seriesLabelBytes);
  }

  /**
   * In auto mode, asks the server its version (in the background, after start-up) and decides. Asked
   * once; again, at most every {@link REPROBE_MS} at a cut, only while the server gives no answer (down,
   * 5xx). Never rejects; settles within the probe's timeout.
   */
  private decideTraceId(mode: TraceIdMode): Promise<boolean> {
    if (mode !== 'auto') return Promise.resolve(mode === 'on');
    return new Promise<boolean>((resolve) => {
      const start = setImmediate(() => void this.probe().then(resolve));
      start.unref();
      // Should the immediate never run (the process exits first), the decision is still made.
      const fallback = setTimeout(() => resolve(false), PROBE_TIMEOUT_MS + 1000);
      fallback.unref();
    });
  }

  private async probe(): Promise<boolean> {
    this.probes++;
    const answer = await probeServerVersion({
      url: this.buildInfoUrl,
      request: this.request,
      // Not the uploads' single kept-alive socket: a probe left hanging would block every upload.
      agent: false,
      headers: this.headers,
      scrub: (message) => this.scrub(message),
    });
    return this.traceIdFor(answer);
  }

  private traceIdFor(answer: ServerVersion): boolean {
    const logger = getLogger();
    if (!answer.known) {
      const again = answer.transient && this.probes < MAX_PROBES;
      if (again) this.reprobeAt = Date.now() + REPROBE_MS;
      if (this.probes === 1 || !again) {
        logger.info(
          `${this.description}: could not tell the server's version (${answer.reason}); trace_id is left out of profiles ` +
            `(servers before 2.1.0 make each trace_id a series)${again ? ' until it answers' : ''}. Spans still link by span_id. ` +
            'SPAN_PROFILES_TRACE_ID_LABEL=true forces it',
        );
      }
      return false;
    }
    const version = JSON.stringify(answer.version);
    if (keepsTraceIdPerSample(answer.version)) {
      logger.info(`${this.description}: Pyroscope ${version} keeps trace_id per sample; samples carry trace_id`);
      return true;
    }
    logger.info(
      `${this.description}: Pyroscope ${version} makes trace_id a series label (before 2.1.0); trace_id is left out of profiles. ` +
        'Spans still link by span_id',
    );
    return false;
  }

  /** Encodes a heap profile in the background and queues it; Pyroscope names it `memory` from its sample types. */
  exportHeap(cut: HeapCut): void {
    // A heap profile is a snapshot: while Pyroscope is unreachable only the newest waits, so heap
    // profiles never push CPU profiles out of the queue.
    this.uploads.inBackground(
      () => encodeHeapCut(cut, { ...PYROSCOPE_PROFILE_LIMITS, maxBytes: Math.min(PYROSCOPE_PROFILE_LIMITS.maxBytes, this.profileByteBudget()) }),
      (profile) => this.uploads.enqueue(profile, (waiting) => waiting.kind === 'heap'),
      'pyroscope-build',
      `could not build a profile for ${this.description}`,
    );
  }

  /** Queues one built profile for upload. */
  enqueue(profile: EncodedProfile): void {
    this.uploads.enqueue(profile);
  }

  /** Resolves when every queued profile is dealt with, or at `deadline`. Never rejects. */
  flush(deadline: number): Promise<void> {
    return this.uploads.flush(deadline);
  }

  /** Flushes until `deadline`, then drops what is left and closes the connection. Never rejects. */
  async shutdown(deadline: number): Promise<void> {
    if (await this.uploads.shutdown(deadline)) this.agent.destroy();
  }

  /** The full ingest URL for `profile`; exposed for diagnostics and tests. Contains no credentials. */
  ingestUrlFor(profile: EncodedProfile): URL {
    const url = new URL(this.ingestUrl.href);
    const from = Math.floor(profile.startMs / 1000);
    const until = Math.max(from, Math.ceil(profile.endMs / 1000));
    const params = url.searchParams;
    params.set('name', this.ingestName);
    params.set('from', String(from));
    params.set('until', String(until));
    params.set('format', 'pprof');
    params.set('spyName', 'nodespy');
    const hz = Math.round(1e6 / profile.intervalMicros);
    // Pyroscope ignores sampleRate for pprof (the profile carries its period); send something sane anyway.
    params.set('sampleRate', String(Number.isFinite(hz) && hz > 0 ? hz : 100));
    return url;
  }

  /** One attempt, and what a rate-limit answer means for this upload. Never rejects. */
  private async deliver(profile: EncodedProfile, signal: AbortSignal): Promise<AttemptResult<EncodedProfile>> {
    // The uploads of one cut leave back to back; paced, they stay within the tenant's default rate.
    if (!(await this.pacer.take(this.seriesLabelBytes + uncompressedSizeOf(profile.data), signal))) {
      return { outcome: 'retry', reason: String(signal.reason ?? 'aborted') };
    }
    const result = await this.send(profile, signal);
    this.pacer.answered();
    if (result.outcome !== 'retry' || result.rateLimitedBytes === undefined) return result;
    // A push over the rate (many instances of one tenant) passes after a pause; a push over the burst
    // never does. The answer says how much the push added: over the default burst, or refused again
    // after a pause, it is the burst.
    const overBurst = result.rateLimitedBytes > PYROSCOPE_INGEST_BURST_BYTES || this.rateLimited.has(profile);
    if (!overBurst) {
      this.rateLimited.add(profile);
      return { outcome: 'retry', reason: result.reason, retryAfterMs: Math.max(1000, result.retryAfterMs ?? 0) };
    }
    const uncompressed = Math.max(result.rateLimitedBytes - this.seriesLabelBytes, 0);
    const parts = uncompressed >= 2 * MIN_SPLIT_BYTES && profile.sampleCount > 1 ? await this.split(profile) : [];
    if (parts.length < 2) {
      getLogger().warnOnce(
        'pyroscope-burst-drop',
        `${this.description}: a profile upload was refused as over the server's ingestion burst (${result.reason}) and cannot be split; ` +
          'dropped it rather than retry it forever. Raise the tenant\'s distributor.ingestion-burst-size-mb',
      );
      return { outcome: 'rejected', reason: `${result.reason} (over the ingestion burst; not retried)` };
    }
    this.uploadLimitBytes = Math.max(2 * MIN_SPLIT_BYTES, Math.min(this.uploadLimitBytes, Math.floor(result.rateLimitedBytes / 2)));
    getLogger().warnOnce(
      'pyroscope-burst-split',
      `${this.description}: the server refuses uploads of ${formatMiB(result.rateLimitedBytes)} as over its ingestion burst ` +
        `(${result.reason}): retrying could never succeed, so the upload was split in ${parts.length} (no sample lost) and later ` +
        `uploads are kept under ${formatMiB(this.uploadLimitBytes)}. Set SPAN_PROFILES_MAX_UPLOAD_SIZE at or under the ` +
        "tenant's distributor.ingestion-burst-size-mb (default 2 MiB)",
    );
    return { outcome: 'replace', parts };
  }

  /** `profile` re-encoded as smaller profiles holding the same samples; [] if it cannot be. */
  private async split(profile: EncodedProfile): Promise<EncodedProfile[]> {
    try {
      const bytes = await gunzip(profile.data);
      const decoded = Profile.decode(bytes);
      return await buildProfiles(decoded, {
        intervalMicros: profile.intervalMicros,
        startMs: profile.startMs,
        endMs: profile.endMs,
        wall: profile.kind === 'wall',
        limits: { maxBytes: Math.ceil(bytes.length / 2), maxSamples: PYROSCOPE_PROFILE_LIMITS.maxSamples },
      });
    } catch (error) {
      getLogger().warnRateLimited('pyroscope-split', `${this.description}: could not split a profile: ${describeError(error)}`);
      return [];
    }
  }

  /** One POST. Resolves with the outcome; never rejects. */
  private async send(profile: EncodedProfile, signal: AbortSignal): Promise<SendResult> {
    const post = { url: this.ingestUrlFor(profile), agent: this.agent, headers: this.headers, body: profile.data, signal };
    const answer = await postUntraced(this.request, post, (message) => this.scrub(message));
    if (!answer.answered) return { outcome: 'retry', reason: answer.reason };
    return this.classify(answer.response, answer.body.toString('utf8'));
  }

  private classify(res: http.IncomingMessage, body: string): SendResult {
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) return { outcome: 'delivered' };
    const text = body.replace(/\s+/gu, ' ').trim() || res.statusMessage || '';
    const quoted = text.length > MAX_REASON_CHARS ? `${text.slice(0, MAX_REASON_CHARS)}...` : text;
    const reason = this.scrub(quoted ? `HTTP ${status}: ${quoted}` : `HTTP ${status}`);
    // 408 is the server giving up on reading our body: as transient as a 5xx.
    if (status === 408 || status === 429 || status >= 500) {
      const rateLimit = status === 429 ? RATE_LIMIT_ANSWER.exec(text) : null;
      return {
        outcome: 'retry',
        reason,
        retryAfterMs: parseRetryAfter(res.headers['retry-after']),
        rateLimitedBytes: rateLimit ? parseSize(rateLimit[1]!, rateLimit[2]!) : undefined,
      };
    }
    return { outcome: 'rejected', reason };
  }

  /** Removes any credential from a message, in case a server or an error echoes one back. */
  private scrub(message: string): string {
    return redactSecrets(message, this.secrets);
  }
}

/** An attempt's outcome, with what a rate-limit answer said the push added (bytes). */
type SendResult =
  | { readonly outcome: 'delivered' }
  | { readonly outcome: 'rejected'; readonly reason: string }
  | { readonly outcome: 'retry'; readonly reason: string; readonly retryAfterMs?: number; readonly rateLimitedBytes?: number };

/**
 * The bytes of the series labels Pyroscope makes for an upload named `name` (`app{k=v,...}`):
 * `pkg/og/convert/pprof/profile.go` createLabels adds __name__ (process_cpu or wall), __delta__=false,
 * pyroscope_spy=nodespy and service_name to the tags; the rate limiter counts names and values.
 */
function seriesLabelBytesOf(name: string): number {
  const open = name.indexOf('{');
  const app = open < 0 ? name : name.slice(0, open);
  let bytes = '__name__'.length + 'process_cpu'.length + '__delta__'.length + 'false'.length;
  bytes += 'pyroscope_spy'.length + 'nodespy'.length + 'service_name'.length + Buffer.byteLength(app);
  if (open >= 0) {
    for (const pair of name.slice(open + 1, -1).split(',')) bytes += Buffer.byteLength(pair.replace('=', ''));
  }
  return bytes;
}

/** `2.5`, `MiB` (humanize.IBytes, or SI units) as bytes, rounded up: the answer is rounded. */
function parseSize(amount: string, unit: string): number {
  const powers: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 };
  return Math.ceil(Number(amount) * (powers[unit] ?? 1));
}

/** The uncompressed size of a gzip member: its ISIZE trailer (RFC 1952), exact below 4 GiB. */
function uncompressedSizeOf(gzipped: Buffer): number {
  return gzipped.length >= 18 ? gzipped.readUInt32LE(gzipped.length - 4) : gzipped.length;
}

/**
 * A token bucket like the distributor's (golang.org/x/time/rate through dskit): `take(n)` waits until
 * the bucket holds n bytes (at most its size), then spends them. Waits are unref'd timers.
 *
 * Uploads go one at a time, and the server charges each somewhere between its sending and its answer.
 * Refilling only from the answer ({@link answered}) to the next `take` counts less time than passed
 * between two charges, whatever the server spent reading them: the bucket never promises what the
 * server's does not hold.
 */
class UploadPacer {
  private tokens: number;
  private at = Date.now();

  constructor(
    private readonly ratePerSecond: number,
    private readonly size: number,
  ) {
    this.tokens = size;
  }

  /** Resolves true once `bytes` may be sent, false if `signal` aborts first. */
  async take(bytes: number, signal: AbortSignal): Promise<boolean> {
    for (;;) {
      const now = Date.now();
      this.tokens = Math.min(this.size, this.tokens + ((now - this.at) / 1000) * this.ratePerSecond);
      this.at = now;
      const need = Math.min(bytes, this.size);
      if (this.tokens >= need) {
        this.tokens -= bytes;
        return true;
      }
      if (signal.aborted) return false;
      const waitMs = Math.ceil(((need - this.tokens) / this.ratePerSecond) * 1000);
      const woke = await new Promise<boolean>((resolve) => {
        const onAbort = (): void => {
          clearTimeout(timer);
          resolve(false);
        };
        const timer = setTimeout(() => {
          signal.removeEventListener('abort', onAbort);
          resolve(true);
        }, waitMs);
        timer.unref();
        signal.addEventListener('abort', onAbort, { once: true });
      });
      if (!woke) return false;
    }
  }

  /** The upload taken last has been answered (or failed): the time it was in flight refills nothing. */
  answered(): void {
    this.at = Date.now();
  }
}

function formatMiB(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/** The server URL, or an error naming it with its credentials hidden. */
function parseServerAddress(address: string): URL {
  let url: URL | undefined;
  try {
    url = new URL(address);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new Error(`Pyroscope server address "${redactSecrets(address, [])}" is not an http:// or https:// URL`);
  }
  return url;
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; undefined if absent or unreadable. */
function parseRetryAfter(header: string | undefined): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
