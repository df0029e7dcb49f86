// The SDK builds exactly the events in sdk/spec/vectors, and every event it builds fits the schema.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { buildEvent, ciDeploymentEvent, EVENT_TYPES, loadSettings, VERSION } from "@rca/autopilot";
import { encode, encodeEvent, type EventAttributes, problem } from "../src/envelope.js";
import { startupDeployment } from "../src/deploy.js";
import { PACKAGE_ROOT, validateEvent, vectors } from "./helpers.js";

const CORE = new Set(["specversion", "datacontenttype", "id", "type", "source", "time", "data", "subject", "traceparent"]);

/** The vector's event, built by the SDK from the same inputs. */
function rebuild(event: Record<string, unknown>): Record<string, unknown> {
  const extensions = Object.fromEntries(Object.entries(event).filter(([key]) => !CORE.has(key)));
  return buildEvent(event.type as string, event.data as Record<string, unknown>, {
    source: event.source as string,
    id: event.id as string,
    time: event.time as string,
    subject: event.subject as string | undefined,
    traceparent: event.traceparent as string | undefined,
    extensions,
  });
}

test("every valid vector is rebuilt exactly, and fits the schema", () => {
  const valid = vectors("valid.json");
  assert.ok(valid.length >= 7);
  for (const vector of valid) {
    const built = rebuild(vector.event);
    assert.deepStrictEqual(built, vector.event, vector.name);
    assert.deepStrictEqual(Object.keys(built), Object.keys(vector.event), `${vector.name}: attribute order`);
    validateEvent(built);
  }
});

test("the CI deploy helper builds the CI vector", () => {
  const vector = vectors("valid.json").find((v) => v.name === "deployment-from-ci")?.event;
  assert.ok(vector);
  const built = ciDeploymentEvent({
    service: "checkout-service",
    version: "v2.8.1",
    commit: "3f9c2ab",
    env: "prod",
    domain: "orders",
    id: vector.id as string,
    time: vector.time as string,
  });
  assert.deepStrictEqual(built, vector);
});

test("the startup fallback has the vector's fields and fits the schema", () => {
  const vector = vectors("valid.json").find((v) => v.name === "deployment-startup-fallback")?.event;
  assert.ok(vector);
  const data = startupDeployment(loadSettings({ service: "payments-service", version: "v1.4.0" }, {}));
  assert.ok(data);
  const expected = vector.data as Record<string, unknown>;
  assert.deepStrictEqual(Object.fromEntries(Object.keys(expected).map((key) => [key, data[key]])), expected);
  validateEvent(buildEvent("DeploymentEvent", data, { source: "svc://payments-service", time: vector.time as string }));
});

test("a CI deploy id is deterministic and names the env", () => {
  const first = ciDeploymentEvent({ service: "s", version: "1.0", commit: "abc", env: "staging" });
  const again = ciDeploymentEvent({ service: "s", version: "1.0", commit: "abc", env: "staging" });
  const prod = ciDeploymentEvent({ service: "s", version: "1.0", commit: "abc", env: "prod" });
  assert.equal(first.id, "deploy-s-staging-1.0-abc");
  assert.equal(again.id, first.id);
  assert.notEqual(prod.id, first.id);
  assert.equal(ciDeploymentEvent({ service: "a b", version: "1/2" }).id, "deploy-a_b---1_2--");
});

test("times are RFC 3339 with an offset: strings kept, Dates and epoch milliseconds in UTC", () => {
  const at = (time: string | Date | number): string => buildEvent("JobRunStarted", { run_id: "r" }, { source: "job://j", time }).time;
  assert.equal(at("2026-01-19T01:00:00-05:00"), "2026-01-19T01:00:00-05:00");
  assert.equal(at(new Date("2026-03-10T10:20:00Z")), "2026-03-10T10:20:00.000Z");
  assert.equal(at(Date.UTC(2026, 2, 10, 10, 20)), "2026-03-10T10:20:00.000Z");
  validateEvent(buildEvent("JobRunStarted", { run_id: "r" }, { source: "job://j", time: Date.UTC(2026, 2, 10) }));
});

test("the fast time path writes what toISOString writes, around second, year and epoch edges", () => {
  const at = (time: number | Date): string => buildEvent("JobRunStarted", { run_id: "r" }, { source: "job://j", time }).time;
  const edges = [0, 1, 9, 10, 99, 100, 999, 1000, 1_767_225_599_999, 1_767_225_600_000, 253_402_300_799_999, 253_402_300_800_000, -1, -1001];
  for (const ms of [...edges, ...Array.from({ length: 2000 }, (_, i) => 1_780_000_000_000 + i * 7)]) {
    assert.equal(at(ms), new Date(ms).toISOString(), String(ms));
    assert.equal(at(new Date(ms)), new Date(ms).toISOString(), `Date ${ms}`);
  }
  assert.equal(at(1.5), new Date(1.5).toISOString());
  assert.throws(() => at(Number.NaN), RangeError);
});

