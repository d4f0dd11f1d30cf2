/**
 * Sends profiles as OTLP profiles (`POST {endpoint}`, by default `http://localhost:4318/v1development/profiles`)
 * to an OpenTelemetry Collector with the `service.profilesSupport` feature gate, Grafana Pyroscope 2.x, or
 * any backend that reads the signal. Each cut becomes one `ExportProfilesServiceRequest` (see
 * otlp-profiles-encoder.ts) with the same Resource the traces carry. Queueing, retries and deadlines live
 * in {@link UploadQueue}.
 *
 * Transport: node:http/https rather than global fetch, so that the socket can be unref'd: an upload to a
 * slow or hanging server never keeps the app's process alive.
 */

import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { context } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import { withDeadline } from '../deadline';
import { describeError, getLogger } from '../logger';
import { credentialsOf, percentDecoded, redactSecrets, stripUrlCredentials } from '../redact';
import { AGENT_VERSION } from '../version';
import {
  buildOtlpProfiles,
  encodeOtlpProfilesJson,
  encodeOtlpProfilesProtobufSliced,
  type OtlpProfilesContext,
} from './otlp-profiles-encoder';
import { MAX_RESPONSE_BYTES, postUntraced } from './http-post';
import type { ProfileCut, ProfileExporter } from './profile-exporter';
import { DEFAULT_MAX_SPAN_NAMES, relabelForPyroscope, SpanNameGuard } from './pyroscope-labels';
import { DEFAULT_RETRY_POLICY, UploadQueue, type AttemptResult, type RetryPolicy, type UploadCounters } from './upload-queue';

const gzip = promisify(gzipCallback);

export type OtlpProfilesProtocol = 'http/protobuf' | 'http/json' | 'grpc';

/** The gRPC method of the signal (opentelemetry-proto collector/profiles/v1development). */
export const OTLP_PROFILES_GRPC_PATH = '/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export';

/** Construction options of an {@link OtlpProfilesExporter}. */
export interface OtlpProfilesExporterOptions {
  /**
   * The full signal URL, e.g. `http://collector:4318/v1development/profiles`, used as is; for grpc the
   * server's URL (`http://collector:4317`), whose path is ignored.
   */
  readonly url: string;
  readonly protocol: OtlpProfilesProtocol;
  /** Request headers (OTEL_EXPORTER_OTLP_PROFILES_HEADERS); their values are treated as secrets. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly compression: 'gzip' | 'none';
  /** Per-request timeout. */
  readonly timeoutMs: number;
  /** Most requests waiting to be sent; beyond it the oldest is dropped. */
  readonly queueSize: number;
  /** The Resource the traces use. */
  readonly resource: Resource;
  readonly retry?: RetryPolicy;
  /** Distinct span names sent in the process's lifetime (SPAN_PROFILES_MAX_SPAN_NAMES); default 200. */
  readonly maxSpanNames?: number;
}

/** One request, encoded and ready to send. */
interface EncodedRequest {
  readonly body: Buffer;
  readonly sampleCount: number;
}

/** Longest server reason quoted in a message. */
const MAX_REASON_CHARS = 200;
/** Response bytes read; the rest is discarded. */

/** Sends profiles over OTLP/HTTP; see the module comment. */
export class OtlpProfilesExporter implements ProfileExporter {
  readonly description: string;
  /** Upload totals: sent, failed, dropped, retried. */
  readonly counters: UploadCounters;

  private readonly url: URL;
  private readonly protocol: OtlpProfilesProtocol;
  private readonly compression: 'gzip' | 'none';
  private readonly headers: Record<string, string>;
  private readonly agent: http.Agent;
  private readonly request: typeof http.request;
  private readonly secrets: string[];
  private readonly queue: UploadQueue<EncodedRequest>;
  private readonly spanNames: SpanNameGuard;
  private readonly resource: Resource;
  private readonly timeoutMs: number;
  /** The HTTP/2 connection of the grpc protocol, opened on first use. */
  private session: http2.ClientHttp2Session | undefined;
  private encoderContext: Promise<OtlpProfilesContext> | undefined;
  private shutDown = false;
  /** Cuts being encoded. */
  private readonly building = new Set<Promise<void>>();

