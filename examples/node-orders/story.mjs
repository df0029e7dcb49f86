// "Node producer with schema drift", end to end, in one command:
//
//     scripts/with-kafka node examples/node-orders/story.mjs        (or: make story-node)
//
// Against a real `rca serve` (a fresh SQLite database, tokens on) and the real broker of RCA_TEST_KAFKA_BOOTSTRAP:
//  1. the contract of ds://orders_node (amount is a number) and the rule mapping the topic to it, with no
//     producer: the producer is known only from the autopilot-producer header the SDK adds to every record;
//  2. CI records the deploy of node-orders v1.4.0 (`npx autopilot deploy-event`); the service runs and takes
//     orders over HTTP (some requests with a traceparent), writing them to Kafka through the kafkajs wrapper;
//  3. CI records v1.5.0; the new release takes orders and writes `amount` as a string;
//  4. `rca gate consume` reads the topic as a consumer-group member; a detector pass runs;
//  5. the incident must be TYPE_MISMATCH(amount) on ds://orders_node, v1.5.0 correlated, first bad exactly the
//     first v1.5.0 record and last good exactly the last v1.4.0 record, and its RCA cause_identified.
// Prints what it found; exits 0 when every check holds, 1 when one does not (each named), 2 when it cannot run.
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Kafka, logLevel } from "kafkajs";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const ROOT = join(HERE, "..", "..");
const RCA = process.env.RCA_BIN ?? join(ROOT, ".venv", "bin", "rca");
const BOOTSTRAP = process.env.RCA_TEST_KAFKA_BOOTSTRAP ?? process.env.KAFKA_BOOTSTRAP;
const SERVICE = "node-orders";
const PRODUCER = `svc://${SERVICE}`;
const DATASET = "ds://orders_node";
const run = `${Date.now().toString(36)}${process.pid}`;
const TOPIC = `orders.node.created.${run}`;
const ORDERS_PER_RELEASE = 12;
const COMMITS = { "v1.4.0": "4e1a9c0", "v1.5.0": "b7d2f31" };

const children = new Set();
const say = (line) => process.stdout.write(`${line}\n`);

async function main() {
  if (!BOOTSTRAP) {
    process.stderr.write("story: no broker; run it under scripts/with-kafka (it exports RCA_TEST_KAFKA_BOOTSTRAP)\n");
    return 2;
  }
  const work = mkdtempSync(join(tmpdir(), "node-orders-story-"));
  const env = { ...withoutAutopilot(process.env), RCA_DATABASE_URL: `sqlite:///${join(work, "rca.db")}`, RCA_DETECT_INTERVAL_S: "0" };
  try {
    const admin = await token(env, "story-admin", "admin");
    const writer = await token(env, "node-orders", "writer", PRODUCER);
    const rcaPort = await freePort();
    const rca = `http://127.0.0.1:${rcaPort}`;
    start("rca serve", RCA, ["serve", "--host", "127.0.0.1", "--port", String(rcaPort)], env);
    await until(async () => (await fetch(`${rca}/healthz`)).ok, "rca serve to answer");
    say(`rca serve on ${rca}; broker ${BOOTSTRAP}; topic ${TOPIC}`);

    const api = apiClient(rca, admin);
    await api("POST", "/v1/contracts", {
      dataset_urn: DATASET,
      enforcement: "flag",
      owner_team: "orders",
      schema: {
        type: "object",
        required: ["order_id", "customer_id", "amount", "currency"],
        properties: {
          order_id: { type: "string" },
          customer_id: { type: "string" },
          amount: { type: "number" },
          currency: { type: "string", enum: ["USD", "EUR", "GBP"] },
        },
      },
    });
    await api("POST", "/v1/mappings", { topic: TOPIC, dataset_urn: DATASET }); // the producer comes from the header
    const kafkaAdmin = new Kafka({ clientId: "node-orders-story", brokers: [BOOTSTRAP], logLevel: logLevel.NOTHING }).admin();
    await kafkaAdmin.connect();
    await kafkaAdmin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1 }], waitForLeaders: true });
    await kafkaAdmin.disconnect();

    const sent = {};
    for (const release of ["v1.4.0", "v1.5.0"]) {
      await ciDeployStep(release, rca, writer, env);
      sent[release] = await takeOrders(release, rca, writer, env);
      say(`  ${release}: ${sent[release].length} orders written, offsets ${sent[release][0].offset}..${sent[release].at(-1).offset}`);
      if (release === "v1.4.0") await sleep(1100); // the releases' records in different seconds, as in life
    }

    const consumed = await exec(RCA, ["gate", "consume", "--bootstrap", BOOTSTRAP, "--group", `story-${run}`, "--stop-at-end", "--topics", TOPIC], env);
    say(`rca gate consume: read the topic to its end (${consumed.stderr.split("\n").filter(Boolean).length} log lines)`);
    await api("POST", "/v1/detect");
    const { items } = await api("GET", `/v1/incidents?dataset_urn=${encodeURIComponent(DATASET)}`);
    const incident = items?.[0];
    const rcaAnswer = incident ? await api("GET", `/v1/incidents/${incident.id}/rca`) : undefined;
    return report(incident, rcaAnswer, sent);
  } finally {
    for (const child of children) child.kill("SIGTERM");
    rmSync(work, { recursive: true, force: true });
  }
}

