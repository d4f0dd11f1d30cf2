/**
 * The HTTP server of `span-profiles view`: the page, its static assets (all served from the package,
 * nothing from the network) and the JSON API over one store directory.
 *
 * Safety: the assets are read into memory at start and looked up by exact URL, so no request path is
 * ever joined to a directory; the API takes ids only (see ./query.ts). Bound to loopback, the server
 * also refuses requests whose Host header names another machine, which stops a web page from reading
 * it through DNS rebinding.
 */

import { promises as fsp } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { parseStoreFileName } from '../../store/layout';
import type { StoreProblem } from '../../store/read/reader';
import { StoreIndex } from '../../store/read/store-index';
import { handleApi, type ApiResult } from './api';
import { handleIndexedApi } from './indexed-api';
import { ApiError } from './query';
import { StoreCache } from './store-cache';

export interface ViewServerOptions {
  /** The store directory to serve. */
  dir: string;
  /** Address to bind; 127.0.0.1 unless the user asks otherwise. */
  host: string;
  /** Port; 0 picks a free one. */
  port: number;
  /** Where the built page lives; defaults to `static/` beside this module. */
  staticDir?: string;
  /**
   * Stores larger than this many bytes answer the list and span pages from the store's SQLite index
   * (kept up to date incrementally) instead of reading everything; default 64 MiB. 0: always.
   */
  indexAboveBytes?: number;
}

export interface ViewServer {
  /** `http://host:port/`, the address to open. */
  url: string;
  port: number;
  /** Stops accepting, ends open connections, resolves when closed. */
  close(): Promise<void>;
}

interface Asset {
  contentType: string;
  data: Buffer;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.txt': 'text/plain; charset=utf-8',
};

/** The page's URLs: all answered with the same page, which renders by its path. */
const PAGE_PATHS = [/^\/$/, /^\/span\/[0-9a-fA-F]{16}$/, /^\/service$/, /^\/heap$/, /^\/diff$/];

const SECURITY_HEADERS: Record<string, string> = {
  // d3-flame-graph injects its own <style> element, hence 'unsafe-inline' for styles only.
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
};

/** The directory the build step copies the page into. */
export function defaultStaticDir(): string {
  return path.join(__dirname, 'static');
}

