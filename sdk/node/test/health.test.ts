// SdkHealth (sdk/spec/CONTRACT.md, section 15): off by default; when on, the delivery loop queues a periodic event
// with the client's counters by reason, its queue and its circuit, valid against the schema; never while killed;
// dropped with its batch while the circuit is open; a failure to build it costs the host nothing.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { type Client, type CloudEvent, VERSION } from "@rca/autopilot";
import { FakeTransport, json } from "@rca/autopilot/testing";
import { drops, makeClient, MemoryLogger, shutdownClients, sleep, validateEvent } from "./helpers.js";

after(shutdownClients);

const ENDPOINT = { endpoint: "http://rca.test" };

function health(fake: FakeTransport): CloudEvent[] {
  return fake.events.filter((event) => event.type === "SdkHealth");
}

async function until(what: string, condition: () => boolean, ms = 5000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) assert.fail(`not within ${ms} ms: ${what}`);
    await sleep(10);
  }
}

test("no SdkHealth unless an interval is set", async () => {
  const fake = new FakeTransport();
  const client = makeClient(ENDPOINT, { transport: fake });
  client.emit("JobRunStarted", { run_id: "r1" });
  await sleep(300);
  assert.equal(await client.flush(2), true);
  assert.deepStrictEqual(
    fake.events.map((event) => event.type),
    ["JobRunStarted"],
  );
});

test("SdkHealth carries the counters by reason, the queue and the circuit, on the loop's clock", async () => {
  let now = 0; // the loop's clock: an SdkHealth (or a timer flush) is due only when the test moves it
  const fake = new FakeTransport();
  const client = makeClient(
    { ...ENDPOINT, healthInterval: 0.05, queueSize: 6, batchSize: 100 },
    { transport: fake, monotonic: () => now },
  );
  const emit = (n: number, tag: string): boolean[] =>
    Array.from({ length: n }, (_, i) => client.emit("JobRunStarted", { run_id: `${tag}${i}` }));
  assert.deepStrictEqual(emit(8, "a"), [true, true, true, true, true, true, false, false]);
  assert.equal(await client.flush(2), true); // six delivered, two queue_full
  assert.deepStrictEqual(emit(6, "b"), Array(6).fill(true));
  now = 1; // an SdkHealth comes due with the queue full: dropped as queue_full like any event
  await until("the six sent", () => fake.events.length === 12);
  await sleep(100);
  assert.equal(health(fake).length, 0);
  assert.deepStrictEqual(client.signalsDropped(), drops({ queue_full: 3 }));
  emit(3, "c");
  now = 2;
  await until("the first SdkHealth", () => health(fake).length === 1);
  now = 3;
  await until("the second SdkHealth", () => health(fake).length === 2);
  const [first, second] = health(fake) as [CloudEvent, CloudEvent];
  for (const event of [first, second]) {
    validateEvent(event);
    assert.equal(event.source, "svc://checkout-service");
  }
  // Built when it came due: three runs queued, twelve delivered, three refused for a full queue.
  assert.deepStrictEqual(first.data, {
    language: "node",
    sdk_version: VERSION,
    instance: first.data.instance,
    interval_s: 0.05,
    delivered: 12,
    dropped: drops({ queue_full: 3 }),
    queue_depth: 3,
    queue_capacity: 6,
    circuit: "closed",
    env: "test",
  });
  assert.match(String(first.data.instance), /^[0-9a-f]{16}$/);
  assert.equal(second.data.instance, first.data.instance);
  assert.equal(second.data.delivered, 16); // the three runs and the first SdkHealth since
  assert.equal(second.data.queue_depth, 0);
  assert.deepStrictEqual(
    fake.batches().map((batch) => batch.length),
    [6, 6, 4, 1],
  );
});

test("while the circuit is open SdkHealth is dropped with its batch; the probe after it tells what was lost", async () => {
  let now = 0;
  let failing = true;
  const fake = new FakeTransport((request) => (request.method === "POST" && failing ? json(500, {}) : undefined));
  const client = makeClient(
    { ...ENDPOINT, healthInterval: 0.05, maxRetries: 0, circuitFailures: 1, circuitReset: 60 },
    { transport: fake, monotonic: () => now },
  );
  client.emit("JobRunStarted", { run_id: "r1" });
  now = 1; // the run and the first SdkHealth go out together and fail: the circuit opens
  await until("the circuit open", () => client.stats().circuit === "open");
  assert.deepStrictEqual(client.signalsDropped(), drops({ timeout: 2 }));
  now = 2; // the next SdkHealth comes due while the circuit is open: dropped without a request
  await until("an SdkHealth dropped as circuit_open", () => client.signalsDropped().circuit_open === 1);
  assert.equal(fake.posts.length, 1);
  failing = false;
  now = 100; // past the reset: the next SdkHealth is the half-open probe
  await until("the probe delivered", () => health(fake).length === 1);
  const probe = health(fake)[0] as CloudEvent;
  assert.equal(probe.data.circuit, "half_open");
  assert.deepStrictEqual(probe.data.dropped, drops({ timeout: 2, circuit_open: 1 }));
  assert.equal(probe.data.delivered, 0);
  assert.equal(client.stats().circuit, "closed");
});

test("no SdkHealth while killed, and none counted as killed; it resumes with the producer", async () => {
  const fake = new FakeTransport();
  fake.setControl({ killed: true });
  const client = makeClient({ ...ENDPOINT, healthInterval: 0.02 }, { transport: fake });
  await until("the kill seen", () => client.stats().control.killed);
  await sleep(200); // ten intervals
  assert.equal(fake.posts.length, 0);
  assert.deepStrictEqual(client.signalsDropped(), drops());
  fake.setControl({ killed: false });
  await until("an SdkHealth once revived", () => health(fake).length >= 1);
  assert.deepStrictEqual((health(fake)[0] as CloudEvent).data.dropped, drops());
});

test("an SdkHealth that cannot be built is logged once and skipped: the loop goes on", async () => {
  const logger = new MemoryLogger();
  const fake = new FakeTransport();
  const client: Client = makeClient({ ...ENDPOINT, healthInterval: 0.02 }, { transport: fake, logger });
  (client as unknown as { reportHealth: () => void }).reportHealth = () => {
    throw new Error("boom");
  };
  await sleep(150);
  client.emit("JobRunStarted", { run_id: "r1" });
  assert.equal(await client.flush(2), true);
  assert.deepStrictEqual(
    fake.events.map((event) => event.type),
    ["JobRunStarted"],
  );
  assert.deepStrictEqual(
    logger.warnings.filter((line) => line.includes("SdkHealth")),
    ["autopilot: could not build the SdkHealth event: Error: boom"],
  );
});