/** The CI step of a deploy, as a GitHub Actions job would run it. */
async function ciDeployStep(release, rca, writer, env) {
  const { stdout } = await exec(
    "npx",
    ["--no-install", "autopilot", "deploy-event", "--service", SERVICE, "--version", release, "--commit", COMMITS[release], "--env", "prod", "--domain", "orders", "--strict"],
    { ...env, AUTOPILOT_ENDPOINT: rca, AUTOPILOT_TOKEN: writer },
  );
  say(`CI: ${stdout.trim()}`);
}

/** Run the service at `release`, send it orders over HTTP, stop it gracefully; what it wrote, in order. */
async function takeOrders(release, rca, writer, env) {
  const port = await freePort();
  const service = start(`node-orders ${release}`, process.execPath, [join(HERE, "service.mjs")], {
    ...env,
    PORT: String(port),
    ORDERS_RELEASE: release,
    ORDERS_TOPIC: TOPIC,
    KAFKA_BOOTSTRAP: BOOTSTRAP,
    AUTOPILOT_ENABLED: "true",
    AUTOPILOT_ENDPOINT: rca,
    AUTOPILOT_TOKEN: writer,
    AUTOPILOT_SERVICE: SERVICE,
    AUTOPILOT_ENV: "prod",
    AUTOPILOT_STARTUP_EVENT: "false", // CI records the deploys
  });
  await until(async () => (await fetch(`http://127.0.0.1:${port}/`)).status === 404, `node-orders ${release} to listen`);
  const written = [];
  for (let i = 0; i < ORDERS_PER_RELEASE; i++) {
    const n = written.length + (release === "v1.4.0" ? 0 : ORDERS_PER_RELEASE);
    const headers = { "content-type": "application/json" };
    if (i % 2 === 0) headers.traceparent = `00-${(0x1000 + n).toString(16).padStart(32, "0")}-00f067aa0ba902b7-01`;
    const order = { id: `o-${1000 + n}`, customerId: `c-${(n * 37) % 100}`, amount: 10 + n * 3.25, currency: ["USD", "EUR", "GBP"][n % 3] };
    const response = await fetch(`http://127.0.0.1:${port}/orders`, { method: "POST", headers, body: JSON.stringify(order) });
    if (response.status !== 201) throw new Error(`node-orders ${release} answered ${response.status}: ${await response.text()}`);
    written.push(await response.json());
    await sleep(20);
  }
  await stop(service);
  return written;
}

