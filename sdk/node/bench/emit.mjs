// What the Node SDK costs its host: emit() p50/p99, and an HTTP handler's throughput and event-loop delay with the
// SDK disabled, enabled against a healthy backend, and enabled against a backend that is down.
//
//     node bench/emit.mjs [--quick] [--work-us 500] [--seconds 2]
//
// The backend (accepts everything) and the load generator run in their own processes, so that only the host's
// own work and the SDK's are charged to the process measured. Modes run in paired rounds, in a rotating order, so
// load from elsewhere on the machine hits each alike; each mode is compared with the disabled run of its round, and
// the figure is the median of those per-round differences. A second disabled client, `disabled-control`, runs as a
// mode of its own: its difference from `disabled` is this run's noise floor, printed beside the others (a delta
// inside it is not a measured cost). Figures depend on the machine; the ratios are what stays comparable. The last
// line is JSON (for run_all.py).
import { fork } from "node:child_process";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Client } from "@rca/autopilot";

const ORDER = JSON.stringify({
  order_id: "o-1",
  customer_id: "c-9",
  lines: Array.from({ length: 20 }, (_, i) => ({ sku: `sku-${i}`, qty: (i % 5) + 1, price_cents: 199 + i })),
});

// -- child roles ---------------------------------------------------------------------------------------------

/** The rca stand-in: reads each body, answers 200 without parsing (its CPU is not the host's). */
function serveBackend() {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      if (req.method === "GET") res.writeHead(404, { "content-type": "application/json" }).end('{"detail":"no entry"}');
      else res.writeHead(200, { "content-type": "application/json" }).end('{"rejected":0}');
    });
  });
  server.listen(0, "127.0.0.1", () => process.send?.({ port: server.address().port }));
}

/** The load generator: `connections` kept-alive connections hitting `url` back to back for `seconds`. */
function generateLoad() {
  process.on("message", ({ url, seconds, connections }) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
    const deadline = performance.now() + seconds * 1000;
    let done = 0;
    let running = connections;
    const next = () => {
      if (performance.now() >= deadline) {
        if (--running === 0) {
          agent.destroy();
          process.send?.({ done });
        }
        return;
      }
      http
        .get(url, { agent }, (res) => {
          res.resume();
          res.on("end", () => {
            done += 1;
            next();
          });
        })
        .on("error", (error) => {
          process.send?.({ error: String(error) });
          process.exit(1);
        });
    };
    for (let i = 0; i < connections; i++) next();
  });
}

// -- the host ------------------------------------------------------------------------------------------------

function start(role) {
  return fork(fileURLToPath(import.meta.url), [`--role=${role}`], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
}

/** The child's next message; rejects if it exits first. */
function reply(child) {
  return new Promise((resolve, reject) => {
    const exited = (code) => reject(new Error(`${child.spawnargs.join(" ")} exited with ${code}`));
    child.once("exit", exited);
    child.once("message", (message) => {
      child.off("exit", exited);
      resolve(message);
    });
  });
}

async function closedPort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

function clientFor(endpoint) {
  // Production defaults, except: no startup event, and the logger quiet (a dead backend is logged once anyway).
  const logger = { warn() {}, info() {}, debug() {} };
  if (endpoint === undefined) return new Client({}, { environ: {}, logger });
  return new Client({ enabled: true, endpoint, service: "bench", startupEvent: false }, { environ: {}, logger });
}

function percentile(samples, p) {
  const sorted = Float64Array.from(samples).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function median(values) {
  return percentile(values, 50);
}

/** Per-call emit() time in microseconds, bursts under the queue size, the loop draining between bursts (untimed). */
async function emitLatency(client, rounds, burst) {
  const data = { run_id: "r-1", code_ref: "orders@4f2a9c1", env: "prod" };
  const samples = new Float64Array(rounds * burst);
  let n = 0;
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < burst; i++) {
      const began = process.hrtime.bigint();
      client.emit("JobRunStarted", data);
      samples[n++] = Number(process.hrtime.bigint() - began) / 1000;
    }
    await client.flush(5);
  }
  return samples;
}

function timerFloor(count = 200_000) {
  const samples = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const began = process.hrtime.bigint();
    samples[i] = Number(process.hrtime.bigint() - began) / 1000;
  }
  return median(samples);
}

/**
 * The delivery loop's own CPU per event (writing the batch's JSON, the HTTP exchange, or the drop), measured while it
 * drains `count` queued events and nothing else runs in this process: the part of the SDK's cost that is not emit()
 * itself, and far less sensitive to load elsewhere than wall-clock throughput. One client per backend, warmed up
 * first, so this is the steady state: a kept-alive connection when up; when down, the circuit open (emit() then
 * queues nothing, and the loop has nothing to do: the cost is emit()'s, measured above).
 */