test("the delivery loop's encoder writes encode(buildEvent(...)) byte for byte, and refuses what problem() refuses", () => {
  const cases: Array<[string, Record<string, unknown> | undefined, EventAttributes]> = vectors("valid.json").map(({ event }) => [
    event.type as string,
    event.data as Record<string, unknown>,
    {
      source: event.source as string,
      id: event.id as string,
      time: event.time as string,
      subject: event.subject as string | undefined,
      traceparent: event.traceparent as string | undefined,
      extensions: Object.fromEntries(Object.entries(event).filter(([key]) => !CORE.has(key))),
    },
  ]);
  const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  cases.push(
    ["JobRunStarted", { run_id: "r", big: 10n ** 20n, nested: { when: new Date(0), gone: undefined } }, { source: "job://j", time: 1_780_000_000_123 }],
    ["JobRunStarted", { run_id: 'quote " and \u2028' }, { source: 'job://"odd"', id: 'id "1"', time: "2026-01-19T01:00:00-05:00", subject: "s\n" }],
    ["JobRunFailed", { run_id: "r" }, { source: "job://j", time: new Date(5), traceparent: tp, extensions: { subject: "ext", zeta: 1, alpha: undefined, toString: 2, source: "x", big: 1n } }],
    ["JobRunFailed", { run_id: "r" }, { source: "job://j", time: 7, subject: "s", traceparent: tp, extensions: { subject: "ext", traceparent: "t", fn: () => 1, sym: Symbol("s") } }],
    ["DatasetWriteCommitted", undefined, { source: "job://j", time: 7 }],
  );
  for (const [index, [type, data, attributes]] of cases.entries()) {
    const built = buildEvent(type, data, attributes);
    const expected = problem(built);
    const written = encodeEvent(type, data, attributes);
    if (expected !== undefined) {
      assert.deepStrictEqual(written, { problem: expected });
      continue;
    }
    assert.equal(typeof written, "string");
    if (attributes.id === undefined) {
      const id = (JSON.parse(written as string) as { id: string }).id;
      assert.match(id, /^[0-9a-f]{32}$/);
      built.id = id;
    }
    assert.equal(written, encode(built), `case ${index}`);
  }
  let refused = 0;
  for (const { event } of vectors("invalid.json")) {
    if (typeof event.type !== "string") continue;
    const [data, attributes] = [event.data as Record<string, unknown>, { source: event.source as string }];
    const why = problem(buildEvent(event.type, data, attributes));
    if (why === undefined) continue;
    assert.deepStrictEqual(encodeEvent(event.type, data, attributes), { problem: why });
    refused += 1;
  }
  assert.ok(refused >= 4, String(refused));
  const cycle: Record<string, unknown> = { run_id: "r" };
  cycle.self = cycle;
  assert.throws(() => encodeEvent("JobRunStarted", cycle, { source: "job://j" }), TypeError);
});

test("generated ids are 128 random bits in hex, unique", () => {
  const ids = new Set(Array.from({ length: 10_000 }, () => buildEvent("JobRunStarted", { run_id: "r" }, { source: "job://j" }).id));
  assert.equal(ids.size, 10_000);
  for (const id of ids) assert.match(id, /^[0-9a-f]{32}$/);
});

test("extensions never replace core attributes", () => {
  const event = buildEvent("JobRunStarted", { run_id: "r" }, { source: "job://j", extensions: { source: "x", ext: 1 } });
  assert.equal(event.source, "job://j");
  assert.equal(event.ext, 1);
});

test("the local check catches what the service would reject: unknown or missing type, missing source, required data", () => {
  const invalid = vectors("invalid.json");
  const expected = invalid
    .filter(({ error }) => {
      if (error === undefined) return false;
      return error.field === "type" || error.field === "source" || (error.field.startsWith("data.") && error.message_contains === "required");
    })
    .map((v) => v.name);
  assert.ok(expected.length >= 5, expected.join(", "));
  const caught = invalid.filter((v) => problem(v.event) !== undefined).map((v) => v.name);
  for (const name of expected) assert.ok(caught.includes(name), `${name} is not flagged locally`);
  assert.equal(problem(buildEvent("DeploymentEvent", { service: "s", version: "1" }, { source: "svc://s" })), undefined);
});

test("the types are the envelope's, and the version matches package.json", () => {
  assert.deepStrictEqual(
    [...EVENT_TYPES],
    ["DeploymentEvent", "JobRunStarted", "JobRunCompleted", "JobRunFailed", "DatasetWriteCommitted", "SdkHealth"],
  );
  const pkg = JSON.parse(readFileSync(`${PACKAGE_ROOT}package.json`, "utf8")) as { version: string };
  assert.equal(VERSION, pkg.version);
});