  /** Throws if `url` is not an http(s) URL; the message never contains its credentials. */
  constructor(options: OtlpProfilesExporterOptions) {
    let url: URL | undefined;
    try {
      url = new URL(options.url);
    } catch {
      url = undefined;
    }
    if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      throw new Error(`OTLP profiles endpoint "${redactSecrets(options.url, [])}" is not an http:// or https:// URL`);
    }
    this.url = url;
    this.protocol = options.protocol;
    this.compression = options.compression;
    this.resource = options.resource;
    this.timeoutMs = options.timeoutMs;
    this.description = `otlp ${options.protocol} ${options.protocol === 'grpc' ? url.origin : stripUrlCredentials(url)}`;

    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(options.headers ?? {})) headers[name.toLowerCase()] = value;
    // Credentials written in the URL travel as basic auth, like the OpenTelemetry exporters send them.
    const credentials = credentialsOf(url);
    if (credentials) {
      headers['authorization'] ??= `Basic ${Buffer.from(`${credentials.user}:${credentials.password}`).toString('base64')}`;
    }
    headers['content-type'] = options.protocol === 'http/json' ? 'application/json' : 'application/x-protobuf';
    if (options.compression === 'gzip') headers['content-encoding'] = 'gzip';
    headers['user-agent'] = `@acme/span-profiles/${AGENT_VERSION}`;
    this.headers = headers;
    this.secrets = [url.password, percentDecoded(url.password), headers['authorization'] ?? '', ...Object.values(options.headers ?? {})].filter(
      (secret) => secret.length > 0,
    );
    url.username = '';
    url.password = '';

    const isHttps = url.protocol === 'https:';
    // One upload at a time: one kept-alive socket.
    this.agent = isHttps ? new https.Agent({ keepAlive: true, maxSockets: 1 }) : new http.Agent({ keepAlive: true, maxSockets: 1 });
    this.request = isHttps ? https.request : http.request;

    this.spanNames = new SpanNameGuard(
      options.maxSpanNames ?? DEFAULT_MAX_SPAN_NAMES,
      'a profiles backend indexes each span_name attribute like a label (Pyroscope\'s OTLP ingest makes it a series that stays in its index)',
      'otlp-profiles-span-names',
    );
    this.queue = new UploadQueue<EncodedRequest>({
      name: this.description,
      capacity: options.queueSize,
      timeoutMs: options.timeoutMs,
      retry: options.retry ?? DEFAULT_RETRY_POLICY,
      deliver: (item, signal) => this.send(item, signal),
    });
    this.counters = this.queue.counters;
  }

  /** Encodes `cut` in the background and queues the request. */
  export(cut: ProfileCut): void {
    if (this.shutDown) {
      this.counters.dropped++;
      return;
    }
    const work = this.encode(cut).then(
      (request) => {
        if (request) this.queue.enqueue(request);
      },
      (err: unknown) => {
        this.counters.dropped++;
        getLogger().warnRateLimited('otlp-profiles-build', `could not build the OTLP profiles request for ${this.description}: ${describeError(err)}`);
      },
    );
    this.building.add(work);
    void work.finally(() => this.building.delete(work));
  }

  /** The encoded (and compressed) body for `cut`; undefined when it holds no sample. */
  async encode(cut: ProfileCut): Promise<EncodedRequest | undefined> {
    // span_name travels as a sample attribute, which profile backends (Pyroscope's OTLP ingest among them)
    // index like a label: the same bound as for Pyroscope. trace_id stays: the links need it.
    const raw = await relabelForPyroscope(cut.raw, { includeTraceId: true, spanNames: this.spanNames });
    const request = await buildOtlpProfiles(raw === cut.raw ? cut : { ...cut, raw }, await this.context());
    if (request.sampleCount === 0) return undefined;
    const encoded = this.protocol === 'http/json' ? Buffer.from(encodeOtlpProfilesJson(request), 'utf8') : await encodeOtlpProfilesProtobufSliced(request);
    // The writer's buffer is larger than the message: keep only the bytes (a copy) when not compressing.
    const compressed = this.compression === 'gzip' ? await gzip(encoded) : undefined;
    if (this.protocol === 'grpc') return { body: grpcFrame(compressed ?? encoded, compressed !== undefined), sampleCount: request.sampleCount };
    const body = compressed ?? Buffer.from(encoded);
    return { body, sampleCount: request.sampleCount };
  }

  /** Resolves when every queued request is dealt with, or at `deadline`. Never rejects. */
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
    this.session?.close();
  }

  /** The Resource's attributes once its detectors have finished, read once. */
  private context(): Promise<OtlpProfilesContext> {
    this.encoderContext ??= (async () => {
      try {
        await this.resource.waitForAsyncAttributes?.();
      } catch {
        // A failed detector leaves its attributes out; the others are still good.
      }
      return {
        resourceAttributes: { ...this.resource.attributes },
        resourceSchemaUrl: this.resource.schemaUrl,
        scopeName: '@acme/span-profiles',
        scopeVersion: AGENT_VERSION,
      };
    })();
    return this.encoderContext;
  }

  /** One POST. Resolves with the outcome; never rejects. */
  private async send(item: EncodedRequest, signal: AbortSignal): Promise<AttemptResult> {
    if (this.protocol === 'grpc') return this.sendGrpc(item, signal);
    const post = { url: this.url, agent: this.agent, headers: this.headers, body: item.body, signal };
    const answer = await postUntraced(this.request, post, (message) => this.scrub(message));
    if (!answer.answered) return { outcome: 'retry', reason: answer.reason };
    return this.classify(answer.response, answer.body);
  }

  /**
   * One unary gRPC call over node:http2 (prior knowledge for http://, TLS for https://): a 5-byte frame
   * header and the message, the status in the trailers. The connection is unref'd like the HTTP sockets.
   */
  private sendGrpc(item: EncodedRequest, signal: AbortSignal): Promise<AttemptResult> {
    return new Promise<AttemptResult>((resolve) => {
      let settled = false;
      const settle = (result: AttemptResult): void => {
        if (settled) return;
        settled = true;
        resolve(result);
      };
      context.with(suppressTracing(context.active()), () => {
        try {
          const session = this.grpcSession();
          const headers: http2.OutgoingHttpHeaders = {
            ':method': 'POST',
            ':path': OTLP_PROFILES_GRPC_PATH,
            'content-type': 'application/grpc+proto',
            te: 'trailers',
            'grpc-timeout': `${Math.max(1, Math.round(this.timeoutMs))}m`,
            'grpc-accept-encoding': 'identity',
            ...this.grpcMetadata(),
          };
          if (this.compression === 'gzip') headers['grpc-encoding'] = 'gzip';
          const stream = session.request(headers);
          const onAbort = (): void => {
            stream.close(http2.constants.NGHTTP2_CANCEL);
            settle({ outcome: 'retry', reason: String(signal.reason) });
          };
          if (signal.aborted) return onAbort();
          signal.addEventListener('abort', onAbort, { once: true });
          let status: string | undefined;
          let message = '';
          let httpStatus = 0;
          const chunks: Buffer[] = [];
          let received = 0;
          const readStatus = (fields: http2.IncomingHttpHeaders): void => {
            if (fields['grpc-status'] !== undefined) status = String(fields['grpc-status']);
            if (fields['grpc-message'] !== undefined) message = percentDecoded(String(fields['grpc-message']));
          };
          stream.on('response', (fields) => {
            httpStatus = Number(fields[':status'] ?? 0);
            readStatus(fields); // a Trailers-Only answer carries the status in its headers
          });
          stream.on('trailers', readStatus);
          stream.on('data', (chunk: Buffer) => {
            if (received < MAX_RESPONSE_BYTES) chunks.push(chunk);
            received += chunk.length;
          });
          stream.on('error', (error) => settle({ outcome: 'retry', reason: this.scrub(describeError(error)) }));
          stream.on('close', () => {
            signal.removeEventListener('abort', onAbort);
            settle(this.classifyGrpc(httpStatus, status, message, Buffer.concat(chunks)));
          });
          stream.end(item.body);
        } catch (error) {
          settle({ outcome: 'retry', reason: this.scrub(describeError(error)) });
        }
      });
    });
  }

  private grpcSession(): http2.ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const session = http2.connect(this.url.origin);
    // Errors reach the stream of the call; a session error with no call in flight only ends the session.
    session.on('error', () => undefined);
    session.on('close', () => {
      if (this.session === session) this.session = undefined;
    });
    session.unref();
    this.session = session;
    return session;
  }

  /** The request headers as gRPC metadata: lower-case names, none of the protocol's own. */
  private grpcMetadata(): Record<string, string> {
    const metadata: Record<string, string> = {};
    for (const [name, value] of Object.entries(this.headers)) {
      if (name === 'content-type' || name === 'content-encoding' || name === 'content-length' || name.startsWith(':')) continue;
      metadata[name] = value;
    }
    return metadata;
  }

  private classifyGrpc(httpStatus: number, status: string | undefined, message: string, body: Buffer): AttemptResult {
    if (status === '0') {
      this.reportPartialSuccess(partialSuccessOfProtobuf(grpcMessage(body) ?? Buffer.alloc(0)));
      return { outcome: 'delivered' };
    }
    if (status === undefined) {
      // No gRPC answer at all: an HTTP error from a proxy, or a server that is not gRPC.
      const reason = this.scrub(`HTTP ${httpStatus || 'no answer'} without a gRPC status`);
      return httpStatus === 0 || httpStatus === 429 || httpStatus >= 500 ? { outcome: 'retry', reason } : { outcome: 'rejected', reason };
    }
    const code = Number(status);
    const text = message.replace(/\s+/gu, ' ').trim();
    const quoted = text.length > MAX_REASON_CHARS ? `${text.slice(0, MAX_REASON_CHARS)}...` : text;
    const reason = this.scrub(`gRPC ${GRPC_CODE_NAMES[code] ?? status}${quoted ? `: ${quoted}` : ''}`);
    return GRPC_RETRYABLE.has(code) ? { outcome: 'retry', reason } : { outcome: 'rejected', reason };
  }

  private classify(res: http.IncomingMessage, body: Buffer): AttemptResult {
    const status = res.statusCode ?? 0;
    const isProtobuf = /protobuf/i.test(res.headers['content-type'] ?? '');
    if (status >= 200 && status < 300) {
      this.reportPartialSuccess(isProtobuf ? partialSuccessOfProtobuf(body) : partialSuccessOfJson(body));
      return { outcome: 'delivered' };
    }
    // OTLP servers answer a google.rpc.Status; others (Pyroscope) plain text.
    const message = (isProtobuf ? statusMessageOfProtobuf(body) : undefined) ?? body.toString('utf8');
    const text = message.replace(/\s+/gu, ' ').trim() || res.statusMessage || '';
    const quoted = text.length > MAX_REASON_CHARS ? `${text.slice(0, MAX_REASON_CHARS)}...` : text;
    const reason = this.scrub(quoted ? `HTTP ${status}: ${quoted}` : `HTTP ${status}`);
    if (status === 408 || status === 429 || status >= 500) {
      return { outcome: 'retry', reason, retryAfterMs: parseRetryAfter(res.headers['retry-after']) };
    }
    return { outcome: 'rejected', reason };
  }

  private reportPartialSuccess(partial: PartialSuccess | undefined): void {
    if (!partial || (partial.rejected === 0 && partial.message === '')) return;
    const quoted = partial.message.length > MAX_REASON_CHARS ? `${partial.message.slice(0, MAX_REASON_CHARS)}...` : partial.message;
    getLogger().warnRateLimited(
      `${this.description}:partial`,
      this.scrub(`${this.description}: the server rejected ${partial.rejected} profile(s) of an upload${quoted ? `: ${quoted}` : ''}`),
    );
  }

  /** Removes any credential from a message, in case a server or an error echoes one back. */
  private scrub(message: string): string {
    return redactSecrets(message, this.secrets);
  }
}

