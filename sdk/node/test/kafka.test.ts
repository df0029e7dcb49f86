// The Kafka wrappers against a real broker (scripts/with-kafka exports RCA_TEST_KAFKA_BOOTSTRAP): every record a
// kafkajs or @platformatic/kafka producer sends carries the identity headers; a message's own header wins; while
// the SDK is disabled or killed the records go out exactly as given. Read back with a kafkajs consumer.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Client, startTrace, withTrace } from "@rca/autopilot";
import { instrumentProducer } from "@rca/autopilot/kafkajs";
import { instrumentProducer as instrumentPlatformatic } from "@rca/autopilot/platformatic-kafka";
import { FakeTransport } from "@rca/autopilot/testing";
import { Producer as PlatformaticProducer, stringSerializers } from "@platformatic/kafka";
import { type IHeaders, Kafka, logLevel, Partitioners } from "kafkajs";
import { makeClient, shutdownClients, sleep } from "./helpers.js";

const BOOTSTRAP = process.env.RCA_TEST_KAFKA_BOOTSTRAP;
const skip = BOOTSTRAP ? false : "no broker: run under scripts/with-kafka (RCA_TEST_KAFKA_BOOTSTRAP)";
if (!BOOTSTRAP && process.env.RCA_REQUIRE_KAFKA === "1") throw new Error("RCA_REQUIRE_KAFKA=1 but RCA_TEST_KAFKA_BOOTSTRAP is not set");

const RUN = `${process.pid}-${Date.now()}`;
const topic = (name: string): string => `autopilot-node-${name}-${RUN}`;
const TOPICS = ["kafkajs", "kafkajs-batch", "kafkajs-tx", "kafkajs-off", "kafkajs-killed", "platformatic", "platformatic-strings"].map(topic);
const TRACE = startTrace();

interface Received {
  value: string;
  headers: Record<string, string>;
}
const received = new Map<string, Received[]>();

function text(headers: IHeaders | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(headers ?? {}).map(([key, value]) => [key, String(value)]));
}

function on(name: string): Received[] {
  return received.get(topic(name)) ?? [];
}

const IDENTITY = { "autopilot-producer": "svc://orders-node", "autopilot-env": "test" };

before(async () => {
  if (!BOOTSTRAP) return;
  const kafka = new Kafka({ clientId: "autopilot-node-tests", brokers: [BOOTSTRAP], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: TOPICS.map((name) => ({ topic: name, numPartitions: 1 })), waitForLeaders: true });
  await admin.disconnect();

  const client = makeClient({ endpoint: "http://rca.test", service: "orders-node" }, { transport: new FakeTransport() });
  const producer = instrumentProducer(kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner }), { client });
  await producer.connect();
  await withTrace(TRACE, async () => {
    await producer.send({
      topic: topic("kafkajs"),
      messages: [{ value: "plain" }, { value: "own-trace", headers: { traceparent: "00-11111111111111111111111111111111-2222222222222222-01", team: "x" } }],
    });
    await producer.sendBatch({ topicMessages: [{ topic: topic("kafkajs-batch"), messages: [{ value: "batched" }] }] });
  });
  await producer.disconnect();

  const transactional = instrumentProducer(
    kafka.producer({ transactionalId: `autopilot-tx-${RUN}`, idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner }),
    { client },
  );
  await transactional.connect();
  const transaction = await transactional.transaction();
  await transaction.send({ topic: topic("kafkajs-tx"), messages: [{ value: "in-a-transaction" }] });
  await transaction.commit();
  await transactional.disconnect();

  const off = instrumentProducer(kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner }), { client: new Client({}, { environ: {} }) });
  await off.connect();
  await off.send({ topic: topic("kafkajs-off"), messages: [{ value: "disabled" }] });
  const killedTransport = new FakeTransport();
  killedTransport.setControl({ killed: true });
  const killedClient = makeClient({ endpoint: "http://rca.test", service: "orders-node" }, { transport: killedTransport });
  for (let i = 0; i < 200 && killedClient.accepting; i++) await sleep(10);
  assert.equal(killedClient.accepting, false, "the kill switch was not seen");
  const killed = instrumentProducer(kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner }), { client: killedClient });
  await killed.connect();
  await killed.send({ topic: topic("kafkajs-killed"), messages: [{ value: "killed" }] });
  await Promise.all([off.disconnect(), killed.disconnect()]);

  const platformatic = instrumentPlatformatic(new PlatformaticProducer({ clientId: "autopilot-node-tests", bootstrapBrokers: [BOOTSTRAP] }), {
    client,
  });
  await withTrace(TRACE, () =>
    platformatic.send({
      messages: [
        { topic: topic("platformatic"), value: Buffer.from("plain") },
        { topic: topic("platformatic"), value: Buffer.from("own"), headers: new Map([[Buffer.from("autopilot-env"), Buffer.from("mine")]]) },
      ],
    }),
  );
  await platformatic.close();
  const strings = instrumentPlatformatic(
    new PlatformaticProducer({ clientId: "autopilot-node-tests", bootstrapBrokers: [BOOTSTRAP], serializers: stringSerializers }),
    { client, headers: "string" },
  );
  await strings.send({ messages: [{ topic: topic("platformatic-strings"), value: "as-strings", headers: { team: "y" } }] });
  await strings.close();

  const consumer = kafka.consumer({ groupId: `autopilot-node-tests-${RUN}` });
  await consumer.connect();
  await consumer.subscribe({ topics: TOPICS, fromBeginning: true });
  const expected = 2 + 1 + 1 + 1 + 1 + 2 + 1;
  let count = 0;
  const all = new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ topic: name, message }) => {
        const list = received.get(name) ?? [];
        list.push({ value: message.value?.toString() ?? "", headers: text(message.headers) });
        received.set(name, list);
        count += 1;
        if (count >= expected) resolve();
        await Promise.resolve();
      },
    });
  });
  await Promise.race([all, sleep(60_000)]);
  await consumer.disconnect();
});

