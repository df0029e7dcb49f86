// The node:http transport against real local servers: total timeout, kept connections, no process kept alive.
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { after, test } from "node:test";
import { HttpTransport, MAX_RESPONSE_BYTES, TransportError } from "../src/transport.js";
import { Backend, closedPortUrl } from "./helpers.js";

const transport = new HttpTransport();
after(() => transport.close());

function get(url: string, timeout = 1, signal?: AbortSignal): ReturnType<HttpTransport["send"]> {
  return transport.send({ method: "GET", url, headers: {}, connectTimeout: 1, timeout, signal });
}

async function serve(handler: http.RequestListener): Promise<{ url: string; server: http.Server; close(): Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function rejection(promise: Promise<unknown>): Promise<TransportError> {
  const error = await promise.then(
    () => assert.fail("expected a TransportError"),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof TransportError, String(error));
  return error;
}

test("a good answer is read, with its headers in lower case", async () => {
  const backend = await Backend.start();
  try {
    const response = await transport.send({
      method: "POST",
      url: `${backend.url}/v1/events`,
      headers: { "Content-Type": "application/cloudevents-batch+json" },
      body: "[]",
      connectTimeout: 1,
      timeout: 1,
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers["content-type"], "application/json");
    assert.deepStrictEqual(JSON.parse(response.body.toString()), { accepted: 0, duplicate: 0, rejected: 0, results: [] });
  } finally {
    await backend.close();
  }
});

test("a refused connection is a connect error", async () => {
  const error = await rejection(get(`${await closedPortUrl()}/x`));
  assert.equal(error.kind, "connect");
});

test("a server that trickles bytes cannot outlast the total timeout", async () => {
  const trickle = await serve((_req, res) => {
    res.writeHead(200, { "Content-Type": "text/plain" });
    const timer = setInterval(() => res.write("."), 50);
    res.on("close", () => clearInterval(timer));
  });
  try {
    const began = performance.now();
    const error = await rejection(get(trickle.url, 0.3));
    const took = performance.now() - began;
    assert.equal(error.kind, "timeout");
    assert.ok(took >= 280 && took < 1000, `gave up after ${took} ms`);
  } finally {
    await trickle.close();
  }
});

test("a sleeping server times out; a reset connection is an io error", async () => {
  const sleeping = await Backend.start("sleep", 5000);
  const reset = await Backend.start("reset");
  try {
    assert.equal((await rejection(get(`${sleeping.url}/v1/control/x`, 0.2))).kind, "timeout");
    assert.equal((await rejection(get(`${reset.url}/v1/control/x`))).kind, "io");
  } finally {
    await sleeping.close();
    await reset.close();
  }
});

test("a caller's signal cuts the request short", async () => {
  const sleeping = await Backend.start("sleep", 5000);
  try {
    const began = performance.now();
    const error = await rejection(get(`${sleeping.url}/v1/control/x`, 10, AbortSignal.timeout(100)));
    assert.equal(error.kind, "timeout");
    assert.match(error.message, /cut short/);
    assert.ok(performance.now() - began < 1000);
  } finally {
    await sleeping.close();
  }
});

test("only http(s) URLs are sent", async () => {
  assert.equal((await rejection(get("ftp://example.test/x"))).kind, "io");
  assert.equal((await rejection(get("not a url"))).kind, "io");
});

test("the connection is kept between requests", async () => {
  const backend = await Backend.start();
  try {
    for (let i = 0; i < 3; i++) assert.equal((await get(`${backend.url}/v1/control/x`)).status, 404);
    assert.equal(new Set(backend.peers).size, 1, `ports ${backend.peers.join(",")}`);
  } finally {
    await backend.close();
  }
});

test("a kept connection the server closed is replaced once, without failing the request", async () => {
  const sockets = new Set<Socket>();
  const server = await serve((_req, res) => res.end("ok"));
  server.server.on("connection", (socket: Socket) => sockets.add(socket));
  try {
    assert.equal((await get(server.url)).status, 200);
    for (const socket of sockets) socket.destroy(); // the server drops the idle connection under our feet
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal((await get(server.url)).status, 200);
  } finally {
    await server.close();
  }
});

test("an unbounded reply is cut at 1 MiB, the status still read", async () => {
  const huge = await serve((_req, res) => {
    res.writeHead(500);
    const chunk = Buffer.alloc(64 * 1024, 120);
    const pump = (): void => {
      while (res.write(chunk));
      res.once("drain", pump);
    };
    pump();
  });
  try {
    const response = await get(huge.url, 5);
    assert.equal(response.status, 500);
    assert.ok(response.body.length <= MAX_RESPONSE_BYTES);
  } finally {
    await huge.close();
  }
});

test("header values cannot inject lines", async () => {
  const backend = await Backend.start();
  try {
    const error = await rejection(
      transport.send({ method: "GET", url: backend.url, headers: { "X-Bad": "a\r\nInjected: yes" }, connectTimeout: 1, timeout: 1 }),
    );
    assert.equal(error.kind, "io");
  } finally {
    await backend.close();
  }
});
