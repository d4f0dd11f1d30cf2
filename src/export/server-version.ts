/**
 * Which Pyroscope the agent talks to, and whether it may send `trace_id`. Pyroscope tells its version at
 * `GET /api/v1/status/buildinfo` (grafana/pyroscope `api/status/v1/status.proto`, served by
 * `pkg/pyroscope/modules.go` statusService.GetBuildInfo): `{"status":"success","data":{"version":"2.1.0",
 * "revision":...,"branch":...,"goVersion":...}}`. Releases report the tag without its `v` (goreleaser);
 * weekly builds report their image tag, `weekly-f<N>-<commit>`.
 *
 * Up to v2.0.x every string sample label except span_id becomes a series label, trace_id included: one
 * series per request. Commit eb3f7545a ("exclude trace_id from sample to series label promotion",
 * `pkg/model/pprofsplit/pprof_split.go`) changed that on main in June 2026; the first release holding it is
 * v2.1.0 (the v2.0.3 to v2.0.6 releases are cut from the release-2.0 branch without it; the repository's
 * `pyroscope-2.0.3` tag, which does contain it, is the Helm chart's), and the first weekly build is
 * weekly-f174.
 */

import type * as http from 'node:http';
import { context } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import { describeError } from '../logger';

/** The first release that keeps trace_id out of series labels. */
export const TRACE_ID_MIN_VERSION: readonly [number, number, number] = [2, 1, 0];
/** The first weekly build (`weekly-f<N>-...`) that does. */
export const TRACE_ID_MIN_WEEKLY = 174;

/** Longest the probe may take; the answer is usually a few milliseconds away. */
export const PROBE_TIMEOUT_MS = 5000;
/** Bytes of the answer read at most. */
const MAX_ANSWER_BYTES = 16 * 1024;

/** [major, minor, patch] of `2.1.0`, `v2.1.0`, `2.1.0-rc.1`; undefined for anything else. */
export function parseVersion(version: string): [number, number, number] | undefined {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/u.exec(version.trim());
  return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : undefined;
}

/** Whether a server reporting `version` keeps trace_id per sample rather than as a series label. */
export function keepsTraceIdPerSample(version: string | undefined): boolean {
  if (version === undefined) return false;
  const weekly = /^weekly-f(\d+)-/u.exec(version.trim());
  if (weekly) return Number(weekly[1]) >= TRACE_ID_MIN_WEEKLY;
  const parsed = parseVersion(version);
  if (parsed === undefined) return false;
  for (let i = 0; i < 3; i++) if (parsed[i] !== TRACE_ID_MIN_VERSION[i]) return parsed[i]! > TRACE_ID_MIN_VERSION[i]!;
  return true;
}

/** What the probe learned. */
export type ServerVersion =
  | { readonly known: true; readonly version: string }
  /** `transient`: no answer, or a 5xx/408/429: asking again later may tell. */
  | { readonly known: false; readonly reason: string; readonly transient: boolean };

/** How the probe reaches the server: the exporter's own transport, auth and tenant headers. */
export interface ProbeTransport {
  readonly url: URL;
  readonly request: typeof http.request;
  /** false: a connection of its own, so a probe the server never answers cannot hold up an upload. */
  readonly agent: http.Agent | false;
  readonly headers: Readonly<Record<string, string>>;
  /** Removes secrets from a message. */
  readonly scrub: (message: string) => string;
}

/**
 * Asks the server its version, once. Never rejects; resolves within {@link PROBE_TIMEOUT_MS}. The
 * request is not traced (it would show up as a client span of the app) and holds no reference that
 * keeps the process alive.
 */
export function probeServerVersion(transport: ProbeTransport): Promise<ServerVersion> {
  return new Promise<ServerVersion>((resolve) => {
    let settled = false;
    const settle = (result: ServerVersion): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const controller = new AbortController();
    const timer = setTimeout(() => {
      controller.abort();
      settle({ known: false, reason: `no answer within ${PROBE_TIMEOUT_MS} ms`, transient: true });
    }, PROBE_TIMEOUT_MS);
    timer.unref();
    context.with(suppressTracing(context.active()), () => {
      try {
        const req = transport.request(
          transport.url,
          { method: 'GET', agent: transport.agent, signal: controller.signal, headers: { ...transport.headers, accept: 'application/json' } },
          (res) => {
            const chunks: Buffer[] = [];
            let received = 0;
            res.on('data', (chunk: Buffer) => {
              if (received < MAX_ANSWER_BYTES) chunks.push(chunk);
              received += chunk.length;
            });
            res.on('end', () => settle(readAnswer(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'))));
            res.on('error', (error) => settle({ known: false, reason: transport.scrub(error.message), transient: true }));
          },
        );
        req.on('socket', (socket) => socket.unref());
        req.on('error', (error) => settle({ known: false, reason: transport.scrub(error.message), transient: true }));
        req.end();
      } catch (error) {
        settle({ known: false, reason: transport.scrub(describeError(error)), transient: true });
      }
    });
  });
}

function readAnswer(status: number, body: string): ServerVersion {
  if (status < 200 || status >= 300) {
    return { known: false, reason: `HTTP ${status}`, transient: status >= 500 || status === 408 || status === 429 };
  }
  try {
    const parsed = JSON.parse(body) as { data?: { version?: unknown } };
    const version = parsed.data?.version;
    if (typeof version === 'string' && version.trim() !== '') return { known: true, version: version.trim().slice(0, 100) };
  } catch {
    // Not JSON: a proxy's page, or something else answering at that path.
  }
  return { known: false, reason: 'the answer has no version', transient: false };
}
