/**
 * Identity headers on every record a @platformatic/kafka Producer sends:
 *
 *     import { Producer } from "@platformatic/kafka";
 *     import { instrumentProducer } from "@rca/autopilot/platformatic-kafka";
 *
 *     const producer = instrumentProducer(new Producer({ clientId: "orders", bootstrapBrokers }));
 *     await producer.send({ messages: [{ topic: "orders", value: Buffer.from(JSON.stringify(order)) }] });
 *
 * `send` gets `autopilot-producer`, `autopilot-env`, `autopilot-version` and the `traceparent` in use
 * (sdk/spec/CONTRACT.md, section 8), unless the message already has that header (yours wins); so do producer
 * streams (`asStream()`) and transactions, which send through it. Header keys and values are Buffers, as the
 * default (no-op) serializers expect; pass `{ headers: "string" }` when the producer uses string serializers
 * (`serializers: stringSerializers`). While the SDK is disabled or killed, records go out exactly as given. The
 * producer is instrumented in place and returned.
 */
import { type InstrumentOptions, identityHeaders } from "./kafka-identity.js";

export interface PlatformaticOptions extends InstrumentOptions {
  /** How header keys and values are given to the producer's header serializers. Default "buffer". */
  readonly headers?: "buffer" | "string" | undefined;
}

interface ProducerLike {
  send(options: never, ...rest: never[]): unknown;
}

type Method = (this: unknown, ...args: unknown[]) => unknown;

const INSTRUMENTED = Symbol.for("@rca/autopilot.platformatic-kafka");

/** Add the identity headers to every record `producer` sends; returns the same producer. Idempotent. */
export function instrumentProducer<P extends ProducerLike>(producer: P, options?: PlatformaticOptions): P {
  const target = producer as unknown as Record<PropertyKey, unknown>;
  if (target[INSTRUMENTED] === true) return producer;
  const send = target.send as Method;
  const encode = options?.headers === "string" ? (text: string): unknown => text : (text: string): unknown => Buffer.from(text);
  // An own property in front of the class's method: the producer's streams and transactions call this.send too.
  target.send = function (this: unknown, sendOptions: unknown, ...rest: unknown[]): unknown {
    let given = sendOptions;
    try {
      const identity = identityHeaders(options);
      if (identity !== undefined && isObject(sendOptions) && Array.isArray(sendOptions.messages)) {
        const messages: unknown[] = sendOptions.messages;
        given = { ...sendOptions, messages: messages.map((message) => addHeaders(message, identity, encode)) };
      }
    } catch {
      // The record goes out as the caller gave it: a wrapper must never be why a produce fails.
    }
    return send.call(this, given, ...rest);
  };
  Object.defineProperty(target, INSTRUMENTED, { value: true });
  return producer;
}

function addHeaders(message: unknown, identity: Record<string, string>, encode: (text: string) => unknown): unknown {
  if (!isObject(message)) return message;
  const own = message.headers;
  const headers = new Map<unknown, unknown>();
  if (own instanceof Map) {
    const taken = new Set([...own.keys()].map((key) => (Buffer.isBuffer(key) ? key.toString("utf8") : String(key))));
    for (const [name, value] of Object.entries(identity)) {
      if (!taken.has(name)) headers.set(encode(name), encode(value));
    }
    for (const [key, value] of own) headers.set(key, value);
    return { ...message, headers };
  }
  if (isObject(own)) {
    // The caller's record form (string keys): ours in the same form, theirs on top.
    const record: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(identity)) record[name] = encode(value);
    return { ...message, headers: Object.assign(record, own) };
  }
  for (const [name, value] of Object.entries(identity)) headers.set(encode(name), encode(value));
  return { ...message, headers };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}
