// Envelope v1: a CloudEvents 1.0 event in structured JSON mode (sdk/spec/envelope.schema.json).
// https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md
import { randomHex } from "./random.js";

export const SPECVERSION = "1.0";
export const BATCH_CONTENT_TYPE = "application/cloudevents-batch+json";

/** The five envelope types and the data fields the service requires of each (DESIGN.md, "Envelope v1"). */
export const REQUIRED_DATA = Object.freeze({
  DeploymentEvent: ["service", "version"],
  JobRunStarted: ["run_id"],
  JobRunCompleted: ["run_id"],
  JobRunFailed: ["run_id"],
  DatasetWriteCommitted: ["dataset_urn"],
} as const);

export type EventType = keyof typeof REQUIRED_DATA;
export const EVENT_TYPES: readonly EventType[] = Object.freeze(Object.keys(REQUIRED_DATA) as EventType[]);
const TYPES = new Set<string>(EVENT_TYPES);

export function isEventType(value: unknown): value is EventType {
  return typeof value === "string" && TYPES.has(value);
}

/** An event time: an RFC 3339 string (kept as given), a Date, or milliseconds since the epoch (like Date.now()). */
export type TimeLike = string | Date | number;

/** One envelope v1 event as a JSON-ready object. */
export interface CloudEvent {
  specversion: "1.0";
  datacontenttype: "application/json";
  id: string;
  type: string;
  source: string;
  time: string;
  data: Record<string, unknown>;
  subject?: string;
  traceparent?: string;
  [extension: string]: unknown;
}

export interface EventAttributes {
  source: string;
  id?: string | undefined;
  time?: TimeLike | undefined;
  subject?: string | undefined;
  traceparent?: string | undefined;
  /** CloudEvents extension attributes: lower-case alphanumeric names; they never replace core attributes. */
  extensions?: Readonly<Record<string, unknown>> | undefined;
}

/** 128 random bits as 32 hex digits, like a UUID without its dashes and version bits. */
export function newEventId(): string {
  return randomHex(16);
}

/** RFC 3339 with an explicit offset, as CloudEvents `time` requires. A string is trusted as already formatted. */
export function formatTime(value: TimeLike): string {
  if (typeof value === "string") return value;
  return (value instanceof Date ? value : new Date(value)).toISOString();
}

/** One envelope v1 event, attributes in the order of sdk/spec/vectors. `data` is used as given (copy it first). */
export function buildEvent(
  type: string,
  data: Readonly<Record<string, unknown>> | undefined,
  attributes: EventAttributes,
): CloudEvent {
  const event: CloudEvent = {
    specversion: SPECVERSION,
    datacontenttype: "application/json",
    id: attributes.id || newEventId(),
    type,
    source: attributes.source,
    time: formatTime(attributes.time ?? Date.now()),
    data: data ?? {},
  };
  if (attributes.subject) event.subject = attributes.subject;
  if (attributes.traceparent) event.traceparent = attributes.traceparent;
  const extensions = attributes.extensions;
  if (extensions) {
    for (const name of Object.keys(extensions)) {
      if (!(name in event)) event[name] = extensions[name];
    }
  }
  return event;
}

/**
 * Why the service would reject this event, in a sentence; undefined when it looks acceptable. Only the checks
 * that catch a producer's own mistakes early (and cheaply) are repeated here; the service stays the judge.
 */
export function problem(event: Readonly<Record<string, unknown>>): string | undefined {
  const type = event.type;
  if (!isEventType(type)) return `type ${JSON.stringify(type)} is not one of ${EVENT_TYPES.join(", ")}`;
  if (!event.source) return "it has no source; set AUTOPILOT_SERVICE or AUTOPILOT_PRODUCER, or pass source";
  const data = event.data;
  if (typeof data !== "object" || data === null || Array.isArray(data)) return "its data is not an object";
  for (const field of REQUIRED_DATA[type]) {
    if (!(data as Record<string, unknown>)[field]) return `data.${field} is required for ${type}`;
  }
  return undefined;
}

/** JSON that JSON.stringify alone cannot write (BigInt) becomes a string, as Python's SDK does for Decimals. */
function lenient(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}

/** An event, or a batch of them, as compact JSON. The plain stringify first: a replacer makes it ~2x slower. */
export function encode(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return JSON.stringify(value, lenient);
  }
}
