// Circuit breaker: opens after consecutive failures, half-opens later, one probe decides (injected clock).
import assert from "node:assert/strict";
import { test } from "node:test";
import { CircuitBreaker } from "../src/circuit.js";

test("opens after consecutive failures only", () => {
  const now = 0;
  const circuit = new CircuitBreaker(3, 10, () => now);
  circuit.recordFailure();
  circuit.recordFailure();
  circuit.recordSuccess(); // a success in between resets the count
  circuit.recordFailure();
  circuit.recordFailure();
  assert.equal(circuit.state, "closed");
  assert.equal(circuit.allow(), true);
  circuit.recordFailure();
  assert.equal(circuit.state, "open");
  assert.equal(circuit.allow(), false);
});

test("half-opens after the reset timeout, and a good probe closes it", () => {
  let now = 0;
  const circuit = new CircuitBreaker(1, 10, () => now);
  circuit.recordFailure();
  now = 9.9;
  assert.equal(circuit.state, "open");
  now = 10;
  assert.equal(circuit.state, "half_open");
  assert.equal(circuit.allow(), true);
  circuit.recordSuccess();
  assert.equal(circuit.state, "closed");
});

test("a failed probe reopens for twice as long, up to 8x; a success resets the wait", () => {
  let now = 0;
  const circuit = new CircuitBreaker(1, 10, () => now);
  const openFor = (): number => {
    const opened = now;
    while (circuit.state === "open") now += 1;
    return now - opened;
  };
  circuit.recordFailure();
  const waits: number[] = [];
  for (let i = 0; i < 6; i++) {
    waits.push(openFor());
    circuit.recordFailure(); // the probe fails
  }
  assert.deepStrictEqual(waits, [10, 20, 40, 80, 80, 80]);
  openFor();
  circuit.recordSuccess();
  circuit.recordFailure();
  assert.equal(openFor(), 10);
});