function deliveryClient(endpoint, count) {
  return new Client(
    { enabled: true, endpoint, service: "bench", startupEvent: false, queueSize: count, flushInterval: 3600 },
    { environ: {}, logger: { warn() {}, info() {}, debug() {} } },
  );
}

async function deliveryCpu(client, count) {
  const data = { run_id: "r-1", code_ref: "orders@4f2a9c1", env: "prod" };
  for (let i = 0; i < count; i++) client.emit("JobRunStarted", data);
  const before = process.cpuUsage();
  await client.flush(60);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / count;
}

/** A request handler's kind of work: decode a document, walk it, encode a reply. */
function businessWork(rounds) {
  let checksum = 0;
  let reply = "";
  for (let r = 0; r < rounds; r++) {
    const order = JSON.parse(ORDER);
    for (const line of order.lines) checksum = (checksum * 31 + line.qty * line.price_cents) % 1_000_003;
    order.checksum = checksum;
    reply = JSON.stringify(order);
  }
  return reply.slice(-12);
}

function calibrate(targetUs) {
  let rounds = 1;
  for (let pass = 0; pass < 4; pass++) {
    const calls = Math.max(20, Math.floor(200_000 / targetUs));
    const began = performance.now();
    for (let i = 0; i < calls; i++) businessWork(rounds);
    const perCallUs = ((performance.now() - began) / calls) * 1000;
    rounds = Math.max(1, Math.round((rounds * targetUs) / perCallUs));
  }
  return rounds;
}

