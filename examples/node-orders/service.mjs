// node-orders: POST /orders writes the order to Kafka. Instrumented with @rca/autopilot in the three adoption
// steps' way: the dependency and these few lines; AUTOPILOT_* in the environment switch it on.
//
//     ORDERS_RELEASE=v1.5.0 KAFKA_BOOTSTRAP=127.0.0.1:9092 PORT=3000 node service.mjs
//
// The trace of each request is continued (or started) at the edge, and every record the producer sends carries
// autopilot-producer, autopilot-env, autopilot-version and the traceparent in use. Disabled, both are no-ops.
import http from "node:http";
import * as autopilot from "@rca/autopilot";
import { withIncomingTrace } from "@rca/autopilot/express";
import { instrumentProducer } from "@rca/autopilot/kafkajs";
import { Kafka, logLevel, Partitioners } from "kafkajs";
import { orderRecord, RELEASES } from "./orders.mjs";

const release = process.env.ORDERS_RELEASE ?? "v1.5.0";
if (!RELEASES.includes(release)) throw new Error(`ORDERS_RELEASE must be one of ${RELEASES.join(", ")}`);
const topic = process.env.ORDERS_TOPIC ?? "orders.node.created";

autopilot.configure({ version: release }); // AUTOPILOT_* decide the rest; off unless AUTOPILOT_ENABLED=true

const kafka = new Kafka({ clientId: "node-orders", brokers: (process.env.KAFKA_BOOTSTRAP ?? "127.0.0.1:9092").split(","), logLevel: logLevel.WARN });
const producer = instrumentProducer(kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner }));
await producer.connect();

const server = http.createServer((req, res) =>
  withIncomingTrace(req, async () => {
    if (req.method !== "POST" || req.url !== "/orders") {
      res.writeHead(404).end();
      return;
    }
    try {
      let body = "";
      for await (const chunk of req) body += chunk;
      const order = JSON.parse(body);
      const timestamp = String(Date.now());
      const [sent] = await producer.send({
        topic,
        messages: [{ key: order.id, value: JSON.stringify(orderRecord(order, release)), timestamp }],
      });
      res.writeHead(201, { "content-type": "application/json" });
      res.end(JSON.stringify({ topic, partition: sent.partition, offset: sent.baseOffset, timestamp: Number(timestamp), release }));
    } catch (error) {
      res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ error: String(error) }));
    }
  }),
);
server.listen(Number(process.env.PORT ?? 3000), "127.0.0.1", () => {
  process.stdout.write(`node-orders ${release} listening on ${server.address().port}\n`);
});

// A graceful stop: no new requests, the producer flushed, then the SDK (a bounded wait).
process.once("SIGTERM", () => {
  server.close(async () => {
    await producer.disconnect();
    await autopilot.shutdown(2);
  });
});
