// The kill switch: obeyed within one poll, revivals too; an unreachable control plane keeps the last state.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import type { Client } from "@rca/autopilot";
import { FakeTransport, TransportError } from "@rca/autopilot/testing";
import { controlUrl } from "../src/control.js";
import { Backend, makeClient, shutdownClients, sleep } from "./helpers.js";

after(shutdownClients);

const ENDPOINT = { endpoint: "http://rca.test" };

async function until(predicate: () => boolean, timeoutMs = 3000): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (predicate()) return true;
    await sleep(5);
  }
  return predicate();
}

const gets = (fake: FakeTransport): number => fake.requests.filter((request) => request.method === "GET").length;
const killed = (client: Client): boolean => client.stats().control.killed;

test("the producer is one percent-encoded path segment", () => {
  assert.equal(controlUrl("https://rca", "svc://checkout-service"), "https://rca/v1/control/svc%3A%2F%2Fcheckout-service");
});

test("the environment is one percent-encoded query parameter, left out when unset", () => {
  assert.equal(controlUrl("https://rca", "svc://a", "staging"), "https://rca/v1/control/svc%3A%2F%2Fa?env=staging");
  assert.equal(controlUrl("https://rca", "svc://a", "eu west/1"), "https://rca/v1/control/svc%3A%2F%2Fa?env=eu%20west%2F1");
  assert.equal(controlUrl("https://rca", "svc://a", undefined), "https://rca/v1/control/svc%3A%2F%2Fa");
});

const controlEnvs = (fake: FakeTransport): (string | null)[] =>
  fake.requests.filter((request) => request.method === "GET").map((request) => new URL(request.url).searchParams.get("env"));

test("the control request names the SDK's environment when it has one", async () => {
  const named = new FakeTransport();
  const unnamed = new FakeTransport();
  makeClient({ ...ENDPOINT, env: "staging" }, { transport: named });
  makeClient({ ...ENDPOINT, env: undefined }, { transport: unnamed });
  assert.ok(await until(() => gets(named) >= 1 && gets(unnamed) >= 1));
  assert.equal(controlEnvs(named)[0], "staging");
  assert.equal(controlEnvs(unnamed)[0], null);
});

test("a flag off in this environment stops emission, and on in another does not", async () => {
  const flags = { staging: true, prod: false }; // a ring promoted to staging, not yet to prod
  const staging = new FakeTransport();
  const prod = new FakeTransport();
  staging.setControl({ environments: flags });
  prod.setControl({ environments: flags });
  const inStaging = makeClient({ ...ENDPOINT, env: "staging" }, { transport: staging });
  const inProd = makeClient({ ...ENDPOINT, env: "prod" }, { transport: prod });
  const asked = (client: Client): boolean => client.stats().control.source === "control-plane";
  assert.ok(await until(() => asked(inStaging) && asked(inProd)));
  assert.equal(inProd.stats().control.enabled, false);
  assert.equal(inProd.emit("JobRunStarted", { run_id: "prod" }), false);
  assert.equal(inProd.signalsDropped().killed, 1);
  assert.equal(await inProd.flush(1), true);
  assert.equal(prod.posts.length, 0);
  assert.equal(inStaging.emit("JobRunStarted", { run_id: "staging" }), true);
  assert.equal(await inStaging.flush(2), true);
  assert.deepStrictEqual(staging.events.map((event) => event.data.run_id), ["staging"]);
});

test("a killed producer stops sending, counts kills and sends no identity headers", async () => {
  const fake = new FakeTransport();
  fake.setControl({ killed: true });
  const client = makeClient(ENDPOINT, { transport: fake });
  assert.ok(await until(() => killed(client)));
  assert.equal(client.emit("JobRunStarted", { run_id: "r" }), false);
  assert.equal(client.signalsDropped().killed, 1);
  assert.equal(fake.posts.length, 0);
  assert.deepStrictEqual(client.kafkaHeaders(), {});
  assert.equal(client.accepting, false);
});