/** Reads every file under `dir` (one level of subdirectories) into `/static/<relative path>` entries. */
async function loadAssets(dir: string): Promise<Map<string, Asset>> {
  const assets = new Map<string, Asset>();
  const walk = async (sub: string, depth: number): Promise<void> => {
    for (const entry of await fsp.readdir(path.join(dir, sub), { withFileTypes: true })) {
      const relative = sub === '' ? entry.name : `${sub}/${entry.name}`;
      if (entry.isDirectory() && depth < 2) await walk(relative, depth + 1);
      const type = CONTENT_TYPES[path.extname(entry.name)];
      if (!entry.isFile() || type === undefined) continue;
      assets.set(`/static/${relative}`, { contentType: type, data: await fsp.readFile(path.join(dir, relative)) });
    }
  };
  try {
    await walk('', 0);
  } catch (error) {
    throw new Error(`the page's files are missing (${dir}: ${(error as Error).message}); run 'npm run build:view'`);
  }
  if (!assets.has('/static/index.html')) throw new Error(`the page's files are missing (no index.html in ${dir}); run 'npm run build:view'`);
  return assets;
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

function isLoopback(host: string): boolean {
  return LOOPBACK_NAMES.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Starts the server; rejects when the port is taken or the page's files are missing. */
export async function startViewServer(options: ViewServerOptions): Promise<ViewServer> {
  const assets = await loadAssets(options.staticDir ?? defaultStaticDir());
  const store = new StoreCache(options.dir);
  const indexed = new IndexedStore(options.dir, options.indexAboveBytes ?? DEFAULT_INDEX_ABOVE_BYTES);
  const loopbackOnly = isLoopback(options.host);
  let port = options.port;

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: `internal error: ${(error as Error)?.message ?? String(error)}` });
      else res.destroy();
    });
  });

  const allowedHost = (header: string | undefined): boolean => {
    if (!loopbackOnly) return true;
    if (header === undefined) return false;
    const match = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(header.toLowerCase());
    if (!match) return false;
    const hostname = match[1]!;
    return (isLoopback(hostname) || hostname === options.host.toLowerCase()) && (match[2] === undefined || Number(match[2]) === port);
  };

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    if (!allowedHost(req.headers.host)) {
      sendJson(res, 421, { error: 'this server answers only to localhost addresses' });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      sendJson(res, 405, { error: `${req.method} is not supported` });
      return;
    }
    const rawPath = (req.url ?? '/').split('?')[0]!;
    const query = new URLSearchParams((req.url ?? '').includes('?') ? req.url!.slice(req.url!.indexOf('?') + 1) : '');

    if (rawPath.startsWith('/api/')) {
      const route = rawPath.slice('/api/'.length);
      let indexedProblems: StoreProblem[] = [];
      let result: ApiResult | undefined;
      try {
        const answered = await indexed.answer(route, query);
        indexedProblems = answered?.problems ?? [];
        result = answered?.result;
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        sendJson(res, error.status, { error: error.message, problems: indexedProblems });
        return;
      }
      const snapshot = result === undefined ? await store.snapshot() : undefined;
      try {
        result ??= await handleApi(snapshot!, route, query);
        if (result.type === 'json') {
          sendJson(res, 200, result.body);
        } else {
          res.writeHead(200, {
            'content-type': result.contentType,
            'content-length': result.data.length,
            'content-disposition': `attachment; filename="${result.fileName}"`,
            'cache-control': 'no-store',
          });
          res.end(req.method === 'HEAD' ? undefined : result.data);
        }
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        sendJson(res, error.status, { error: error.message, problems: snapshot?.problems ?? [] });
      }
      return;
    }

    const asset = PAGE_PATHS.some((p) => p.test(rawPath)) ? assets.get('/static/index.html') : assets.get(rawPath);
    if (asset === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': asset.contentType, 'content-length': asset.data.length, 'cache-control': 'no-cache' });
    res.end(req.method === 'HEAD' ? undefined : asset.data);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  const hostInUrl = options.host.includes(':') ? `[${options.host}]` : options.host === '0.0.0.0' ? '127.0.0.1' : options.host;
  return {
    url: `http://${hostInUrl}:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          indexed.close();
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': data.length, 'cache-control': 'no-store' });
  res.end(data);
}

const DEFAULT_INDEX_ABOVE_BYTES = 64 * 1024 * 1024;
/** The store's size is measured again at most this often. */
const SIZE_CHECK_MS = 5000;

/** The store's index, used once the store is large (see {@link ViewServerOptions.indexAboveBytes}). */
class IndexedStore {
  private index: StoreIndex | undefined;
  private large: { checkedAt: number; value: boolean } | undefined;
  private updating: Promise<StoreProblem[]> | undefined;
  private unavailable = false;

  constructor(
    private readonly dir: string,
    private readonly aboveBytes: number,
  ) {}

  /** The answer from the index, or undefined when the store is small, the route is not indexed, or there is no node:sqlite. */
  async answer(route: string, params: URLSearchParams): Promise<{ result: ApiResult | undefined; problems: StoreProblem[] } | undefined> {
    if (this.unavailable || !/^(store|roots|span\/)/.test(route) || !(await this.isLarge())) return undefined;
    this.index ??= StoreIndex.open(this.dir);
    if (this.index === undefined) {
      this.unavailable = true;
      return undefined;
    }
    // One update at a time; requests meanwhile share it.
    this.updating ??= this.index.update().finally(() => {
      this.updating = undefined;
    });
    const problems = (await this.updating).map((p) => ({ path: path.relative(this.dir, p.path) || '.', reason: p.reason }));
    return { result: await handleIndexedApi(this.index, problems, route, params), problems };
  }

  close(): void {
    this.index?.close();
    this.index = undefined;
  }

  private async isLarge(): Promise<boolean> {
    if (this.aboveBytes <= 0) return true;
    if (this.large !== undefined && Date.now() - this.large.checkedAt < SIZE_CHECK_MS) return this.large.value;
    let bytes = 0;
    try {
      for (const service of await fsp.readdir(this.dir, { withFileTypes: true })) {
        if (!service.isDirectory()) continue;
        for (const name of await fsp.readdir(path.join(this.dir, service.name))) {
          if (parseStoreFileName(name) === undefined) continue;
          bytes += (await fsp.stat(path.join(this.dir, service.name, name)).catch(() => ({ size: 0 }))).size;
          if (bytes > this.aboveBytes) break;
        }
        if (bytes > this.aboveBytes) break;
      }
    } catch {
      // unreadable: the whole-store path reports it
    }
    this.large = { checkedAt: Date.now(), value: bytes > this.aboveBytes };
    return this.large.value;
  }
}
