// emit / flush / shutdown against the shipped FakeTransport: batching, retries, drops by reason, identity.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { Client, startTrace, withTrace } from "@rca/autopilot";
import { FakeTransport, json, TransportError } from "@rca/autopilot/testing";
import { drops, FAST, makeClient, MemoryLogger, shutdownClients, sleep, validateEvent } from "./helpers.js";

after(shutdownClients);

const ENDPOINT = { endpoint: "http://rca.test" };

function postedIds(fake: FakeTransport): string[][] {
  return fake.batches().map((batch) => batch.map((event) => event.id));
}

test("events are batched, delivered, and fit the schema", async () => {
  const fake = new FakeTransport();
  const client = makeClient({ ...ENDPOINT, batchSize: 10 }, { transport: fake });
  for (let i = 0; i < 25; i++) assert.equal(client.emit("JobRunStarted", { run_id: `r${i}` }), true);
  assert.equal(await client.flush(2), true);
  assert.deepStrictEqual(
    fake.events.map((event) => event.data.run_id),
    Array.from({ length: 25 }, (_, i) => `r${i}`),
  );
  assert.ok(fake.batches().every((batch) => batch.length <= 10));
  const post = fake.posts[0];
  assert.ok(post);
  assert.equal(post.headers["Content-Type"], "application/cloudevents-batch+json");
  assert.equal(post.headers["User-Agent"], "autopilot-node/0.1.0");
  assert.equal(post.url, "http://rca.test/v1/events");
  for (const event of fake.events) {
    validateEvent(event);
    assert.equal(event.source, "svc://checkout-service");
  }
  assert.equal(client.stats().delivered, 25);
  assert.deepStrictEqual(client.signalsDropped(), drops());
});

test("the token is sent as a bearer", async () => {
  const fake = new FakeTransport();
  const client = makeClient({ ...ENDPOINT, token: "s3cret" }, { transport: fake });
  client.emit("JobRunStarted", { run_id: "r" });
  await client.flush(2);
  assert.equal(fake.posts[0]?.headers.Authorization, "Bearer s3cret");
});

test("emit copies its data, so later changes do not leak", async () => {
  const fake = new FakeTransport();
  const client = makeClient(ENDPOINT, { transport: fake });
  const data = { run_id: "before" };
  client.emit("JobRunStarted", data);
  data.run_id = "after";
  await client.flush(2);
  assert.equal(fake.events[0]?.data.run_id, "before");
});

test("attributes given to emit are kept", async () => {
  const fake = new FakeTransport();
  const client = makeClient(ENDPOINT, { transport: fake });
  client.emit(
    "DatasetWriteCommitted",
    { dataset_urn: "ds://x" },
    { subject: "ds://x", id: "commit-1", time: "2026-01-18T01:47:00-05:00", source: "job://nightly", extensions: { partitionkey: "x" } },
  );
  await client.flush(2);
  const event = fake.events[0];
  assert.deepStrictEqual(
    [event?.id, event?.time, event?.source, event?.subject, event?.partitionkey],
    ["commit-1", "2026-01-18T01:47:00-05:00", "job://nightly", "ds://x", "x"],
  );
});

