// One submission of a batch to `POST /v1/events`, and what its answer means for the events
// (sdk/spec/CONTRACT.md, sections 4 and 5). Retryable: no HTTP answer, 408, 429 and 5xx. Any other 4xx (and a
// 3xx) will not get better by resending: those events are rejected. In a 2xx, items the service reports as
// rejected are dropped the same way.
import { BATCH_CONTENT_TYPE } from "./envelope.js";
import { type Transport, TransportError } from "./transport.js";
import { VERSION } from "./version.js";

export const USER_AGENT = `autopilot-node/${VERSION}`;
export const DROPS_HEADER = "Autopilot-Signals-Dropped";

export type Outcome = "delivered" | "retry" | "rejected";

export interface Submission {
  readonly outcome: Outcome;
  /** accepted + duplicate: the service has them. */
  readonly delivered: number;
  readonly rejected: number;
  /** Seconds, from a Retry-After header. */
  readonly retryAfter: number | undefined;
  /** For the one log line a problem gets. */
  readonly detail: string;
  /** `id: field: error` for each rejected item. */
  readonly rejections: readonly string[];
}

export function requestHeaders(token: string | undefined, extra?: Readonly<Record<string, string>>): Record<string, string> {
  const headers: Record<string, string> = { "User-Agent": USER_AGENT, Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  return extra ? { ...headers, ...extra } : headers;
}

export interface SubmitOptions {
  readonly connectTimeout: number;
  readonly timeout: number;
  readonly signal?: AbortSignal | undefined;
  readonly extraHeaders?: Readonly<Record<string, string>> | undefined;
}

/** POST one batch once. Never rejects. */
export async function submit(
  transport: Transport,
  endpoint: string,
  token: string | undefined,
  body: string,
  count: number,
  options: SubmitOptions,
): Promise<Submission> {
  const headers = requestHeaders(token, { "Content-Type": BATCH_CONTENT_TYPE, ...options.extraHeaders });
  let status: number;
  let answer: Buffer;
  let responseHeaders: Readonly<Record<string, string>>;
  try {
    const response = await transport.send({
      method: "POST",
      url: `${endpoint}/v1/events`,
      headers,
      body,
      connectTimeout: options.connectTimeout,
      timeout: options.timeout,
      signal: options.signal,
    });
    ({ status, body: answer, headers: responseHeaders } = response);
  } catch (error) {
    const detail = error instanceof TransportError ? `${error.kind}: ${error.message}` : `transport error: ${String(error)}`;
    return result("retry", { detail });
  }
  if (status >= 200 && status < 300) return accepted(answer, count);
  const detail = `HTTP ${status}: ${answer.subarray(0, 200).toString("utf8")}`;
  if (status === 408 || status === 429 || status >= 500) {
    return result("retry", { detail, retryAfter: parseRetryAfter(responseHeaders["retry-after"]) });
  }
  return result("rejected", { rejected: count, detail });
}

function result(outcome: Outcome, fields: Partial<Submission>): Submission {
  return { outcome, delivered: 0, rejected: 0, retryAfter: undefined, detail: "", rejections: [], ...fields };
}

function accepted(body: Buffer, count: number): Submission {
  let results: unknown[] = [];
  try {
    const answer: unknown = body.length ? JSON.parse(body.toString("utf8")) : {};
    const items = (answer as { results?: unknown } | null)?.results;
    if (Array.isArray(items)) results = items;
  } catch {
    // Not JSON: a 2xx without results means all were taken.
  }
  const rejections: string[] = [];
  for (const item of results) {
    if (typeof item !== "object" || item === null) continue;
    const { id, field, error, status } = item as Record<string, unknown>;
    if (status === "rejected") rejections.push(`${text(id)}: ${field ? text(field) : "-"}: ${error ? text(error) : "rejected"}`);
  }
  const rejected = Math.min(rejections.length, count);
  return result("delivered", { delivered: count - rejected, rejected, rejections });
}

function text(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function parseRetryAfter(raw: string | undefined): number | undefined {
  if (raw === undefined || raw.trim() === "") return undefined;
  const seconds = Number(raw);
  return Number.isFinite(seconds) ? Math.max(0, seconds) : undefined; // an HTTP-date: the backoff is good enough
}
