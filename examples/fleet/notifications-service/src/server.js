// notifications-service: POST /notifications renders a notification and writes it to notifications.outbox.
//   PORT=8080 KAFKA_BROKERS=kafka-1:9092 node src/server.js
import http from "node:http";
import { Kafka, logLevel } from "kafkajs";
import { render } from "./render.js";

const brokers = (process.env.KAFKA_BROKERS ?? "localhost:9092").split(",");
const kafka = new Kafka({ clientId: "notifications-service", brokers, logLevel: logLevel.NOTHING });
const producer = kafka.producer();
let connected;

async function publish(notification) {
  connected ??= producer.connect();
  await connected;
  await producer.send({
    topic: "notifications.outbox",
    messages: [{ key: notification.customerId, value: JSON.stringify(notification) }],
  });
}

const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/healthz") {
    res.writeHead(200).end();
    return;
  }
  if (req.method !== "POST" || req.url !== "/notifications") {
    res.writeHead(404).end();
    return;
  }
  let body = "";
  req.on("data", (chunk) => (body += chunk));
  req.on("end", async () => {
    try {
      const notification = render(JSON.parse(body));
      await publish(notification);
      res.writeHead(202, { "content-type": "application/json" }).end(JSON.stringify(notification));
    } catch (error) {
      res.writeHead(400).end(String(error.message));
    }
  });
});

server.listen(Number(process.env.PORT ?? 8080), () => {
  console.log(`notifications-service listening on ${server.address().port}`);
});
