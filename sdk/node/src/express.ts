/**
 * Trace context at the edge for Express (4 and 5), Connect, or a plain node:http handler:
 *
 *     import express from "express";
 *     import { traceMiddleware } from "@rca/autopilot/express";
 *
 *     const app = express();
 *     app.use(traceMiddleware());
 *
 * Each request continues the caller's W3C trace (a valid `traceparent` header: same trace id, new span id) or
 * starts one; events emitted and Kafka records sent while handling it (through awaits and callbacks) carry it.
 * While the SDK is disabled the middleware only calls next().
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { type ClientSource, isActive } from "./process-client.js";
import { continueTrace, withTrace } from "./trace.js";

export interface TraceMiddlewareOptions {
  /** Whose `active` decides whether to trace. Default: the process-wide client at request time. */
  readonly client?: ClientSource;
}

/** `(req, res, next)` middleware; typed on node:http so that it fits Express, Connect and plain servers alike. */
export function traceMiddleware(
  options?: TraceMiddlewareOptions,
): (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void {
  return (req, _res, next) => {
    if (!isActive(options?.client)) return next();
    withTrace(continueTrace(req.headers), next);
  };
}

/** Run `handler` inside the trace of an incoming request: for servers without middleware (node:http, h3, ...). */
export function withIncomingTrace<T>(req: Pick<IncomingMessage, "headers">, handler: () => T, options?: TraceMiddlewareOptions): T {
  if (!isActive(options?.client)) return handler();
  return withTrace(continueTrace(req.headers), handler);
}
