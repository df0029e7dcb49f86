/**
 * Test doubles for code that uses the SDK: a transport that records instead of sending.
 *
 *     import { Client } from "@rca/autopilot";
 *     import { FakeTransport } from "@rca/autopilot/testing";
 *
 *     const fake = new FakeTransport();
 *     const client = new Client({ enabled: true, endpoint: "http://rca.test", service: "checkout" }, { transport: fake });
 *     client.emit("DeploymentEvent", { service: "checkout", version: "1.2.3" });
 *     await client.flush(1);
 *     assert.equal(fake.events.at(-1)?.data.version, "1.2.3");
 */
import type { CloudEvent } from "./envelope.js";
import { type HttpRequest, type HttpResponse, type Transport, TransportError } from "./transport.js";

export { type HttpRequest, type HttpResponse, type Transport, TransportError } from "./transport.js";

/** Return a response, throw a TransportError, or return undefined to fall back to the default answer. */
export type FakeHandler = (request: HttpRequest) => HttpResponse | undefined | Promise<HttpResponse | undefined>;

/**
 * Answers like the rca service: every event accepted, no control entry (404). Pass a handler to script other
 * answers; `setControl({ killed: true })` sets the kill switch, and `setControl({ environments: { staging: true,
 * prod: false } })` the rollout's flag per environment: a request naming its `env` is then enabled only where that
 * flag is on (unlisted: off), like the service. Everything sent is kept in `requests`, and the
 * events the default answer took in `events`.
 */
export class FakeTransport implements Transport {
  readonly requests: HttpRequest[] = [];
  readonly events: CloudEvent[] = [];
  control: Record<string, unknown> | undefined;
  environments: Readonly<Record<string, boolean>> = {};

  constructor(public handler?: FakeHandler) {}

  setControl(
    control: {
      enabled?: boolean;
      killed?: boolean;
      ring?: number;
      domain?: string | null;
      environments?: Readonly<Record<string, boolean>>;
    } = {},
  ): void {
    const { environments, ...entry } = control;
    this.control = { enabled: true, killed: false, ring: 0, domain: null, ...entry };
    this.environments = { ...environments };
  }

  async send(request: HttpRequest): Promise<HttpResponse> {
    this.requests.push(request);
    if (request.signal?.aborted) throw new TransportError("timeout", "the request was cut short");
    const scripted = this.handler ? await this.handler(request) : undefined;
    if (scripted !== undefined) return scripted;
    if (request.method === "GET" && request.url.includes("/v1/control/")) {
      if (this.control === undefined) return json(404, { detail: "no entry" });
      const env = new URL(request.url).searchParams.get("env");
      if (!env || Object.keys(this.environments).length === 0) return json(200, this.control);
      return json(200, { ...this.control, enabled: this.control.enabled === true && this.environments[env] === true });
    }
    if (request.method === "POST" && request.url.endsWith("/v1/events")) {
      const batch = JSON.parse(String(request.body ?? "[]")) as CloudEvent[];
      this.events.push(...batch);
      const results = batch.map((event) => ({ id: event.id, source: event.source, status: "accepted" }));
      return json(200, { accepted: batch.length, duplicate: 0, rejected: 0, results });
    }
    return json(404, { detail: "not found" });
  }

  /** The POST requests, in order. */
  get posts(): HttpRequest[] {
    return this.requests.filter((request) => request.method === "POST");
  }

  /** The events of each POST, in order. */
  batches(): CloudEvent[][] {
    return this.posts.map((request) => JSON.parse(String(request.body ?? "[]")) as CloudEvent[]);
  }
}

/** An HttpResponse with a JSON body. */
export function json(status: number, payload: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { status, headers: { "content-type": "application/json", ...headers }, body: Buffer.from(JSON.stringify(payload)) };
}