test("disabled by the control plane is obeyed like a kill", async () => {
  const fake = new FakeTransport();
  fake.setControl({ enabled: false });
  const client = makeClient(ENDPOINT, { transport: fake });
  assert.ok(await until(() => !client.stats().control.enabled));
  assert.equal(client.emit("JobRunStarted", { run_id: "r" }), false);
});

test("a kill applies at the first poll after it is set, and a revival too", async () => {
  const fake = new FakeTransport();
  const client = makeClient({ ...ENDPOINT, controlPollInterval: 0.1 }, { transport: fake });
  assert.ok(await until(() => gets(fake) >= 1));
  assert.equal(client.emit("JobRunStarted", { run_id: "before" }), true);
  fake.setControl({ killed: true });
  const pollsWhenKilled = gets(fake);
  assert.ok(await until(() => !client.emit("JobRunStarted", { run_id: "probe" })));
  assert.ok(gets(fake) <= pollsWhenKilled + 2, "obeyed by the very next poll: within one poll interval");
  fake.setControl({ killed: false });
  assert.ok(await until(() => client.emit("JobRunStarted", { run_id: "after" })));
  assert.equal(await client.flush(2), true);
  const runs = fake.events.map((event) => event.data.run_id);
  assert.ok(runs.includes("before") && runs.includes("after"), runs.join(","));
});

test("events queued before a kill are not sent after it", async () => {
  const fake = new FakeTransport();
  const client = makeClient({ ...ENDPOINT, flushInterval: 60, controlPollInterval: 0.05 }, { transport: fake });
  assert.ok(await until(() => gets(fake) >= 1));
  client.emit("JobRunStarted", { run_id: "queued" });
  fake.setControl({ killed: true });
  assert.ok(await until(() => killed(client)));
  await client.flush(1);
  assert.equal(fake.events.length, 0);
  assert.equal(client.signalsDropped().killed, 1);
});

test("an unreachable control plane keeps the last known state (neither kill nor revive)", async () => {
  let reachable = true;
  const fake = new FakeTransport((request) => {
    if (request.method === "GET" && !reachable) throw new TransportError("connect", "refused");
    return undefined;
  });
  fake.setControl({ killed: true });
  const client = makeClient({ ...ENDPOINT, controlPollInterval: 0.05 }, { transport: fake });
  assert.ok(await until(() => killed(client)));
  reachable = false;
  fake.setControl({ killed: false }); // the revival cannot be seen while unreachable
  const polls = gets(fake);
  assert.ok(await until(() => gets(fake) >= polls + 3));
  assert.equal(killed(client), true);
});

test("no entry (404) means run with defaults", async () => {
  const fake = new FakeTransport();
  const client = makeClient(ENDPOINT, { transport: fake });
  assert.ok(await until(() => gets(fake) >= 1));
  assert.equal(client.emit("JobRunStarted", { run_id: "r" }), true);
  assert.equal(await client.flush(2), true);
  assert.equal(fake.events.length, 1);
});

test("a real endpoint is polled with the token, and a revival resumes delivery", async () => {
  const backend = await Backend.start();
  try {
    backend.control.set("svc://checkout-service", { enabled: true, killed: true });
    const client = makeClient({ endpoint: backend.url, token: "tok", env: "eu west" });
    assert.ok(await until(() => killed(client)));
    assert.deepStrictEqual(client.stats().control, { enabled: true, killed: true, ring: 0, domain: null, source: "control-plane" });
    assert.equal(client.emit("JobRunStarted", { run_id: "r" }), false);
    backend.control.set("svc://checkout-service", { enabled: true, killed: false });
    assert.ok(await until(() => client.emit("JobRunStarted", { run_id: "r" })));
    assert.equal(await client.flush(2), true);
    assert.equal(backend.events.at(-1)?.data.run_id, "r");
    assert.equal(backend.headers.at(-1)?.authorization, "Bearer tok");
    // A server that ignores env (this one, like one that predates it) answers the producer switch.
    assert.deepStrictEqual(new Set(backend.controlQueries), new Set(["env=eu%20west"]));
  } finally {
    await backend.close();
  }
});
