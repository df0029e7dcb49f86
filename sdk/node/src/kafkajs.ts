/**
 * Identity headers on every record a kafkajs producer sends (or any producer with kafkajs's API, such as
 * @confluentinc/kafka-javascript's KafkaJS-compatible one):
 *
 *     import { Kafka } from "kafkajs";
 *     import { instrumentProducer } from "@rca/autopilot/kafkajs";
 *
 *     const producer = instrumentProducer(new Kafka({ brokers }).producer());
 *     await producer.send({ topic: "orders", messages: [{ value: JSON.stringify(order) }] });
 *
 * `send`, `sendBatch` and the same methods of transactions add `autopilot-producer`, `autopilot-env`,
 * `autopilot-version` and the `traceparent` in use (sdk/spec/CONTRACT.md, section 8), unless the message already
 * has that header (yours wins). While the SDK is disabled or killed, records go out exactly as given. The
 * producer is instrumented in place and returned.
 */
import { type InstrumentOptions, identityHeaders } from "./kafka-identity.js";

export type { InstrumentOptions } from "./kafka-identity.js";

interface SenderLike {
  send(record: never): Promise<unknown>;
  sendBatch?(batch: never): Promise<unknown>;
}

interface ProducerLike extends SenderLike {
  transaction?(): Promise<SenderLike>;
}

type Method = (this: unknown, ...args: unknown[]) => unknown;

const INSTRUMENTED = Symbol.for("@rca/autopilot.kafkajs");

/** Add the identity headers to every record `producer` sends; returns the same producer. Idempotent. */
export function instrumentProducer<P extends ProducerLike>(producer: P, options?: InstrumentOptions): P {
  const target = producer as unknown as Record<PropertyKey, unknown>;
  if (target[INSTRUMENTED] === true) return producer;
  instrumentSender(target, options);
  const transaction = target.transaction;
  if (typeof transaction === "function") {
    target.transaction = async function (this: unknown, ...args: unknown[]): Promise<unknown> {
      const started: unknown = await (transaction as Method).apply(this, args);
      if (typeof started === "object" && started !== null) instrumentSender(started as Record<PropertyKey, unknown>, options);
      return started;
    };
  }
  Object.defineProperty(target, INSTRUMENTED, { value: true });
  return producer;
}

function instrumentSender(sender: Record<PropertyKey, unknown>, options: InstrumentOptions | undefined): void {
  wrap(sender, "send", (record) => withIdentity(record, "messages", options));
  wrap(sender, "sendBatch", (batch) => {
    if (!isObject(batch) || !Array.isArray(batch.topicMessages)) return batch;
    const topicMessages: unknown[] = batch.topicMessages;
    const headers = identityHeaders(options);
    if (headers === undefined) return batch;
    return { ...batch, topicMessages: topicMessages.map((topic) => withIdentity(topic, "messages", options, headers)) };
  });
}

/** Replace `sender[name]` by a function that transforms its first argument; a transform that fails passes it through. */
function wrap(sender: Record<PropertyKey, unknown>, name: string, transform: (first: unknown) => unknown): void {
  const original = sender[name];
  if (typeof original !== "function") return;
  sender[name] = function (this: unknown, first: unknown, ...rest: unknown[]): unknown {
    let given = first;
    try {
      given = transform(first);
    } catch {
      // The record goes out as the caller gave it: a wrapper must never be why a produce fails.
    }
    return (original as Method).call(this, given, ...rest);
  };
}

/** `holder` with new message objects (the caller's are left untouched), identity headers under each message's own. */
function withIdentity(
  holder: unknown,
  key: string,
  options: InstrumentOptions | undefined,
  headers = identityHeaders(options),
): unknown {
  if (headers === undefined || !isObject(holder) || !Array.isArray(holder[key])) return holder;
  const messages: unknown[] = holder[key];
  return {
    ...holder,
    [key]: messages.map((message) =>
      isObject(message) ? { ...message, headers: { ...headers, ...(isObject(message.headers) ? message.headers : {}) } } : message,
    ),
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}
