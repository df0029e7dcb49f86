// The business logic of node-orders: what an order record on the topic looks like, per release.
//
// v1.4.0 writes `amount` as a number of the order's currency. v1.5.0 "rounds amounts to cents" with toFixed(2),
// which returns a string: every record from then on has `amount: "42.10"`, and consumers that add amounts up
// break. That is the schema drift the story reproduces (the canonical playbook "Node producer with schema drift").

export const RELEASES = ["v1.4.0", "v1.5.0"];

/** The record value for `order` as `release` writes it. */
export function orderRecord(order, release) {
  const amount = release === "v1.4.0" ? Math.round(order.amount * 100) / 100 : order.amount.toFixed(2);
  return { order_id: order.id, customer_id: order.customerId, amount, currency: order.currency };
}
