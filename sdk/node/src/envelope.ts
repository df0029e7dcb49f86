// Envelope v1: a CloudEvents 1.0 event in structured JSON mode (sdk/spec/envelope.schema.json).
// https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md
import { randomHex } from "./random.js";

export const SPECVERSION = "1.0";
export const BATCH_CONTENT_TYPE = "application/cloudevents-batch+json";

/** The envelope types and the data fields the service requires of each (DESIGN.md, "Envelope v1"). */
export const REQUIRED_DATA = Object.freeze({
  DeploymentEvent: ["service", "version"],
  JobRunStarted: ["run_id"],
  JobRunCompleted: ["run_id"],
  JobRunFailed: ["run_id"],
  DatasetWriteCommitted: ["dataset_urn"],
  /** The SDK's own periodic self-telemetry (CONTRACT.md section 15), sent by the delivery loop. */
  SdkHealth: ["language", "sdk_version"],
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

// The last second formatted ("2026-11-30T19:19:33."): events of a batch mostly share their second, and
// Date#toISOString is the dearest step of building an envelope. Same text as toISOString, a third of the cost.
let cachedSecond = Number.NaN;
let cachedPrefix = "";
const LAST_MS_OF_9999 = 253_402_300_799_999; // beyond it toISOString writes a six-digit year

function isoMillis(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== cachedSecond) {
    cachedPrefix = new Date(second * 1000).toISOString().slice(0, 20);
    cachedSecond = second;
  }
  const fraction = ms - second * 1000;
  return `${cachedPrefix}${fraction < 10 ? "00" : fraction < 100 ? "0" : ""}${fraction}Z`;
}

/** RFC 3339 with an explicit offset, as CloudEvents `time` requires. A string is trusted as already formatted. */
export function formatTime(value: TimeLike): string {
  if (typeof value === "string") return value;
  const ms = value instanceof Date ? value.getTime() : value;
  if (Number.isInteger(ms) && ms >= 0 && ms <= LAST_MS_OF_9999) return isoMillis(ms);
  return (value instanceof Date ? value : new Date(value)).toISOString(); // NaN throws RangeError, as before
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
  return problemOf(event.type, event.source, event.data);
}

function problemOf(type: unknown, source: unknown, data: unknown): string | undefined {
  if (!isEventType(type)) return `type ${JSON.stringify(type)} is not one of ${EVENT_TYPES.join(", ")}`;
  if (!source) return "it has no source; set AUTOPILOT_SERVICE or AUTOPILOT_PRODUCER, or pass source";
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

/** A value as JSON, as encode() writes it (BigInt as a string); undefined where JSON.stringify leaves a key out. */
function jsonValue(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    return JSON.stringify(value, lenient);
  }
}

// Names an extension may not take: the core attributes are always there, and an extension whose name an object
// already answers to (`constructor`, `toString`...) is left out by buildEvent's `name in event` too.
const PLAIN = Object.freeze({});
const TYPE_JSON: Readonly<Record<string, string>> = Object.fromEntries(EVENT_TYPES.map((type) => [type, JSON.stringify(type)]));
const sourceJson = new Map<string, string>();

/**
 * The delivery loop's encoder: `encode(buildEvent(type, data, attributes))`, byte for byte, without building the
 * event object; the JSON of the constant parts (type, source) is made once. Returns the JSON or, when the service
 * would reject the event, the reason as `{ problem }`. Throws what JSON.stringify throws (a cycle).
 */
export function encodeEvent(
  type: string,
  data: Readonly<Record<string, unknown>> | undefined,
  attributes: EventAttributes,
): string | { problem: string } {
  const body = data ?? {};
  const why = problemOf(type, attributes.source, body);
  if (why !== undefined) return { problem: why };
  let source = sourceJson.get(attributes.source);
  if (source === undefined) {
    source = JSON.stringify(attributes.source);
    if (sourceJson.size < 64) sourceJson.set(attributes.source, source);
  }
  const id = attributes.id ? JSON.stringify(attributes.id) : `"${newEventId()}"`;
  const time = formatTime(attributes.time ?? Date.now());
  let out = `{"specversion":"1.0","datacontenttype":"application/json","id":${id},"type":${TYPE_JSON[type]},"source":${source},"time":${
    typeof attributes.time === "string" ? JSON.stringify(time) : `"${time}"`
  }`;
  const dataJson = jsonValue(body);
  if (dataJson !== undefined) out += `,"data":${dataJson}`;
  const { subject, traceparent, extensions } = attributes;
  if (subject) out += `,"subject":${JSON.stringify(subject)}`;
  if (traceparent) out += `,"traceparent":${JSON.stringify(traceparent)}`;
  if (extensions) {
    for (const name of Object.keys(extensions)) {
      if (CORE.has(name) || name in PLAIN || (name === "subject" && subject) || (name === "traceparent" && traceparent)) continue;
      const value = jsonValue(extensions[name]);
      if (value !== undefined) out += `,${JSON.stringify(name)}:${value}`;
    }
  }
  return `${out}}`;
}

const CORE = new Set(["specversion", "datacontenttype", "id", "type", "source", "time", "data"]);
