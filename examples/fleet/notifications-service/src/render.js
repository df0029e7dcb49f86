const TEMPLATES = {
  shipped: (o) => `Your order ${o.orderId} is on its way.`,
  delivered: (o) => `Your order ${o.orderId} was delivered.`,
};

/** The notification for one order event; throws when the event cannot be told to a customer. */
export function render(event) {
  const template = TEMPLATES[event.status];
  if (!template) {
    throw new Error(`no notification for status ${JSON.stringify(event.status)}`);
  }
  if (!event.customerId || !event.orderId) {
    throw new Error("customerId and orderId are required");
  }
  return { customerId: event.customerId, channel: event.channel ?? "email", text: template(event) };
}
