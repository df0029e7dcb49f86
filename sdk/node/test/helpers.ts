// Fixtures for the suite: real local HTTP servers (good and bad), short-timeout clients, the shared vectors.
// Everything listens on 127.0.0.1 and is closed by the test that made it; no test touches the network.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { Client, type ClientOptions, type CloudEvent, type Logger, type SettingsInput } from "@rca/autopilot";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

/** sdk/node, wherever the compiled tests run from (build/test/...). */
export const PACKAGE_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const SPEC = fileURLToPath(new URL("../../../spec/", import.meta.url));

/** Settings for tests: every wait is short, so a dead backend costs milliseconds. */
export const FAST = {
  enabled: true,
  service: "checkout-service",
  env: "test",
  connectTimeout: 0.2,
  timeout: 0.3,
  flushInterval: 0.05,
  backoffBase: 0.01,
  backoffMax: 0.05,
  maxRetries: 2,
  circuitFailures: 3,
  circuitReset: 0.5,
  controlPollInterval: 0.2,
  shutdownTimeout: 0.5,
  startupEvent: false,
} as const satisfies SettingsInput;

/** A logger that keeps its lines, by level. */
export class MemoryLogger implements Logger {
  readonly lines: Array<{ level: "warn" | "info" | "debug"; message: string }> = [];
  warn(message: string): void {
    this.lines.push({ level: "warn", message });
  }
  info(message: string): void {
    this.lines.push({ level: "info", message });
  }
  debug(message: string): void {
    this.lines.push({ level: "debug", message });
  }
  get warnings(): string[] {
    return this.lines.filter((line) => line.level === "warn").map((line) => line.message);
  }
}

const clients: Client[] = [];

/** A client with FAST settings (plus `settings`), reading no AUTOPILOT_* from the environment. */
export function makeClient(settings: SettingsInput = {}, options: ClientOptions = {}): Client {
  const client = new Client({ ...FAST, ...settings }, { logger: new MemoryLogger(), environ: {}, ...options });
  clients.push(client);
  return client;
}

/** Shut down every client makeClient made (an after() hook of each file). */
export async function shutdownClients(): Promise<void> {
  await Promise.all(clients.splice(0).map((client) => client.shutdown(0.2)));
}

export type BackendMode = "ok" | "500" | "sleep" | "reset" | "401";

/**
 * A stand-in for the rca service: POST /v1/events and GET /v1/control/{producer}. mode: "ok" (accepts; a repeated
 * id is a duplicate), "500", "sleep" (answers after sleepMs), "reset" (closes the connection without answering), "401".
 */
export class Backend {
  mode: BackendMode;
  sleepMs: number;
  readonly batches: CloudEvent[][] = [];
  readonly headers: http.IncomingHttpHeaders[] = [];
  readonly control = new Map<string, Record<string, unknown>>();
  readonly rejectIds = new Set<string>();
  controlGets = 0;
  /** Each control GET's query string ("env=test"). */
  readonly controlQueries: string[] = [];
  readonly peers: number[] = [];
  url = "";
  private readonly server: http.Server;
  private readonly seen = new Set<string>();

  private constructor(mode: BackendMode, sleepMs: number) {
    this.mode = mode;
    this.sleepMs = sleepMs;
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 5000;
  }

  static async start(mode: BackendMode = "ok", sleepMs = 5000): Promise<Backend> {
    const backend = new Backend(mode, sleepMs);
    await new Promise<void>((resolve) => backend.server.listen(0, "127.0.0.1", resolve));
    backend.url = `http://127.0.0.1:${(backend.server.address() as net.AddressInfo).port}`;
    return backend;
  }

  get events(): CloudEvent[] {
    return this.batches.flat();
  }

  async waitFor(predicate: (backend: Backend) => boolean, timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (predicate(this)) return true;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return predicate(this);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.peers.push(req.socket.remotePort ?? 0);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    if (this.mode === "reset") {
      req.socket.destroy();
      return;
    }
    if (this.mode === "sleep") await new Promise((resolve) => setTimeout(resolve, this.sleepMs));
    if (this.mode === "500") {
      reply(res, 500, { detail: "boom" });
      return;
    }
    if (this.mode === "401") {
      reply(res, 401, { detail: "bad token" });
      return;
    }
    const [path = "/", query = ""] = (req.url ?? "/").split("?", 2);
    if (req.method === "GET" && path.startsWith("/v1/control/")) {
      this.controlGets += 1;
      this.controlQueries.push(query);
      const producer = decodeURIComponent(path.slice("/v1/control/".length));
      const entry = this.control.get(producer);
      if (entry === undefined) {
        reply(res, 404, { detail: "no entry" });
        return;
      }
      reply(res, 200, { producer, domain: null, ring: 0, ...entry });
      return;
    }
    if (req.method === "POST" && path === "/v1/events") {
      const batch = JSON.parse(body) as CloudEvent[];
      this.batches.push(batch);
      this.headers.push(req.headers);
      const results = batch.map((event) => {
        const key = `${event.source} ${event.id}`;
        let status = "accepted";
        if (this.rejectIds.has(event.id)) status = "rejected";
        else if (this.seen.has(key)) status = "duplicate";
        else this.seen.add(key);
        return status === "rejected"
          ? { id: event.id, source: event.source, status, error: "data.version is required", field: "data.version" }
          : { id: event.id, source: event.source, status };
      });
      const count = (status: string): number => results.filter((result) => result.status === status).length;
      reply(res, 200, { accepted: count("accepted"), duplicate: count("duplicate"), rejected: count("rejected"), results });
      return;
    }
    reply(res, 404, { detail: "not found" });
  }
}

function reply(res: http.ServerResponse, status: number, payload: unknown): void {
  if (res.destroyed) return;
  const body = JSON.stringify(payload);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

/** A URL on which nothing listens: connections are refused at once. */
export async function closedPortUrl(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

export interface Vector {
  name: string;
  event: Record<string, unknown>;
  error?: { field: string; message_contains: string };
}

export function vectors(file: "valid.json" | "invalid.json"): Vector[] {
  return (JSON.parse(readFileSync(`${SPEC}vectors/${file}`, "utf8")) as { vectors: Vector[] }).vectors;
}

let validator: ((event: unknown) => void) | undefined;

/** Fails the test when `event` does not fit sdk/spec/envelope.schema.json. */
export function validateEvent(event: unknown): void {
  if (validator === undefined) {
    const schema = JSON.parse(readFileSync(`${SPEC}envelope.schema.json`, "utf8")) as Record<string, unknown>;
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats.default(ajv);
    const validate = ajv.compile(schema);
    validator = (candidate) => {
      assert.ok(validate(candidate), `${JSON.stringify(candidate)}: ${ajv.errorsText(validate.errors)}`);
    };
  }
  validator(event);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The drop counters, all reasons, with the given ones set. */
export function drops(expected: Partial<Record<string, number>> = {}): Record<string, number> {
  return { queue_full: 0, timeout: 0, circuit_open: 0, killed: 0, rejected: 0, ...expected };
}
