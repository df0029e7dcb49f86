// Trace context at the edge, on real Express 5 and Fastify 5 servers: an incoming traceparent is continued (same
// trace, new span), a missing or invalid one starts a trace, and what the handler emits or sends (after awaits
// and body parsing) carries it. While the SDK is disabled the middleware does nothing.
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, test } from "node:test";
import { Client, currentTraceparent } from "@rca/autopilot";
import { traceMiddleware, withIncomingTrace } from "@rca/autopilot/express";
import { tracePlugin } from "@rca/autopilot/fastify";
import { FakeTransport } from "@rca/autopilot/testing";
import express from "express";
import Fastify from "fastify";
import http from "node:http";
import { makeClient, shutdownClients, sleep } from "./helpers.js";

after(shutdownClients);

const INCOMING = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

interface Seen {
  traceparent: string | undefined;
  kafka: Record<string, string>;
}

/** What a handler sees: the trace in use after an await, and the Kafka headers it would attach. */
async function observe(client: Client): Promise<Seen> {
  await sleep(2);
  client.emit("JobRunStarted", { run_id: "from-handler" });
  return { traceparent: currentTraceparent(), kafka: client.kafkaHeaders() };
}

async function call(url: string, headers: Record<string, string> = {}, body?: string): Promise<Seen> {
  const init: RequestInit = { method: "GET", headers: { "content-type": "application/json", ...headers } };
  if (body !== undefined) Object.assign(init, { method: "POST", body });
  const response = await fetch(url, init);
  assert.equal(response.status, 200, await response.clone().text());
  return (await response.json()) as Seen;
}

function checkContinued(seen: Seen): void {
  assert.ok(seen.traceparent, "no trace in the handler");
  assert.match(seen.traceparent, /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
  assert.notEqual(seen.traceparent, INCOMING, "continuing makes a new span id");
  assert.equal(seen.kafka.traceparent, seen.traceparent);
}

function checkStarted(seen: Seen): void {
  assert.ok(seen.traceparent);
  assert.match(seen.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  assert.ok(!seen.traceparent.includes("4bf92f3577b34da6a3ce929d0e0e4736"));
}

test("Express: continue, start, and carry the trace through body parsing into events", async () => {
  const fake = new FakeTransport();
  const client = makeClient({ endpoint: "http://rca.test" }, { transport: fake });
  const app = express();
  app.use(traceMiddleware({ client }));
  app.use(express.json());
  app.all("/", async (_req, res) => {
    res.json(await observe(client));
  });
  const server = app.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  try {
    checkContinued(await call(url, { traceparent: INCOMING }));
    checkContinued(await call(url, { traceparent: INCOMING }, JSON.stringify({ order: 1 })));
    checkStarted(await call(url));
    checkStarted(await call(url, { traceparent: "00-zz-bad-01" }));
    await client.flush(2);
    const traced = fake.events.filter((event) => event.traceparent?.includes("4bf92f3577b34da6a3ce929d0e0e4736"));
    assert.equal(traced.length, 2);
  } finally {
    server.close();
  }
});

test("Fastify: continue, start, and carry the trace through hooks and body parsing", async () => {
  const client = makeClient({ endpoint: "http://rca.test" }, { transport: new FakeTransport() });
  const app = Fastify();
  await app.register(tracePlugin, { client });
  app.route({ method: ["GET", "POST"], url: "/", handler: () => observe(client) });
  app.register((child, _options, done) => {
    // An encapsulated child context: the plugin (registered without encapsulation) traces it too.
    child.get("/child", () => observe(client));
    done();
  });
  const address = await app.listen({ port: 0, host: "127.0.0.1" });
  try {
    checkContinued(await call(`${address}/`, { traceparent: INCOMING }));
    checkContinued(await call(`${address}/`, { traceparent: INCOMING }, JSON.stringify({ order: 1 })));
    checkContinued(await call(`${address}/child`, { traceparent: INCOMING }));
    checkStarted(await call(`${address}/`));
  } finally {
    await app.close();
  }
});

test("a plain node:http server, with withIncomingTrace", async () => {
  const client = makeClient({ endpoint: "http://rca.test" }, { transport: new FakeTransport() });
  const server = http.createServer((req, res) => {
    void withIncomingTrace(
      req,
      async () => {
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify(await observe(client)));
      },
      { client },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    checkContinued(await call(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, { traceparent: INCOMING }));
  } finally {
    server.close();
  }
});

test("while the SDK is disabled, the middleware only passes the request on", async () => {
  const off = new Client({}, { environ: {} });
  const app = express();
  app.use(traceMiddleware({ client: off }));
  app.get("/", async (_req, res) => {
    res.json(await observe(off));
  });
  const server = app.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  try {
    const seen = await call(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, { traceparent: INCOMING });
    assert.equal(seen.traceparent, undefined);
    assert.deepStrictEqual(seen.kafka, {});
  } finally {
    server.close();
  }
});
