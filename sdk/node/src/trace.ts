// W3C Trace Context `traceparent`: continue an incoming trace, or start one at the edge.
// https://www.w3.org/TR/trace-context/#traceparent-header
// The trace in use lives in an AsyncLocalStorage, so it follows the request through awaits, timers and callbacks;
// events emitted and Kafka records sent inside carry its traceparent (sdk/spec/CONTRACT.md, section 10).
import { nonZeroHex } from "./random.js";
import { shared, type TraceLike } from "./shared.js";

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);
const SAMPLED = 0x01;

export class TraceContext implements TraceLike {
  /** `00-<trace id>-<span id>-<flags>`, the header value. */
  readonly traceparent: string;

  constructor(
    readonly traceId: string,
    readonly spanId: string,
    readonly flags: number = SAMPLED,
  ) {
    this.traceparent = `00-${traceId}-${spanId}-${flags.toString(16).padStart(2, "0")}`;
  }

  get sampled(): boolean {
    return (this.flags & SAMPLED) !== 0;
  }
}

/** Where a traceparent may be found: the value itself, or headers as Node, fetch, Express, Fastify and Kafka clients give them. */
export type Incoming =
  | string
  | Uint8Array
  | null
  | undefined
  | Iterable<readonly [unknown, unknown]>
  | { get(name: string): unknown }
  | Readonly<Record<string, unknown>>;

/** The context in a `traceparent` value, or undefined when the spec says to ignore it (never an error). */
export function parseTraceparent(value: unknown): TraceContext | undefined {
  if (Array.isArray(value)) value = value[0]; // a repeated header: the first
  if (value instanceof Uint8Array) value = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("latin1");
  if (typeof value !== "string") return undefined;
  const text = value.trim();
  const match = TRACEPARENT.exec(text);
  if (!match) return undefined;
  const [, version, traceId, spanId, flags] = match as unknown as [string, string, string, string, string];
  if (version === "ff" || traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  // Version 00 is exactly 55 characters; a later version may append fields after a '-', and a receiver that
  // knows only 00 reads the first four and ignores the rest (spec, section 4.3).
  if (text.length !== 55 && (version === "00" || text[55] !== "-")) return undefined;
  return new TraceContext(traceId, spanId, Number.parseInt(flags, 16));
}

/** A new trace at the edge: nothing upstream sent a (valid) traceparent. */
export function startTrace(sampled = true): TraceContext {
  return new TraceContext(nonZeroHex(16), nonZeroHex(8), sampled ? SAMPLED : 0);
}

/** Join the caller's trace with a new span id, or start a new trace when there is none to join. */
export function continueTrace(incoming: Incoming): TraceContext {
  const parent = parseTraceparent(findTraceparent(incoming));
  if (parent === undefined) return startTrace();
  return new TraceContext(parent.traceId, nonZeroHex(8), parent.flags & SAMPLED);
}

/** Run `fn` with `context` as the trace in use: events and Kafka records inside (and in what it awaits) carry it. */
export function withTrace<T>(context: TraceContext, fn: () => T): T {
  return shared.trace.run(context, fn);
}

/** The trace in use here, if any. */
export function currentTrace(): TraceContext | undefined {
  const store = shared.trace.getStore();
  return store instanceof TraceContext ? store : store ? parseTraceparent(store.traceparent) : undefined;
}

/** The traceparent of the trace in use here, if any. */
export function currentTraceparent(): string | undefined {
  return shared.trace.getStore()?.traceparent;
}

function findTraceparent(incoming: Incoming): unknown {
  if (incoming === null || incoming === undefined || typeof incoming === "string" || incoming instanceof Uint8Array) {
    return incoming;
  }
  try {
    if (typeof (incoming as { get?: unknown }).get === "function" && !(incoming instanceof Map)) {
      return (incoming as { get(name: string): unknown }).get("traceparent"); // fetch's Headers: case-insensitive
    }
    const entries =
      Symbol.iterator in incoming
        ? (incoming as Iterable<readonly [unknown, unknown]>)
        : Object.entries(incoming as Record<string, unknown>);
    for (const entry of entries) {
      if (!Array.isArray(entry)) continue;
      const [key, value] = entry as [unknown, unknown];
      const name = key instanceof Uint8Array ? Buffer.from(key).toString("latin1") : key;
      if (typeof name === "string" && name.toLowerCase() === "traceparent") return value;
    }
  } catch {
    // Headers of an unexpected shape: no trace to continue.
  }
  return undefined;
}
