/**
 * Options the agent gives upstream instrumentations, where their defaults make noise users do not want.
 */
import type { Span } from '@opentelemetry/api';

/** What the express instrumentation tells its hooks about a layer. */
interface ExpressLayerInfo {
  layerType?: string;
  route?: string;
}

const HTTP_ROUTE = 'http.route';

/**
 * Express: `http.route` only on the span of the route's handler (the instrumentation puts the path matched
 * so far on every middleware and router span too, so `/` or `/api` reads as a route), and the handler span
 * named by its route on Express 5 (where the layer has no path and the name would be a bare
 * `request handler`).
 */
export const EXPRESS_OPTIONS: Readonly<Record<string, unknown>> = {
  spanNameHook(info: ExpressLayerInfo, defaultName: string): string {
    if (info.layerType === 'request_handler' && defaultName === 'request handler' && info.route) return `request handler - ${info.route}`;
    return defaultName;
  },
  requestHook(span: Span, info: ExpressLayerInfo): void {
    if (info.layerType === 'request_handler') return;
    // The API has no way to remove an attribute; the SDK span keeps them in a plain object, set at start.
    const attributes = (span as unknown as { attributes?: Record<string, unknown> }).attributes;
    if (attributes !== undefined && typeof attributes === 'object' && HTTP_ROUTE in attributes) delete attributes[HTTP_ROUTE];
  },
};
