// The kill switch: `GET {endpoint}/v1/control/{producer}?env={env}`, polled by the delivery loop
// (sdk/spec/CONTRACT.md, section 9). The service has already folded per-domain kills into `killed` and, when the SDK
// names its environment (AUTOPILOT_ENV), that environment's rollout flag into `enabled`. 404 means no entry: run with
// defaults. Any failure to ask keeps the last known state: an unreachable control plane neither kills nor revives.
import { requestHeaders } from "./delivery.js";
import type { ProblemLog } from "./log.js";
import type { Transport } from "./transport.js";

export interface ControlState {
  readonly enabled: boolean;
  readonly killed: boolean;
  readonly ring: number | null;
  readonly domain: string | null;
  /** "default" (never asked, or no entry) or "control-plane". */
  readonly source: "default" | "control-plane";
}

export const DEFAULT_CONTROL: ControlState = Object.freeze({
  enabled: true,
  killed: false,
  ring: null,
  domain: null,
  source: "default",
});

export function isSending(state: ControlState): boolean {
  return state.enabled && !state.killed;
}

/**
 * The producer URN is one path segment, so its ':' and '/' are percent-encoded (RFC 3986, 3.3); the environment, when
 * there is one, is the percent-encoded `env` query parameter.
 */
export function controlUrl(endpoint: string, producer: string, env?: string): string {
  const url = `${endpoint}/v1/control/${encodeURIComponent(producer)}`;
  return env ? `${url}?env=${encodeURIComponent(env)}` : url;
}

export interface ControlOptions {
  readonly pollInterval: number;
  readonly connectTimeout: number;
  readonly timeout: number;
  /** The SDK's environment (AUTOPILOT_ENV): the service then answers the producer's flag there. */
  readonly env?: string | undefined;
  /** Monotonic seconds. */
  readonly clock: () => number;
  readonly problems: ProblemLog;
}

export class ControlPlane {
  state: ControlState = DEFAULT_CONTROL;
  private etag: string | undefined;
  private nextPoll: number;
  private readonly url: string;

  constructor(
    private readonly transport: Transport,
    endpoint: string,
    producer: string,
    private readonly token: string | undefined,
    private readonly options: ControlOptions,
  ) {
    this.url = controlUrl(endpoint, producer, options.env);
    this.nextPoll = options.clock(); // ask before the first batch goes out
  }

  secondsUntilDue(): number {
    return Math.max(0, this.nextPoll - this.options.clock());
  }

  async pollIfDue(signal?: AbortSignal): Promise<ControlState> {
    if (this.options.clock() >= this.nextPoll) {
      this.nextPoll = this.options.clock() + this.options.pollInterval;
      this.state = await this.fetch(signal);
    }
    return this.state;
  }

  private async fetch(signal?: AbortSignal): Promise<ControlState> {
    const { problems } = this.options;
    let status: number;
    let body: Buffer;
    let etag: string | undefined;
    try {
      const response = await this.transport.send({
        method: "GET",
        url: this.url,
        headers: requestHeaders(this.token, this.etag ? { "If-None-Match": this.etag } : undefined),
        connectTimeout: this.options.connectTimeout,
        timeout: this.options.timeout,
        signal,
      });
      ({ status, body } = response);
      etag = response.headers.etag;
    } catch (error) {
      problems.report("control", `autopilot: control plane unreachable (${describe(error)}); keeping the last state.`);
      return this.state;
    }
    if (status === 304) return this.state;
    if (status === 404) {
      problems.clear("control");
      return DEFAULT_CONTROL;
    }
    if (status !== 200) {
      problems.report("control", `autopilot: control plane answered HTTP ${status}; keeping the last state.`);
      return this.state;
    }
    let answer: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(body.toString("utf8"));
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not an object");
      answer = parsed as Record<string, unknown>;
    } catch (error) {
      problems.report("control", `autopilot: control plane answer is not a JSON object (${describe(error)}); keeping the last state.`);
      return this.state;
    }
    problems.clear("control", "autopilot: control plane reachable again.");
    this.etag = etag;
    return Object.freeze({
      enabled: answer.enabled === undefined ? true : Boolean(answer.enabled),
      killed: Boolean(answer.killed),
      ring: typeof answer.ring === "number" ? answer.ring : null,
      domain: typeof answer.domain === "string" ? answer.domain : null,
      source: "control-plane",
    });
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