/** gRPC status names, for messages. */
const GRPC_CODE_NAMES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
];
/** The codes the OTLP specification calls retryable. */
const GRPC_RETRYABLE = new Set([1, 4, 8, 10, 11, 14, 15]);

/** A gRPC length-prefixed message: flag (1 = compressed), 4-byte big-endian length, the bytes. */
function grpcFrame(message: Uint8Array, compressed: boolean): Buffer {
  const frame = Buffer.allocUnsafe(5 + message.length);
  frame[0] = compressed ? 1 : 0;
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

/** The message of a gRPC response body (uncompressed only; a compressed one is not read). */
function grpcMessage(body: Buffer): Buffer | undefined {
  if (body.length < 5 || body[0] !== 0) return undefined;
  const length = body.readUInt32BE(1);
  return body.length >= 5 + length ? body.subarray(5, 5 + length) : undefined;
}

interface PartialSuccess {
  readonly rejected: number;
  readonly message: string;
}

/** ExportProfilesServiceResponse.partial_success {1: rejected_profiles, 2: error_message}, if present. */
function partialSuccessOfProtobuf(body: Buffer): PartialSuccess | undefined {
  const outer = readFields(body);
  const inner = outer?.get(1);
  if (!(inner instanceof Buffer)) return undefined;
  const fields = readFields(inner);
  if (!fields) return undefined;
  const rejected = fields.get(1);
  const message = fields.get(2);
  return { rejected: typeof rejected === 'number' ? rejected : 0, message: message instanceof Buffer ? message.toString('utf8') : '' };
}

function partialSuccessOfJson(body: Buffer): PartialSuccess | undefined {
  if (body.length === 0) return undefined;
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { partialSuccess?: { rejectedProfiles?: unknown; errorMessage?: unknown } };
    const partial = parsed.partialSuccess;
    if (!partial) return undefined;
    return { rejected: Number(partial.rejectedProfiles ?? 0) || 0, message: typeof partial.errorMessage === 'string' ? partial.errorMessage : '' };
  } catch {
    return undefined;
  }
}