test("events carry the trace in use", async () => {
  const fake = new FakeTransport();
  const client = makeClient(ENDPOINT, { transport: fake });
  const context = startTrace();
  await withTrace(context, async () => {
    await sleep(1);
    client.emit("JobRunStarted", { run_id: "traced" });
  });
  client.emit("JobRunStarted", { run_id: "plain" });
  client.emit("JobRunStarted", { run_id: "explicit" }, { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" });
  await client.flush(2);
  const byRun = new Map(fake.events.map((event) => [event.data.run_id, event]));
  assert.equal(byRun.get("traced")?.traceparent, context.traceparent);
  assert.equal("traceparent" in (byRun.get("plain") ?? {}), false);
  assert.equal(byRun.get("explicit")?.traceparent, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
});

test("retries resend the same ids", async () => {
  const answers: Array<() => never | ReturnType<typeof json>> = [
    () => json(503, {}),
    () => {
      throw new TransportError("timeout", "slow");
    },
  ];
  const fake = new FakeTransport((request) => (request.method === "POST" ? answers.shift()?.() : undefined));
  const client = makeClient(ENDPOINT, { transport: fake });
  client.emit("JobRunStarted", { run_id: "r1" });
  client.emit("JobRunStarted", { run_id: "r2" });
  assert.equal(await client.flush(3), true);
  const bodies = postedIds(fake);
  assert.equal(bodies.length, 3);
  assert.deepStrictEqual(bodies[1], bodies[0]);
  assert.deepStrictEqual(bodies[2], bodies[0]);
  assert.equal(fake.posts[0]?.body, fake.posts[2]?.body, "a retry resends the same bytes");
  assert.equal(client.stats().delivered, 2);
  assert.deepStrictEqual(client.signalsDropped(), drops());
});

test("Retry-After is honoured on 429", async () => {
  const stamps: number[] = [];
  const fake = new FakeTransport((request) => {
    if (request.method !== "POST") return undefined;
    stamps.push(performance.now());
    return stamps.length === 1 ? json(429, {}, { "retry-after": "0.3" }) : undefined;
  });
  const client = makeClient({ ...ENDPOINT, backoffMax: 1 }, { transport: fake });
  client.emit("JobRunStarted", { run_id: "r" });
  assert.equal(await client.flush(3), true);
  assert.ok((stamps[1] ?? 0) - (stamps[0] ?? 0) >= 290, `retried after ${(stamps[1] ?? 0) - (stamps[0] ?? 0)} ms`);
});

test("full batches emitted during a backoff do not cut it short (Retry-After holds)", async () => {
  const stamps: number[] = [];
  const fake = new FakeTransport((request) => {
    if (request.method !== "POST") return undefined;
    stamps.push(performance.now());
    return stamps.length === 1 ? json(429, {}, { "retry-after": "0.3" }) : undefined;
  });
  const client = makeClient({ ...ENDPOINT, backoffMax: 1, batchSize: 1 }, { transport: fake });
  client.emit("JobRunStarted", { run_id: "first" });
  while (stamps.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  for (let i = 0; i < 5; i += 1) {
    client.emit("JobRunStarted", { run_id: `during-${i}` }); // each fills a batch and wakes the loop
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(await client.flush(3), true);
  const gap = (stamps[1] ?? 0) - (stamps[0] ?? 0);
  assert.ok(gap >= 290, `retried after ${gap} ms, inside the service's Retry-After of 300 ms`);
  assert.equal(client.stats().delivered, 6);
});

test("retries are bounded, then the events count as timeout", async () => {
  const fake = new FakeTransport((request) => (request.method === "POST" ? json(500, {}) : undefined));
  const client = makeClient({ ...ENDPOINT, maxRetries: 2, circuitFailures: 100 }, { transport: fake });
  client.emit("JobRunStarted", { run_id: "r" });
  assert.equal(await client.flush(3), true);
  assert.equal(fake.posts.length, 3); // the first try and two retries
  assert.deepStrictEqual(client.signalsDropped(), drops({ timeout: 1 }));
});

for (const status of [400, 401, 403, 404, 413, 415, 422, 301]) {
  test(`HTTP ${status} is not retried and counts as rejected, logged once`, async () => {
    const logger = new MemoryLogger();
    const fake = new FakeTransport((request) => (request.method === "POST" ? json(status, { detail: "no" }) : undefined));
    const client = makeClient({ ...ENDPOINT, batchSize: 1 }, { transport: fake, logger });
    client.emit("JobRunStarted", { run_id: "a" });
    client.emit("JobRunStarted", { run_id: "b" });
    assert.equal(await client.flush(2), true);
    assert.equal(fake.posts.length, 2);
    assert.deepStrictEqual(client.signalsDropped(), drops({ rejected: 2 }));
    assert.equal(client.stats().circuit, "closed");
    assert.equal(logger.warnings.length, 1);
    assert.match(logger.warnings[0] ?? "", new RegExp(`HTTP ${status}`));
  });
}

test("items the service rejects in a 200 count as rejected; duplicates as delivered", async () => {
  const fake = new FakeTransport((request) => {
    if (request.method !== "POST") return undefined;
    const batch = JSON.parse(String(request.body)) as Array<{ id: string }>;
    return json(200, {
      results: batch.map((event, i) =>
        i === 0 ? { id: event.id, status: "rejected", field: "data.version", error: "required" } : { id: event.id, status: i === 1 ? "duplicate" : "accepted" },
      ),
    });
  });
  const logger = new MemoryLogger();
  const client = makeClient(ENDPOINT, { transport: fake, logger });
  for (let i = 0; i < 3; i++) client.emit("JobRunStarted", { run_id: `r${i}` });
  await client.flush(2);
  assert.equal(client.stats().delivered, 2);
  assert.deepStrictEqual(client.signalsDropped(), drops({ rejected: 1 }));
  assert.match(logger.warnings.join("\n"), /rejected 1 event\(s\): [0-9a-f]{32}: data.version: required/);
});

test("an unknown type, or a missing required field, is dropped before sending", async () => {
  const fake = new FakeTransport();
  const logger = new MemoryLogger();
  const client = makeClient(ENDPOINT, { transport: fake, logger });
  assert.equal(client.emit("OrderCreated", { order_id: "o" }), false);
  assert.equal(client.emit("DeploymentEvent", { service: "s" }), true); // no version: found when built
  assert.equal(client.emit("DeploymentEvent", { service: "s", version: "1" }), true);
  await client.flush(2);
  assert.deepStrictEqual(
    fake.events.map((event) => event.data.version),
    ["1"],
  );
  assert.deepStrictEqual(client.signalsDropped(), drops({ rejected: 2 }));
  assert.match(logger.warnings.join("\n"), /"OrderCreated" is not an envelope v1 type/);
  assert.match(logger.warnings.join("\n"), /data.version is required for DeploymentEvent/);
});

test("a full queue drops and counts without waiting", async () => {
  const fake = new FakeTransport();
  const client = makeClient({ ...ENDPOINT, queueSize: 5, flushInterval: 60 }, { transport: fake });
  const taken = Array.from({ length: 8 }, (_, i) => client.emit("JobRunStarted", { run_id: `r${i}` }));
  assert.deepStrictEqual(taken, [true, true, true, true, true, false, false, false]);
  assert.deepStrictEqual(client.signalsDropped(), drops({ queue_full: 3 }));
  assert.equal(client.stats().queued, 5);
  await client.flush(2);
  assert.equal(fake.events.length, 5);
});

test("events older than MAX_AGE are dropped as timeout", async () => {
  let now = 1000;
  const fake = new FakeTransport();
  const client = makeClient({ ...ENDPOINT, maxAge: 10, flushInterval: 0.02 }, { transport: fake, monotonic: () => now });
  client.emit("JobRunStarted", { run_id: "old" });
  now += 11;
  client.emit("JobRunStarted", { run_id: "new" });
  now += 1;
  assert.equal(await client.flush(2), true);
  assert.deepStrictEqual(
    fake.events.map((event) => event.data.run_id),
    ["new"],
  );
  assert.deepStrictEqual(client.signalsDropped(), drops({ timeout: 1 }));
});

test("values JSON cannot hold are sent as text; an unencodable event is dropped alone", async () => {
  const fake = new FakeTransport();
  const client = makeClient(ENDPOINT, { transport: fake });
  const circular: Record<string, unknown> = { run_id: "loop" };
  circular.self = circular;
  client.emit("JobRunStarted", { run_id: "big", rows: 12345678901234567890n, at: new Date("2026-03-10T10:20:00Z") });
  client.emit("JobRunStarted", circular);
  client.emit("JobRunStarted", { run_id: "fine" });
  await client.flush(2);
  assert.deepStrictEqual(
    fake.events.map((event) => [event.data.run_id, event.data.rows, event.data.at]),
    [
      ["big", "12345678901234567890", "2026-03-10T10:20:00.000Z"],
      ["fine", undefined, undefined],
    ],
  );
  assert.deepStrictEqual(client.signalsDropped(), drops({ rejected: 1 }));
});

test("a transport that throws anything, or never answers, is contained", async () => {
  const weird = new FakeTransport((request) => {
    if (request.method === "POST") throw new RangeError("not a TransportError");
    return undefined;
  });
  const client = makeClient({ ...ENDPOINT, maxRetries: 0 }, { transport: weird });
  assert.equal(client.emit("JobRunStarted", { run_id: "r" }), true);
  assert.equal(await client.flush(2), true);
  assert.deepStrictEqual(client.signalsDropped(), drops({ timeout: 1 }));
});

test("drops are exported in a header when asked", async () => {
  const fake = new FakeTransport();
  const client = makeClient({ ...ENDPOINT, exportDrops: true, queueSize: 1, flushInterval: 60 }, { transport: fake });
  client.emit("JobRunStarted", { run_id: "kept" });
  client.emit("JobRunStarted", { run_id: "dropped" });
  await client.flush(2);
  assert.equal(fake.posts[0]?.headers["Autopilot-Signals-Dropped"], "queue_full=1,timeout=0,circuit_open=0,killed=0,rejected=0");
  const quiet = new FakeTransport();
  const plain = makeClient(ENDPOINT, { transport: quiet });
  plain.emit("JobRunStarted", { run_id: "r" });
  await plain.flush(2);
  assert.equal(quiet.posts[0]?.headers["Autopilot-Signals-Dropped"], undefined);
});

test("shutdown delivers what is queued, then emit is a no-op; it is idempotent", async () => {
  const fake = new FakeTransport();
  const client = makeClient({ ...ENDPOINT, flushInterval: 60 }, { transport: fake });
  client.emit("JobRunStarted", { run_id: "queued" });
  assert.equal(await client.shutdown(2), true);
  assert.deepStrictEqual(
    fake.events.map((event) => event.data.run_id),
    ["queued"],
  );
  assert.equal(client.emit("JobRunStarted", { run_id: "late" }), false);
  assert.equal(await client.shutdown(2), true);
  assert.deepStrictEqual(client.signalsDropped(), drops());
});

test("flush and shutdown are bounded by their timeouts against a transport that never answers", async () => {
  const hanging = new FakeTransport(
    (request) =>
      new Promise((_, reject) => {
        request.signal?.addEventListener("abort", () => reject(new TransportError("timeout", "cut short")));
      }),
  );
  const client = makeClient({ ...ENDPOINT, timeout: 60, connectTimeout: 60 }, { transport: hanging });
  client.emit("JobRunStarted", { run_id: "r" });
  let began = performance.now();
  assert.equal(await client.flush(0.2), false);
  assert.ok(performance.now() - began < 1000);
  began = performance.now();
  assert.equal(await client.shutdown(0.2), false);
  assert.ok(performance.now() - began < 1000, `shutdown took ${performance.now() - began} ms`);
  assert.equal(client.stats().signalsDropped.timeout, 1, "the event cut short is counted");
});

test("kafka headers identify the producer and the trace in use; empty while off", () => {
  const client = makeClient(ENDPOINT, { transport: new FakeTransport() });
  assert.deepStrictEqual(client.kafkaHeaders(), { "autopilot-producer": "svc://checkout-service", "autopilot-env": "test" });
  const context = startTrace();
  withTrace(context, () => {
    assert.equal(client.kafkaHeaders().traceparent, context.traceparent);
  });
  assert.deepStrictEqual(new Client({}, { environ: {} }).kafkaHeaders(), {});
  const versioned = makeClient({ ...ENDPOINT, version: "v2.8.1" }, { transport: new FakeTransport() });
  assert.deepStrictEqual(Object.keys(versioned.kafkaHeaders("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")), [
    "autopilot-producer",
    "autopilot-env",
    "autopilot-version",
    "traceparent",
  ]);
});

test("configure() takes every setting, env included, beside the client's options", async () => {
  const { configure, shutdown } = await import("@rca/autopilot");
  const fake = new FakeTransport();
  const client = configure({ ...FAST, endpoint: "http://rca.test", env: "staging", transport: fake, environ: {}, logger: new MemoryLogger() });
  try {
    assert.equal(client.active, true);
    assert.equal(client.settings.env, "staging");
    assert.equal(client.kafkaHeaders()["autopilot-env"], "staging");
  } finally {
    await shutdown(1);
  }
});

test("data that is not an object is dropped and counted", async () => {
  const fake = new FakeTransport();
  const client = makeClient(ENDPOINT, { transport: fake });
  assert.equal(client.emit("JobRunStarted", ["not", "fields"] as never), true);
  assert.equal(client.emit("JobRunStarted", 42 as never), true);
  await client.flush(2);
  assert.equal(fake.events.length, 0);
  assert.deepStrictEqual(client.signalsDropped(), drops({ rejected: 2 }));
});

test("a timer flush sends what was queued, not what arrives while it sends", async () => {
  // Under a steady emitter a timer flush must stay one batch. Were it to drain until the queue is empty, events
  // arriving during each send would keep it going: a stream of tiny batches, each a full HTTP exchange.
  let now = 0; // the loop's clock: a timer flush is due only when the test moves it
  let posts = 0;
  const client: Client = makeClient(
    { ...ENDPOINT, flushInterval: 0.05 },
    {
      monotonic: () => now,
      transport: new FakeTransport(async (request) => {
        if (request.method === "POST" && posts < 10) {
          posts += 1;
          await sleep(1);
          for (let i = 0; i < 3; i++) client.emit("JobRunStarted", { run_id: `during-${posts}-${i}` });
        }
        return undefined;
      }),
    },
  );
  const fake = (client as unknown as { transport: FakeTransport }).transport;
  for (let i = 0; i < 3; i++) client.emit("JobRunStarted", { run_id: `before-${i}` });
  await sleep(200);
  assert.equal(fake.posts.length, 0); // the clock has not moved: nothing is due
  now = 1;
  await sleep(300); // time enough for a draining loop to send all ten
  assert.deepStrictEqual(
    fake.batches().map((batch) => batch.length),
    [3],
  );
  now = 2; // the next tick sends what arrived during the first send
  await sleep(200);
  assert.deepStrictEqual(
    fake.batches().map((batch) => batch.length),
    [3, 3],
  );
  assert.equal(await client.flush(2), true); // flush() drains everything, arrivals during its sends included
  assert.equal(fake.events.length, 3 + 3 * 10);
});
