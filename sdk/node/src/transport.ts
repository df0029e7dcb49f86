// Outbound HTTP: one small seam (`Transport.send`) and its implementation on node:http / node:https.
//
// Why not the global fetch(): undici keeps a request's socket referenced until the exchange ends, so a backend
// that hangs would hold a finished host process open until the SDK's own timeout. Here every socket is unref'd:
// the SDK's traffic never keeps the process alive (a flush() or the exit flush holds one timer of its own for
// exactly as long as it may wait). Each request still has fetch's shape of cancellation: an AbortSignal bounds
// the whole exchange (connect to last byte, so a server that trickles bytes is cut off), another one the
// connect, and a caller's signal (the shutdown deadline) cuts it short.
import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";

export const MAX_RESPONSE_BYTES = 1 << 20; // the service answers a few KiB; never buffer an unbounded reply

export interface HttpRequest {
  readonly method: "GET" | "POST";
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string | Buffer | undefined;
  /** Seconds for the TCP (and TLS) handshake. */
  readonly connectTimeout: number;
  /** Seconds for the whole exchange, connect to last byte. */
  readonly timeout: number;
  /** Cuts the request short (the shutdown deadline). */
  readonly signal?: AbortSignal | undefined;
}

export interface HttpResponse {
  readonly status: number;
  /** Names in lower case. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

export type TransportErrorKind = "connect" | "timeout" | "io";

/** The request got no HTTP answer. Every kind is retryable. */
export class TransportError extends Error {
  constructor(
    readonly kind: TransportErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "TransportError";
  }
}

/** The seam to the rca service. Tests use `FakeTransport` from `@rca/autopilot/testing`. */
export interface Transport {
  send(request: HttpRequest): Promise<HttpResponse>;
  close?(): void;
}

const CONNECT_ERRORS = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);

export interface HttpTransportOptions {
  /**
   * Keep the process alive while a request is out. Off for the SDK's own delivery, which must never hold a
   * process; on for a command that exists to make the request (`autopilot deploy-event`).
   */
  readonly holdProcess?: boolean | undefined;
}

export class HttpTransport implements Transport {
  private readonly agents = new Map<string, http.Agent>();
  private readonly holdProcess: boolean;

  constructor(options: HttpTransportOptions = {}) {
    this.holdProcess = options.holdProcess ?? false;
  }

  async send(request: HttpRequest): Promise<HttpResponse> {
    let url: URL;
    try {
      url = new URL(request.url);
    } catch (error) {
      throw new TransportError("io", `${JSON.stringify(request.url)} is not a URL`, { cause: error });
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new TransportError("io", `${request.url} is not an http(s) URL`);
    }
    try {
      return await this.exchange(url, request);
    } catch (error) {
      // The server closed a kept-alive connection just as we reused it: once more, on a fresh one (as Node's docs advise).
      if (error instanceof StaleSocket) return await this.exchange(url, request);
      throw error;
    }
  }

  close(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }

  private agent(url: URL): http.Agent {
    const key = url.origin;
    let agent = this.agents.get(key);
    if (agent === undefined) {
      // One kept connection, dropped after 4 s idle: below the usual server keep-alive timeouts (uvicorn 5 s), so
      // we drop it before the server drops it under a request. Free sockets are unref'd by Node itself.
      const options = { keepAlive: true, maxFreeSockets: 1, timeout: 4000, scheduling: "lifo" as const };
      agent = url.protocol === "https:" ? new https.Agent(options) : new http.Agent(options);
      this.agents.set(key, agent);
    }
    return agent;
  }

  private exchange(url: URL, request: HttpRequest): Promise<HttpResponse> {
    return new Promise<HttpResponse>((resolve, reject) => {
      const total = AbortSignal.timeout(Math.max(1, Math.ceil(request.timeout * 1000)));
      const signal = request.signal ? AbortSignal.any([total, request.signal]) : total;
      let settled = false;
      let connectTimer: NodeJS.Timeout | undefined;
      const fail = (error: unknown, reused: boolean): void => {
        if (settled) return;
        settled = true;
        clearTimeout(connectTimer);
        reject(classify(error, url, request, total, reused));
      };
      const headers: Record<string, string> = { ...request.headers };
      if (request.body !== undefined) headers["Content-Length"] = String(Buffer.byteLength(request.body));
      const lib = url.protocol === "https:" ? https : http;
      let req: http.ClientRequest;
      try {
        req = lib.request(url, { method: request.method, headers, agent: this.agent(url), signal });
      } catch (error) {
        fail(error, false);
        return;
      }
      req.on("socket", (socket: Socket) => {
        if (!this.holdProcess) socket.unref(); // the SDK's traffic never keeps the process alive
        if (socket.connecting) {
          connectTimer = setTimeout(() => {
            req.destroy(new TransportError("timeout", `connecting to ${url.host} took over ${request.connectTimeout}s`));
          }, request.connectTimeout * 1000);
          connectTimer.unref();
          socket.once(url.protocol === "https:" ? "secureConnect" : "connect", () => clearTimeout(connectTimer));
        }
      });
      req.on("error", (error) => fail(error, req.reusedSocket));
      req.on("response", (res) => {
        clearTimeout(connectTimer);
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size <= MAX_RESPONSE_BYTES) chunks.push(chunk);
          else res.destroy(); // never buffer an unbounded reply; the status is what matters
        });
        const done = (): void => {
          if (settled) return;
          settled = true;
          resolve({ status: res.statusCode ?? 0, headers: lowerCaseHeaders(res.headers), body: Buffer.concat(chunks) });
        };
        res.on("end", done);
        res.on("error", (error) => (size > MAX_RESPONSE_BYTES ? done() : fail(error, false)));
        res.on("close", () => (size > MAX_RESPONSE_BYTES ? done() : fail(new Error("the response was cut off"), false)));
      });
      req.end(request.body);
    });
  }
}

class StaleSocket extends Error {}

function classify(error: unknown, url: URL, request: HttpRequest, total: AbortSignal, reused: boolean): Error {
  if (error instanceof TransportError) return error;
  const code = (error as { code?: string } | null)?.code;
  const what = `${request.method} ${url.origin}${url.pathname}`;
  if (reused && (code === "ECONNRESET" || code === "EPIPE")) return new StaleSocket();
  if ((error as { name?: string } | null)?.name === "AbortError") {
    const why = total.aborted ? `took over ${request.timeout}s` : "was cut short by shutdown";
    return new TransportError("timeout", `${what} ${why}`, { cause: error });
  }
  if (code !== undefined && CONNECT_ERRORS.has(code)) {
    return new TransportError("connect", `cannot connect to ${url.host} (${code})`, { cause: error });
  }
  const detail = error instanceof Error ? error.message : String(error);
  return new TransportError("io", `${what} failed: ${detail}`, { cause: error });
}

function lowerCaseHeaders(headers: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}
