/**
 * Uploads profiles to Grafana Pyroscope's `/ingest` endpoint (gzipped pprof body), the wire format of
 * @pyroscope/nodejs 0.6.2+: `POST {server}/ingest?name=app{k=v}&from=&until=&format=pprof&
 * spyName=nodespy&sampleRate=`. Queueing, retries and deadlines live in {@link UploadQueue}.
 *
 * Transport: node:http/https rather than global fetch, because only a raw request gives us its
 * socket, which we unref so an upload to a slow or hanging server never keeps the app's process
 * alive; undici's sockets cannot be unref'd.
 */

import * as http from 'node:http';
import * as https from 'node:https';
import { context } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import { withDeadline } from '../deadline';
import { describeError, getLogger } from '../logger';
import { credentialsOf, redactSecrets } from '../redact';
import { formatIngestName } from './app-name';
import { buildProfilesOfCut } from '../profiler/profile-builder';
import { encodeHeapCut } from '../profiler/heap-profiler';
import { PYROSCOPE_PROFILE_LIMITS } from '../profiler/profile-limits';
import type { EncodedProfile, HeapCut, ProfileCut, ProfileExporter } from './profile-exporter';
import {
  DEFAULT_RETRY_POLICY,
  UploadQueue,
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
}

/** Longest server reason quoted in a message. */
const MAX_REASON_CHARS = 200;
/** Response bytes read to find the reason; the rest is discarded. */
const MAX_RESPONSE_BYTES = 4096;

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
  private readonly queue: UploadQueue<EncodedProfile>;
  private shutDown = false;
  /** Cuts being shaped into profiles. */
  private readonly building = new Set<Promise<void>>();

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

    const isHttps = server.protocol === 'https:';
    // One upload at a time, so one kept-alive socket is all we need.
    this.agent = isHttps
      ? new https.Agent({ keepAlive: true, maxSockets: 1 })
      : new http.Agent({ keepAlive: true, maxSockets: 1 });
    this.request = isHttps ? https.request : http.request;

    this.queue = new UploadQueue<EncodedProfile>({
      name: this.description,
      capacity: options.queueSize,
      timeoutMs: options.timeoutMs,
      retry: options.retry ?? DEFAULT_RETRY_POLICY,
      deliver: (profile, signal) => this.send(profile, signal),
    });
    this.counters = this.queue.counters;
  }

  /** Shapes `cut` for Pyroscope in the background (merged samples, its limits) and queues the uploads. */
  export(cut: ProfileCut): void {
    if (this.shutDown) {
      this.counters.dropped++;
      return;
    }
    const work = buildProfilesOfCut(cut).then(
      (profiles) => {
        for (const profile of profiles) this.enqueue(profile);
      },
      (err: unknown) => {
        this.counters.dropped++;
        getLogger().warnRateLimited('pyroscope-build', `could not build a profile for ${this.description}: ${describeError(err)}`);
      },
    );
    this.building.add(work);
    void work.finally(() => this.building.delete(work));
  }

  /** Encodes a heap profile in the background and queues it; Pyroscope names it `memory` from its sample types. */
  exportHeap(cut: HeapCut): void {
    if (this.shutDown) {
      this.counters.dropped++;
      return;
    }
    // A heap profile is a snapshot: while Pyroscope is unreachable only the newest waits, so heap
    // profiles never push CPU profiles out of the queue.
    const work = encodeHeapCut(cut, PYROSCOPE_PROFILE_LIMITS).then(
      (profile) => {
        if (this.shutDown) this.counters.dropped++;
        else this.queue.enqueue(profile, (waiting) => waiting.kind === 'heap');
      },
      (err: unknown) => {
        this.counters.dropped++;
        getLogger().warnRateLimited('pyroscope-build', `could not build a profile for ${this.description}: ${describeError(err)}`);
      },
    );
    this.building.add(work);
    void work.finally(() => this.building.delete(work));
  }

  /** Queues one built profile for upload. */
  enqueue(profile: EncodedProfile): void {
    if (this.shutDown) {
      this.counters.dropped++;
      return;
    }
    this.queue.enqueue(profile);
  }

  /** Resolves when every queued profile is dealt with, or at `deadline`. Never rejects. */
  async flush(deadline: number): Promise<void> {
    await withDeadline(Promise.all(this.building), deadline, false);
    await this.queue.flush(deadline);
  }

  /** Flushes until `deadline`, then drops what is left and closes the connection. Never rejects. */
  async shutdown(deadline: number): Promise<void> {
    if (this.shutDown) return;
    await withDeadline(Promise.all(this.building), deadline, false);
    this.shutDown = true;
    await this.queue.flush(deadline);
    await this.queue.close();
    this.agent.destroy();
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

  /** One POST. Resolves with the outcome; never rejects. */
  private send(profile: EncodedProfile, signal: AbortSignal): Promise<AttemptResult> {
    return new Promise<AttemptResult>((resolve) => {
      let settled = false;
      const settle = (result: AttemptResult): void => {
        if (settled) return;
        settled = true;
        resolve(result);
      };
      const options: http.RequestOptions = {
        method: 'POST',
        agent: this.agent,
        signal,
        headers: { ...this.headers, 'content-length': String(profile.data.length) },
      };
      // Our own upload must not show up as an HTTP client span of the app.
      context.with(suppressTracing(context.active()), () => {
        try {
          const req = this.request(this.ingestUrlFor(profile), options, (res) => {
            const chunks: Buffer[] = [];
            let received = 0;
            res.on('data', (chunk: Buffer) => {
              if (received < MAX_RESPONSE_BYTES) chunks.push(chunk);
              received += chunk.length;
            });
            res.on('end', () => settle(this.classify(res, Buffer.concat(chunks).toString('utf8'))));
            res.on('error', (error) => settle({ outcome: 'retry', reason: this.scrub(error.message) }));
            res.on('close', () => settle({ outcome: 'retry', reason: 'connection closed mid-response' }));
          });
          req.on('socket', (socket) => socket.unref());
          req.on('error', (error) => settle({ outcome: 'retry', reason: this.scrub(error.message) }));
          req.end(profile.data);
        } catch (error) {
          settle({ outcome: 'retry', reason: this.scrub(describeError(error)) });
        }
      });
    });
  }

  private classify(res: http.IncomingMessage, body: string): AttemptResult {
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) return { outcome: 'delivered' };
    const text = body.replace(/\s+/gu, ' ').trim() || res.statusMessage || '';
    const quoted = text.length > MAX_REASON_CHARS ? `${text.slice(0, MAX_REASON_CHARS)}...` : text;
    const reason = this.scrub(quoted ? `HTTP ${status}: ${quoted}` : `HTTP ${status}`);
    // 408 is the server giving up on reading our body: as transient as a 5xx.
    if (status === 408 || status === 429 || status >= 500) {
      return { outcome: 'retry', reason, retryAfterMs: parseRetryAfter(res.headers['retry-after']) };
    }
    return { outcome: 'rejected', reason };
  }

  /** Removes any credential from a message, in case a server or an error echoes one back. */
  private scrub(message: string): string {
    return redactSecrets(message, this.secrets);
  }
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