async function main() {
  const { values } = parseArgs({
    options: {
      role: { type: "string" },
      quick: { type: "boolean", default: false },
      "work-us": { type: "string", default: "500" },
      seconds: { type: "string" },
      connections: { type: "string", default: "8" },
    },
  });
  if (values.role === "backend") return serveBackend();
  if (values.role === "load") return generateLoad();

  const quick = values.quick;
  const [emitRounds, burst] = quick ? [20, 1000] : [200, 1000];
  // Many short paired windows rather than a few long ones: load from elsewhere drifts less within a round.
  const loopRounds = quick ? 5 : 15;
  const seconds = Number(values.seconds ?? 1);
  const connections = Number(values.connections);
  const backend = start("backend");
  const load = start("load");
  const { port } = await reply(backend);
  const upUrl = `http://127.0.0.1:${port}`;
  const downUrl = await closedPort();
  try {
    const floor = timerFloor();
    const latency = {};
    for (const [name, endpoint] of [["disabled", undefined], ["up", upUrl], ["down", downUrl]]) {
      const client = clientFor(endpoint);
      await emitLatency(client, 2, burst); // warm up: JIT, the loop started, the first connection made
      const samples = await emitLatency(client, emitRounds, burst);
      latency[name] = { p50: percentile(samples, 50), p99: percentile(samples, 99), max: percentile(samples, 100), n: samples.length };
      await client.shutdown(1);
    }

    const delivery = {};
    for (const [name, endpoint] of [["up", upUrl], ["down", downUrl]]) {
      const client = deliveryClient(endpoint, 20_000);
      for (let k = 0; k < 3; k++) await deliveryCpu(client, 5_000); // warm up: JIT, the connection, the circuit
      const runs = [];
      for (let k = 0; k < (quick ? 3 : 7); k++) runs.push(await deliveryCpu(client, 20_000));
      delivery[name] = median(runs);
      await client.shutdown(1);
    }

    const workRounds = calibrate(Number(values["work-us"]));
    const clients = {
      disabled: clientFor(undefined),
      "disabled-control": clientFor(undefined),
      "enabled-healthy": clientFor(upUrl),
      "enabled-backend-down": clientFor(downUrl),
    };
    let i = 0;
    const server = http.createServer((req, res) => {
      const client = clients[req.url.slice(1)];
      const checksum = businessWork(workRounds);
      client.emit("JobRunStarted", { run_id: `run-${i++}`, checksum });
      res.writeHead(200, { "content-type": "text/plain" }).end(checksum);
    });
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    const host = `http://127.0.0.1:${server.address().port}`;
    const names = Object.keys(clients);
    const rates = Object.fromEntries(names.map((name) => [name, []]));
    const deltas = Object.fromEntries(names.map((name) => [name, []]));
    const cpuDeltas = Object.fromEntries(names.map((name) => [name, []]));
    const delay = Object.fromEntries(names.map((name) => [name, { p50: [], p99: [], max: [] }]));
    const cpu = Object.fromEntries(names.map((name) => [name, []]));
    const window = async (name, windowSeconds) => {
      const histogram = monitorEventLoopDelay({ resolution: 1 });
      const cpuBefore = process.cpuUsage();
      histogram.enable();
      load.send({ url: `${host}/${name}`, seconds: windowSeconds, connections });
      const { done, error } = await reply(load);
      histogram.disable();
      if (error) throw new Error(error);
      await clients[name].flush(5); // the SDK's share for these requests lands inside this window
      const used = process.cpuUsage(cpuBefore);
      return { rate: done / windowSeconds, histogram, cpuPerRequestUs: (used.user + used.system) / done };
    };
    for (const name of names) await window(name, 0.5); // warm up
    for (let round = 0; round < loopRounds; round++) {
      const order = [...names.slice(round % names.length), ...names.slice(0, round % names.length)];
      const thisRound = {};
      const thisCpu = {};
      for (const name of order) {
        const { rate, histogram, cpuPerRequestUs } = await window(name, seconds);
        thisRound[name] = rate;
        rates[name].push(rate);
        delay[name].p50.push(histogram.percentile(50) / 1e6);
        delay[name].p99.push(histogram.percentile(99) / 1e6);
        delay[name].max.push(histogram.max / 1e6);
        cpu[name].push(cpuPerRequestUs);
        thisCpu[name] = cpuPerRequestUs;
      }
      for (const name of names) {
        deltas[name].push(((thisRound[name] - thisRound.disabled) / thisRound.disabled) * 100);
        cpuDeltas[name].push(thisCpu[name] - thisCpu.disabled);
      }
    }
    const delivered = Object.fromEntries(names.map((name) => [name, clients[name].stats().delivered]));
    const dropped = Object.fromEntries(names.map((name) => [name, Object.values(clients[name].signalsDropped()).reduce((a, b) => a + b, 0)]));
    await Promise.all(Object.values(clients).map((client) => client.shutdown(1)));
    server.close();

    const load1 = os.loadavg()[0];
    const work = 1e6 / median(rates.disabled);
    const out = (line = "") => process.stdout.write(`${line}\n`);
    out(`autopilot Node SDK benchmark  (node ${process.version}, ${os.cpus().length} cores, load average ${load1.toFixed(2)};`);
    out(`timer floor ${floor.toFixed(3)} us, included below)`);
    out();
    out("emit() cost                      p50 us     p99 us     max us    calls");
    for (const [key, label] of [["disabled", "SDK disabled"], ["up", "enabled, backend up"], ["down", "enabled, backend down"]]) {
      const row = latency[key];
      out(`  ${label.padEnd(28)} ${row.p50.toFixed(2).padStart(8)}   ${row.p99.toFixed(2).padStart(8)}   ${row.max.toFixed(1).padStart(8)}  ${String(row.n).padStart(7)}`);
    }
    out();
    out("SDK CPU per event in this process      emit() p50 + delivery loop = total   (delivery: median of draining runs)");
    for (const [key, label] of [["up", "enabled, backend up"], ["down", "enabled, backend down"]]) {
      const total = latency[key].p50 + delivery[key];
      out(`  ${label.padEnd(28)} ${latency[key].p50.toFixed(2).padStart(8)} + ${delivery[key].toFixed(2).padStart(8)} = ${total.toFixed(2).padStart(6)} us`);
    }
    out();
    out(`HTTP handler: ~${Number(values["work-us"])} us of CPU work + one emit() per request, ${connections} connections,`);
    out(`${loopRounds} paired rounds of ${seconds} s per mode (one request takes ~${work.toFixed(0)} us end to end when disabled)`);
    out(
      `  ${"".padEnd(22)} ${"req/s".padStart(7)}  ${"vs disabled".padStart(11)}  ${"rounds p25..p75".padStart(16)}  ${"CPU us/req".padStart(10)}` +
        `  ${"+CPU us".padStart(7)}  ${"loop delay p50 / p99 / max ms".padStart(30)}  ${"delivered".padStart(9)} ${"dropped".padStart(8)}`,
    );
    const summaryRows = {};
    const signed = (value, digits = 2) => `${value >= 0 ? "+" : ""}${value.toFixed(digits)}`;
    for (const name of names) {
      const row = {
        req_per_s: median(rates[name]),
        delta_pct: median(deltas[name]),
        delta_p25: percentile(deltas[name], 25),
        delta_p75: percentile(deltas[name], 75),
        cpu_us_per_req: median(cpu[name]),
        cpu_delta_us: median(cpuDeltas[name]),
        loop_delay_ms: { p50: median(delay[name].p50), p99: median(delay[name].p99), max: median(delay[name].max) },
      };
      summaryRows[name] = row;
      const d = row.loop_delay_ms;
      const first = name === "disabled";
      out(
        `  ${name.padEnd(22)} ${row.req_per_s.toFixed(0).padStart(7)}  ${(first ? "-" : `${signed(row.delta_pct)}%`).padStart(11)}` +
          `  ${(first ? "-" : `${signed(row.delta_p25, 1)}..${signed(row.delta_p75, 1)}%`).padStart(16)}` +
          `  ${row.cpu_us_per_req.toFixed(1).padStart(10)}  ${(first ? "-" : signed(row.cpu_delta_us, 1)).padStart(7)}` +
          `  ${`${d.p50.toFixed(2)} / ${d.p99.toFixed(2)} / ${d.max.toFixed(2)}`.padStart(30)}` +
          `  ${String(delivered[name]).padStart(9)} ${String(dropped[name]).padStart(8)}`,
      );
    }
    out("  vs disabled: median of the per-round differences (paired rounds), and their interquartile range. CPU us/req:");
    out("  this process's CPU time per request (handler, HTTP and the SDK's delivery loop), robust to load elsewhere;");
    out("  +CPU us: median per-round difference from disabled. Loop delay: perf_hooks.monitorEventLoopDelay per window.");
    // The noise floor: what two identical (disabled) clients differ by in this run. A delta is only a measured cost
    // (or a measured absence of one) when the noise is below the 2% margin the target allows.
    const control = summaryRows["disabled-control"];
    const noise = Math.max(Math.abs(control.delta_pct), (control.delta_p75 - control.delta_p25) / 2);
    const verdicts = {};
    out(`  noise floor (disabled-control vs disabled): ${noise.toFixed(2)}% (|median| or half the IQR, the larger)`);
    for (const name of ["enabled-healthy", "enabled-backend-down"]) {
      const delta = summaryRows[name].delta_pct;
      verdicts[name] =
        noise >= 2 ? "undecided: noise floor not below the 2% margin" : delta >= -2 ? "met" : delta < -2 - noise ? "not met" : "undecided: within the noise of the margin";
      out(`  target (within 2% of disabled), ${name}: ${verdicts[name]}`);
    }
    out();
    const perRequest = summaryRows.disabled.cpu_us_per_req;
    const implied = {};
    for (const [name, key] of [["enabled-healthy", "up"], ["enabled-backend-down", "down"]]) {
      implied[name] = -((latency[key].p50 + delivery[key]) / perRequest) * 100;
      out(`CPU accounting: ${name} costs ${(latency[key].p50 + delivery[key]).toFixed(2)} us per event = ${implied[name].toFixed(2)}% of the`);
      out(`  ${perRequest.toFixed(0)} us of CPU a request takes with the SDK disabled`);
    }
    out();
    const summary = {
      benchmark: "sdk_node_emit",
      quick,
      node: process.version,
      emit_p50_us_up: round(latency.up.p50),
      emit_p99_us_up: round(latency.up.p99),
      emit_p50_us_down: round(latency.down.p50),
      emit_p99_us_down: round(latency.down.p99),
      emit_p50_us_disabled: round(latency.disabled.p50),
      emit_p99_us_disabled: round(latency.disabled.p99),
      timer_floor_us: round(floor),
      handler: Object.fromEntries(
        Object.entries(summaryRows).map(([name, row]) => [
          name,
          {
            req_per_s: Math.round(row.req_per_s),
            delta_pct: round(row.delta_pct),
            delta_pct_p25: round(row.delta_p25),
            delta_pct_p75: round(row.delta_p75),
            cpu_delta_us: round(row.cpu_delta_us),
            cpu_us_per_req: round(row.cpu_us_per_req),
            loop_delay_ms_p50: round(row.loop_delay_ms.p50),
            loop_delay_ms_p99: round(row.loop_delay_ms.p99),
            loop_delay_ms_max: round(row.loop_delay_ms.max),
          },
        ]),
      ),
      delivery_cpu_us_per_event: { up: round(delivery.up), down: round(delivery.down) },
      cpu_implied_delta_pct: Object.fromEntries(Object.entries(implied).map(([name, value]) => [name, round(value)])),
      sdk_cpu_us_per_event: {
        "enabled-healthy": round(summaryRows["enabled-healthy"].cpu_delta_us),
        "enabled-backend-down": round(summaryRows["enabled-backend-down"].cpu_delta_us),
        "disabled-control": round(summaryRows["disabled-control"].cpu_delta_us),
      },
      noise_floor_pct: round(noise),
      handler_target: verdicts,
      cpus: os.cpus().length,
      loadavg_1m: round(load1),
    };
    out(JSON.stringify(summary));
  } finally {
    backend.kill();
    load.kill();
  }
}

function round(value) {
  return Math.round(value * 1000) / 1000;
}

await main();
