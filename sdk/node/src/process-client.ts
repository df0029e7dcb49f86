// The process-wide client behind the module functions (emit, flush, ...). It lives in the process-wide shared
// state, so the ESM and CommonJS builds, loaded side by side, use one client.
import { Client, type ClientOptions, type ClientStats, type EmitOptions, type KafkaHeaders } from "./client.js";
import type { SignalsDropped } from "./counters.js";
import type { EventType } from "./envelope.js";
import type { SettingsInput } from "./settings.js";
import { shared } from "./shared.js";

/** What configure() takes: settings (overriding AUTOPILOT_*) plus the Client's options. */
export type ConfigureOptions = SettingsInput & ClientOptions;

/**
 * (Re)start the process-wide client from AUTOPILOT_* plus `options`, e.g.
 * `configure({ enabled: true, endpoint: "https://rca.internal", service: "checkout-service" })`.
 * A previous client is shut down (within its shutdownTimeout) in the background. Never throws.
 */
export function configure(options: ConfigureOptions = {}): Client {
  const { transport, logger, environ, now, monotonic, ...settings } = options;
  const client = new Client(settings, { transport, logger, environ, now, monotonic });
  const previous = shared.defaultClient as Client | undefined;
  shared.defaultClient = client;
  previous?.shutdown(previous.settings.shutdownTimeout).catch(() => undefined);
  return client;
}

/** The process-wide client, created from AUTOPILOT_* on first use. */
export function getClient(): Client {
  if (shared.defaultClient === undefined) shared.defaultClient = new Client();
  return shared.defaultClient as Client;
}

/**
 * Queue one envelope v1 event; true if queued. Never blocks, never throws. `type` is one of EVENT_TYPES and
 * `data` its fields (snake_case); the id (the idempotency key) is generated once unless given, time defaults to
 * now, source to the producer URN, traceparent to the trace in use.
 */
export function emit(type: EventType | (string & {}), data?: Readonly<Record<string, unknown>>, options?: EmitOptions): boolean {
  return getClient().emit(type, data, options);
}

/** Wait up to `timeout` seconds for queued events to be delivered or dropped. */
export function flush(timeout = 5): Promise<boolean> {
  const client = shared.defaultClient as Client | undefined;
  return client === undefined ? Promise.resolve(true) : client.flush(timeout);
}

/** Deliver what is queued within `timeout` seconds, then stop; later emit() calls are no-ops. */
export function shutdown(timeout = 5): Promise<boolean> {
  const client = shared.defaultClient as Client | undefined;
  return client === undefined ? Promise.resolve(true) : client.shutdown(timeout);
}

/** Events given up on, by reason: queue_full, timeout, circuit_open, killed, rejected. */
export function signalsDropped(): SignalsDropped {
  return getClient().signalsDropped();
}

/** Delivered and dropped counts, queue depth, circuit and control-plane state. */
export function stats(): ClientStats {
  return getClient().stats();
}

/** `autopilot-producer`, `-env`, `-version` and `traceparent` headers for a Kafka record; empty while off or killed. */
export function kafkaHeaders(traceparent?: string): KafkaHeaders {
  return getClient().kafkaHeaders(traceparent);
}

/** A client given as itself, as a function returning one, or not at all (the process-wide client, now). */
export type ClientSource = Client | (() => Client) | undefined;

export function resolveClient(source: ClientSource): Client {
  return typeof source === "function" ? source() : (source ?? getClient());
}

/** Whether the client is enabled with an endpoint; false if it cannot be had. For the edge middleware. */
export function isActive(source: ClientSource): boolean {
  try {
    return resolveClient(source).active;
  } catch {
    return false;
  }
}