/** google.rpc.Status.message (field 2), if the body is one. */
function statusMessageOfProtobuf(body: Buffer): string | undefined {
  const message = readFields(body)?.get(2);
  return message instanceof Buffer ? message.toString('utf8') : undefined;
}

/**
 * The top-level varint and length-delimited fields of a small protobuf message (the last of each
 * number wins); undefined when the bytes are not one.
 */
function readFields(bytes: Buffer): Map<number, number | Buffer> | undefined {
  const fields = new Map<number, number | Buffer>();
  let offset = 0;
  const varint = (): number | undefined => {
    let value = 0;
    let scale = 1;
    while (offset < bytes.length) {
      const byte = bytes[offset++]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 0x80;
      if (scale > 2 ** 63) return undefined;
    }
    return undefined;
  };
  while (offset < bytes.length) {
    const tag = varint();
    if (tag === undefined) return undefined;
    const field = Math.floor(tag / 8);
    const wireType = tag % 8;
    if (wireType === 0) {
      const value = varint();
      if (value === undefined) return undefined;
      fields.set(field, value);
    } else if (wireType === 2) {
      const length = varint();
      if (length === undefined || offset + length > bytes.length) return undefined;
      fields.set(field, bytes.subarray(offset, offset + length));
      offset += length;
    } else if (wireType === 1) offset += 8;
    else if (wireType === 5) offset += 4;
    else return undefined;
  }
  return offset === bytes.length ? fields : undefined;
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; undefined if absent or unreadable. */
function parseRetryAfter(header: string | undefined): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
