// No harm, proved against real local servers that are down (connection refused), reset connections, refuse the
// batch (401), answer 500, or sleep 5 s.
// For each: an HTTP handler's request latency with the SDK matches a baseline measured in the same run with it
// off, no request waits on the backend, memory stays flat once the queue is full, every event is delivered or
// counted under a reason, nothing throws, and the log says so once rather than once per event.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Client } from "@rca/autopilot";
import { Backend, type BackendMode, closedPortUrl, makeClient, MemoryLogger, shutdownClients, sleep } from "./helpers.js";

after(shutdownClients);

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const PAYLOAD = Buffer.alloc(2048, 120);
const BAD: Array<BackendMode | "down"> = ["down", "reset", "401", "500", "sleep"];

/** Some fixed work a request handler might do, plus one event. */
function businessCall(client: Client, i: number): void {
  let digest = PAYLOAD;
  for (let round = 0; round < 20; round++) digest = createHash("sha256").update(digest).digest();
  client.emit("JobRunStarted", { run_id: `run-${i}`, digest: digest.subarray(0, 4).toString("hex") });
}

async function badEndpoint(mode: BackendMode | "down"): Promise<{ url: string; close(): Promise<void> }> {
  if (mode === "down") return { url: await closedPortUrl(), close: () => Promise.resolve() };
  return Backend.start(mode, 5000);
}