function report(incident, rcaAnswer, sent) {
  const lastGood = sent["v1.4.0"].at(-1);
  const firstBad = sent["v1.5.0"][0];
  const deploy = incident?.correlated_deploys?.[0];
  const checks = [
    ["an incident on ds://orders_node", Boolean(incident), incident?.id],
    ["reason TYPE_MISMATCH", incident?.reason_code === "TYPE_MISMATCH", incident?.reason_code],
    ["field amount", incident?.field === "amount", incident?.field],
    ["the Node deploy v1.5.0 correlated first", deploy?.version === "v1.5.0" && deploy?.service === SERVICE, deploy && `${deploy.service} ${deploy.version}`],
    ["first bad = the first v1.5.0 record", sameInstant(incident?.first_bad_time, firstBad.timestamp), `${incident?.first_bad_time} vs ${iso(firstBad.timestamp)}`],
    ["last good = the last v1.4.0 record", sameInstant(incident?.last_good_time, lastGood.timestamp), `${incident?.last_good_time} vs ${iso(lastGood.timestamp)}`],
    ["evidence cites the first bad record", (incident?.evidence ?? []).some((e) => e.source_ref === `${TOPIC}/0/${firstBad.offset}`), `${TOPIC}/0/${firstBad.offset}`],
    ["RCA: cause identified", rcaAnswer?.verdict === "cause_identified", rcaAnswer?.verdict],
    ["RCA: names v1.5.0", rcaAnswer?.correlated_deploy?.version === "v1.5.0", rcaAnswer?.correlated_deploy?.version],
  ];
  say("");
  say(`incident ${incident?.id ?? "(none)"}: ${incident?.reason_code ?? "-"}(${incident?.field ?? "-"}) on ${incident?.dataset_urn ?? "-"}`);
  say(`  last good ${incident?.last_good_time ?? "-"}, first bad ${incident?.first_bad_time ?? "-"}, bad rate ${JSON.stringify(incident?.bad_rate ?? null)}`);
  say(`  correlated deploy: ${deploy ? `${deploy.service} ${deploy.version} (${deploy.deploy_ref})` : "none"}`);
  say(`RCA: ${rcaAnswer?.verdict ?? "-"}: ${rcaAnswer?.summary ?? ""}`);
  say("");
  let failed = 0;
  for (const [what, ok, seen] of checks) {
    if (!ok) failed += 1;
    say(`${ok ? "ok  " : "FAIL"} ${what}${ok ? "" : `: got ${seen ?? "nothing"}`}`);
  }
  say(failed === 0 ? "\nstory reproduced: Node producer with schema drift" : `\n${failed} check(s) failed`);
  return failed === 0 ? 0 : 1;
}

// -- plumbing ------------------------------------------------------------------------------------------------

function apiClient(base, token) {
  return async (method, path, body) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status}: ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
}

async function token(env, name, role, producer) {
  const args = ["token", "create", "--name", name, "--role", role, ...(producer ? ["--producer", producer] : [])];
  return (await exec(RCA, args, env)).stdout.trim();
}

function start(name, command, args, env) {
  const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stdout.on("data", (chunk) => (log += chunk));
  child.stderr.on("data", (chunk) => (log += chunk));
  child.on("exit", (code, signal) => {
    children.delete(child);
    if (code && signal === null) process.stderr.write(`story: ${name} exited with ${code}:\n${log.slice(-2000)}\n`);
  });
  children.add(child);
  return child;
}

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once("exit", resolve);
    child.kill("SIGTERM");
  });
}

async function exec(command, args, env) {
  try {
    return await promisify(execFile)(command, args, { env, cwd: HERE, timeout: 180_000, maxBuffer: 16 << 20 });
  } catch (error) {
    throw new Error(`${command} ${args.join(" ")} failed: ${error.stderr?.slice(-2000) ?? error.message}`);
  }
}

async function until(check, what, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function withoutAutopilot(env) {
  return Object.fromEntries(Object.entries(env).filter(([key]) => !key.startsWith("AUTOPILOT_")));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const iso = (ms) => new Date(ms).toISOString();
const sameInstant = (text, ms) => typeof text === "string" && Date.parse(text) === ms;

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`story: ${error.stack ?? error}\n`);
    process.exitCode = 2;
  },
);
