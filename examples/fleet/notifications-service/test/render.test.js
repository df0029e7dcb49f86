import assert from "node:assert/strict";
import { test } from "node:test";
import { render } from "../src/render.js";

test("a shipped order becomes an email by default", () => {
  assert.deepEqual(render({ status: "shipped", orderId: "o-1", customerId: "c-7" }), {
    customerId: "c-7",
    channel: "email",
    text: "Your order o-1 is on its way.",
  });
});

test("an unknown status is refused", () => {
  assert.throws(() => render({ status: "lost", orderId: "o-1", customerId: "c-7" }), /no notification for status "lost"/);
});