/** A real HTTP service whose handler does the business call with the client its path names: /off or /on. */
async function service(clients: Record<string, Client>): Promise<{ url: string; close(): Promise<void> }> {
  let i = 0;
  const server = http.createServer((req, res) => {
    const client = clients[req.url?.slice(1) ?? ""];
    if (client === undefined) {
      res.writeHead(404).end();
      return;
    }
    businessCall(client, i++);
    res.writeHead(200, { "Content-Type": "text/plain" }).end("ok");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Sequential requests over one kept connection; each one's latency in ms. */
async function timedRequests(url: string, agent: http.Agent, count: number): Promise<number[]> {
  const latencies: number[] = [];
  for (let n = 0; n < count; n++) {
    const began = performance.now();
    await new Promise<void>((resolve, reject) => {
      http
        .get(url, { agent }, (res) => {
          res.resume();
          res.on("end", resolve);
        })
        .on("error", reject);
    });
    latencies.push(performance.now() - began);
  }
  return latencies;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

for (const mode of BAD) {
  test(`backend ${mode}: an HTTP handler's latency is unchanged and no request waits on the backend`, async () => {
    const backend = await badEndpoint(mode);
    // The SDK's timeout (1 s) is far above any request here: one that waited on the backend would stand out.
    const logger = new MemoryLogger();
    const on = makeClient({ endpoint: backend.url, timeout: 1, connectTimeout: 1, queueSize: 256 }, { logger });
    const off = new Client({}, { environ: {} });
    const app = await service({ on, off });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      await timedRequests(`${app.url}/off`, agent, 50); // warm up
      await timedRequests(`${app.url}/on`, agent, 50);
      const baseline: number[] = [];
      const withSdk: number[] = [];
      for (let round = 0; round < 6; round++) {
        // Interleaved rounds, so machine load hits both sides alike.
        baseline.push(...(await timedRequests(`${app.url}/off`, agent, 100)));
        withSdk.push(...(await timedRequests(`${app.url}/on`, agent, 100)));
      }
      const base = median(baseline);
      const sdk = median(withSdk);
      assert.ok(sdk <= base * 1.5 + 0.05, `median ${sdk.toFixed(3)} ms with the SDK vs ${base.toFixed(3)} ms without`);
      assert.ok(Math.max(...withSdk) < 500, `a request took ${Math.max(...withSdk).toFixed(0)} ms: it waited on the backend`);
      assert.ok(logger.warnings.length <= 5, logger.warnings.join("\n")); // once per problem, not per event
    } finally {
      agent.destroy();
      await app.close();
      await on.shutdown(0.2);
      await backend.close();
    }
  });

  test(`backend ${mode}: every event is accounted for, and memory stays flat once the queue is full`, async () => {
    const backend = await badEndpoint(mode);
    const client = makeClient({ endpoint: backend.url, queueSize: 200, batchSize: 50 });
    try {
      let i = 0;
      const burst = async (count: number): Promise<void> => {
        // In slices that yield to the event loop, as request handlers do, so the delivery loop gets its turns.
        for (let n = 0; n < count; n += 100) {
          for (let k = 0; k < 100; k++) businessCall(client, i++);
          await new Promise((resolve) => setImmediate(resolve));
        }
      };
      await burst(2_000);
      gc();
      const early = process.memoryUsage().heapUsed;
      await burst(18_000);
      gc();
      const late = process.memoryUsage().heapUsed;
      // Kept events would take megabytes here (18,000 x ~300 bytes); bounded, growth is noise, well under 1 MiB.
      assert.ok(late - early < 1024 * 1024, `the heap grew by ${((late - early) / 1024).toFixed(0)} KiB after the queue filled`);
      assert.ok(client.stats().queued <= 200);
      await client.shutdown(0.5);
      const stats = client.stats();
      const dropped = stats.signalsDropped;
      assert.equal(stats.delivered, 0);
      assert.equal(stats.delivered + Object.values(dropped).reduce((a, b) => a + b, 0), 20_000, JSON.stringify(dropped));
      assert.ok(dropped.queue_full > 0);
      assert.equal(dropped.killed, 0);
      // A refusal is final (rejected, never retried); every other failure is retried, then times out or trips.
      if (mode === "401") assert.equal(dropped.timeout + dropped.circuit_open, 0, JSON.stringify(dropped));
      else assert.equal(dropped.rejected, 0);
    } finally {
      await backend.close();
    }
  });
}

test("a healthy backend gets every event and the circuit stays closed", async () => {
  const backend = await Backend.start();
  try {
    const client = makeClient({ endpoint: backend.url, queueSize: 5000, batchSize: 100 });
    for (let i = 0; i < 2_000; i++) businessCall(client, i);
    assert.equal(await client.flush(5), true);
    assert.equal(new Set(backend.events.map((event) => event.id)).size, 2_000);
    assert.equal(client.stats().delivered, 2_000);
    assert.equal(client.stats().circuit, "closed");
  } finally {
    await backend.close();
  }
});

test("the circuit opens against a dead backend and stops the knocking", async () => {
  const client = makeClient({ endpoint: await closedPortUrl(), circuitFailures: 3, circuitReset: 60, batchSize: 1 });
  for (let i = 0; i < 50; i++) client.emit("JobRunStarted", { run_id: `r${i}` });
  await client.flush(2);
  assert.equal(client.stats().circuit, "open");
  assert.ok(client.signalsDropped().circuit_open > 0);
});

test("while the circuit is open emit() takes nothing (counted as circuit_open) until the probe is due", async () => {
  const client = makeClient({ endpoint: await closedPortUrl(), circuitFailures: 2, circuitReset: 0.4, maxRetries: 1, batchSize: 1 });
  for (let i = 0; i < 5; i++) client.emit("JobRunStarted", { run_id: `r${i}` });
  await client.flush(2);
  assert.equal(client.stats().circuit, "open");
  const before = client.signalsDropped().circuit_open;
  const data = { run_id: "open" };
  for (let i = 0; i < 1000; i++) assert.equal(client.emit("JobRunStarted", data), false);
  assert.equal(client.stats().queued, 0);
  assert.equal(client.signalsDropped().circuit_open, before + 1000);
  assert.deepStrictEqual(client.kafkaHeaders()["autopilot-producer"], "svc://checkout-service"); // still accepting
  await sleep(500); // past the reset: the loop lets events in again, and the next batch is the probe
  assert.notEqual(client.stats().circuit, "open");
  assert.equal(client.emit("JobRunStarted", data), true);
  await client.flush(2);
  assert.equal(client.stats().circuit, "open"); // the probe failed
  assert.equal(client.emit("JobRunStarted", data), false);
});

test("after an outage, the half-open probe resumes delivery", async () => {
  const backend = await Backend.start("500");
  try {
    const client = makeClient({ endpoint: backend.url, circuitFailures: 2, circuitReset: 0.3, maxRetries: 1 });
    client.emit("JobRunStarted", { run_id: "during" });
    assert.equal(await client.flush(2), true);
    assert.equal(client.stats().circuit, "open");
    backend.mode = "ok";
    await sleep(350);
    client.emit("JobRunStarted", { run_id: "after" });
    assert.equal(await client.flush(2), true);
    assert.equal(client.stats().circuit, "closed");
    assert.deepStrictEqual(
      backend.events.map((event) => event.data.run_id),
      ["after"],
    );
  } finally {
    await backend.close();
  }
});

test("shutdown against a sleeping backend is bounded", async () => {
  const backend = await Backend.start("sleep", 5000);
  try {
    const client = makeClient({ endpoint: backend.url, timeout: 5, connectTimeout: 1 });
    for (let i = 0; i < 10; i++) client.emit("JobRunStarted", { run_id: `r${i}` });
    await client.flush(0.1); // the loop is now waiting on the sleeping server
    const began = performance.now();
    await client.shutdown(0.3);
    assert.ok(performance.now() - began < 1000, `shutdown took ${(performance.now() - began).toFixed(0)} ms`);
    assert.equal(client.signalsDropped().timeout, 10);
  } finally {
    await backend.close();
  }
});