after(shutdownClients);

test("kafkajs: send() adds the identity and the trace in use; a message's own header wins", { skip }, () => {
  const [plain, own] = on("kafkajs");
  assert.deepStrictEqual(plain, { value: "plain", headers: { ...IDENTITY, traceparent: TRACE.traceparent } });
  assert.deepStrictEqual(own, {
    value: "own-trace",
    headers: { ...IDENTITY, traceparent: "00-11111111111111111111111111111111-2222222222222222-01", team: "x" },
  });
});

test("kafkajs: sendBatch() and transactions carry the identity too", { skip }, () => {
  assert.deepStrictEqual(on("kafkajs-batch"), [{ value: "batched", headers: { ...IDENTITY, traceparent: TRACE.traceparent } }]);
  assert.deepStrictEqual(on("kafkajs-tx"), [{ value: "in-a-transaction", headers: IDENTITY }]);
});

test("kafkajs: while disabled or killed, records go out exactly as given", { skip }, () => {
  assert.deepStrictEqual(on("kafkajs-off"), [{ value: "disabled", headers: {} }]);
  assert.deepStrictEqual(on("kafkajs-killed"), [{ value: "killed", headers: {} }]);
});

test("@platformatic/kafka: Buffer headers by default, string headers with string serializers", { skip }, () => {
  const [plain, own] = on("platformatic");
  assert.deepStrictEqual(plain, { value: "plain", headers: { ...IDENTITY, traceparent: TRACE.traceparent } });
  assert.deepStrictEqual(own, { value: "own", headers: { ...IDENTITY, "autopilot-env": "mine", traceparent: TRACE.traceparent } });
  assert.deepStrictEqual(on("platformatic-strings"), [{ value: "as-strings", headers: { ...IDENTITY, team: "y" } }]);
});

test("the caller's message objects are never modified, and instrumenting twice adds nothing twice", async () => {
  const sent: unknown[] = [];
  const client = makeClient({ endpoint: "http://rca.test", service: "orders-node" }, { transport: new FakeTransport() });
  const fake = {
    send: (record: { topic: string; messages: Array<{ value: string; headers?: IHeaders }> }) => {
      sent.push(record);
      return Promise.resolve([]);
    },
  };
  const producer = instrumentProducer(instrumentProducer(fake, { client }), { client });
  const message = { value: "v" };
  await producer.send({ topic: "t", messages: [message] });
  assert.deepStrictEqual(message, { value: "v" });
  assert.deepStrictEqual(sent, [{ topic: "t", messages: [{ value: "v", headers: IDENTITY }] }]);
});
