/**
 * Trace context at the edge for Fastify (4 and 5):
 *
 *     import Fastify from "fastify";
 *     import { tracePlugin } from "@rca/autopilot/fastify";
 *
 *     const app = Fastify();
 *     await app.register(tracePlugin);
 *
 * Each request continues the caller's W3C trace or starts one, from the first hook (onRequest) to the handler and
 * what it awaits; events and Kafka records sent meanwhile carry it. While the SDK is disabled it does nothing.
 */
import { AsyncResource } from "node:async_hooks";
import type { FastifyPluginCallback } from "fastify";
import { type ClientSource, isActive } from "./process-client.js";
import { continueTrace, withTrace } from "./trace.js";

export interface TracePluginOptions {
  /** Whose `active` decides whether to trace. Default: the process-wide client at request time. */
  readonly client?: ClientSource;
}

const RESOURCE = Symbol("autopilot.trace");

type Traced = { [RESOURCE]?: AsyncResource };

const plugin: FastifyPluginCallback<TracePluginOptions> = (fastify, options, done) => {
  fastify.addHook("onRequest", (request, _reply, next) => {
    if (!isActive(options.client)) return next();
    withTrace(continueTrace(request.headers), () => {
      // Fastify reads the body from stream events, which run outside this context; the resource carries it
      // across, and preValidation re-enters it for the hooks and the handler that follow (as
      // @fastify/request-context does).
      (request as Traced)[RESOURCE] = new AsyncResource("autopilot.trace");
      next();
    });
  });
  fastify.addHook("preValidation", (request, _reply, next) => {
    const resource = (request as Traced)[RESOURCE];
    if (resource === undefined) return next();
    resource.runInAsyncScope(next, request.raw);
  });
  done();
};

/** The plugin, registered without encapsulation so that it traces every route (what fastify-plugin would do). */
export const tracePlugin: FastifyPluginCallback<TracePluginOptions> = Object.assign(plugin, {
  [Symbol.for("skip-override")]: true,
  [Symbol.for("fastify.display-name")]: "@rca/autopilot/fastify",
  [Symbol.for("plugin-meta")]: { name: "@rca/autopilot/fastify", fastify: ">=4" },
});
