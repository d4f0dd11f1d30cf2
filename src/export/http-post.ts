/**
 * One POST of a profile destination over HTTP(S): never traced as the app's own client call, its socket
 * never keeping the process alive, the answer's body read only as far as a diagnostic needs. The
 * destinations decide what the status means.
 */
import type * as http from 'node:http';
import { context } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import { describeError } from '../logger';

/** Bytes of a response body kept: enough for the server's reason, never a whole page. */
export const MAX_RESPONSE_BYTES = 4096;

/** What came back: the response and the start of its body, or why there was no answer (scrubbed). */
export type PostAnswer = { answered: true; response: http.IncomingMessage; body: Buffer } | { answered: false; reason: string };

export interface PostRequest {
  readonly url: URL;
  readonly agent: http.Agent;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
  readonly signal: AbortSignal;
}

/**
 * Sends `post` with `request` (http.request or https.request). Resolves once; never rejects. `scrub`
 * removes secrets from error messages before they become a reason.
 */
export function postUntraced(request: typeof http.request, post: PostRequest, scrub: (message: string) => string): Promise<PostAnswer> {
  return new Promise<PostAnswer>((resolve) => {
    let settled = false;
    const settle = (answer: PostAnswer): void => {
      if (settled) return;
      settled = true;
      resolve(answer);
    };
    const options: http.RequestOptions = {
      method: 'POST',
      agent: post.agent,
      signal: post.signal,
      headers: { ...post.headers, 'content-length': String(post.body.length) },
    };
    // Our own upload must not show up as an HTTP client span of the app.
    context.with(suppressTracing(context.active()), () => {
      try {
        const req = request(post.url, options, (res) => {
          const chunks: Buffer[] = [];
          let received = 0;
          res.on('data', (chunk: Buffer) => {
            if (received < MAX_RESPONSE_BYTES) chunks.push(chunk);
            received += chunk.length;
          });
          res.on('end', () => settle({ answered: true, response: res, body: Buffer.concat(chunks) }));
          res.on('error', (error) => settle({ answered: false, reason: scrub(error.message) }));
          res.on('close', () => settle({ answered: false, reason: 'connection closed mid-response' }));
        });
        req.on('socket', (socket) => socket.unref());
        req.on('error', (error) => settle({ answered: false, reason: scrub(error.message) }));
        req.end(post.body);
      } catch (error) {
        settle({ answered: false, reason: scrub(describeError(error)) });
      }
    });
  });
}
