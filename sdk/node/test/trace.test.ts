// W3C Trace Context: parsing by the spec's rules, continue or start, and the trace following async work.
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { test } from "node:test";
import { inspect } from "node:util";
import { setTimeout as wait } from "node:timers/promises";
import { continueTrace, currentTrace, currentTraceparent, parseTraceparent, startTrace, TraceContext, withTrace } from "@rca/autopilot";

const VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

test("a valid traceparent parses into its parts", () => {
  const context = parseTraceparent(VALID);
  assert.ok(context);
  assert.equal(context.traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
  assert.equal(context.spanId, "00f067aa0ba902b7");
  assert.equal(context.sampled, true);
  assert.equal(context.traceparent, VALID);
  assert.equal(parseTraceparent(Buffer.from(VALID))?.traceparent, VALID);
  assert.equal(parseTraceparent(` ${VALID} `)?.traceparent, VALID);
});

test("invalid values are ignored, never an error", () => {
  for (const value of [
    "",
    "garbage",
    VALID.toUpperCase(),
    `ff${VALID.slice(2)}`, // version ff is invalid
    `00-${"0".repeat(32)}-00f067aa0ba902b7-01`, // all-zero trace id
    `00-4bf92f3577b34da6a3ce929d0e0e4736-${"0".repeat(16)}-01`, // all-zero parent id
    `${VALID}-extra`, // version 00 is exactly 55 characters
    VALID.slice(0, 54),
    42,
    undefined,
    {},
  ]) {
    assert.equal(parseTraceparent(value), undefined, inspect(value));
  }
});

test("a higher version is read by its first four fields", () => {
  const future = `cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes-next`;
  assert.equal(parseTraceparent(future)?.traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
  assert.equal(parseTraceparent(`cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x`), undefined);
});

test("continuing keeps the trace id and the sampled flag with a new span id", () => {
  const child = continueTrace({ TraceParent: VALID });
  assert.equal(child.traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
  assert.notEqual(child.spanId, "00f067aa0ba902b7");
  assert.match(child.spanId, /^[0-9a-f]{16}$/);
  assert.equal(child.sampled, true);
  const unsampled = continueTrace("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  assert.equal(unsampled.sampled, false);
});

test("continuing finds the header in every shape Node, fetch and Kafka clients give", () => {
  const shapes: unknown[] = [
    VALID,
    { traceparent: VALID }, // node:http IncomingHttpHeaders
    new Headers({ TraceParent: VALID }), // fetch
    new Map([[Buffer.from("traceparent"), Buffer.from(VALID)]]), // @platformatic/kafka
    { traceparent: Buffer.from(VALID) }, // kafkajs
    [["traceparent", VALID]], // pairs
    { traceparent: [VALID, "00-11111111111111111111111111111111-2222222222222222-01"] }, // a repeated header
  ];
  for (const shape of shapes) {
    assert.equal(continueTrace(shape as never).traceId, "4bf92f3577b34da6a3ce929d0e0e4736", String(shape));
  }
});

test("with nothing valid to continue, a new sampled trace starts", () => {
  for (const incoming of [undefined, null, {}, { traceparent: "nope" }, new Map()]) {
    const started = continueTrace(incoming as never);
    assert.match(started.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  }
  assert.notEqual(startTrace().traceId, startTrace().traceId);
  assert.equal(startTrace(false).sampled, false);
});

test("the trace in use follows awaits, timers and event listeners, and stays inside its run", async () => {
  const context = startTrace();
  const emitter = new EventEmitter();
  const seen: Array<string | undefined> = [];
  emitter.on("ping", () => seen.push(currentTraceparent()));
  await withTrace(context, async () => {
    seen.push(currentTraceparent());
    await wait(5);
    seen.push(currentTraceparent());
    await new Promise<void>((resolve) =>
      setTimeout(() => {
        seen.push(currentTraceparent());
        resolve();
      }, 1),
    );
    emitter.emit("ping");
  });
  assert.deepStrictEqual(seen, Array(4).fill(context.traceparent));
  assert.equal(currentTraceparent(), undefined);
  assert.equal(currentTrace(), undefined);
  withTrace(context, () => {
    assert.ok(currentTrace() instanceof TraceContext);
    assert.equal(currentTrace()?.traceId, context.traceId);
  });
});

test("concurrent requests keep their own traces", async () => {
  const contexts = Array.from({ length: 20 }, () => startTrace());
  const results = await Promise.all(
    contexts.map((context, i) =>
      withTrace(context, async () => {
        await wait(20 - i);
        return currentTraceparent();
      }),
    ),
  );
  assert.deepStrictEqual(
    results,
    contexts.map((context) => context.traceparent),
  );
});
