// Process life, in real child processes: the SDK never keeps a process alive, flushes when the event loop runs
// dry, cannot hold up the exit with a hanging backend, starts nothing while disabled, and sends the startup event
// once per process (not per client, not per worker thread, not per module format).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, test } from "node:test";
import { Backend, PACKAGE_ROOT } from "./helpers.js";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** From spawn to exit, ms. */
  elapsed: number;
}

function runNode(source: string, env: Record<string, string> = {}, type: "module" | "commonjs" = "module"): Promise<Run> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("AUTOPILOT_")));
  return new Promise((resolve, reject) => {
    const began = performance.now();
    const child = spawn(process.execPath, [`--input-type=${type}`, "-e", source], {
      cwd: PACKAGE_ROOT, // so that the package resolves itself by name
      env: { ...clean, ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr, elapsed: performance.now() - began });
    });
  });
}

const backends: Backend[] = [];
after(async () => {
  await Promise.all(backends.map((backend) => backend.close()));
});

async function backend(mode: "ok" | "sleep" = "ok"): Promise<Backend> {
  const started = await Backend.start(mode, 10_000);
  backends.push(started);
  return started;
}

function enabled(url: string, extra: Record<string, string> = {}): Record<string, string> {
  return { AUTOPILOT_ENABLED: "true", AUTOPILOT_ENDPOINT: url, AUTOPILOT_SERVICE: "orders", AUTOPILOT_STARTUP_EVENT: "false", ...extra };
}

// A script whose own work ends at once; the time it takes to exit is Node's start-up plus whatever holds it open.
const EMIT_AND_END = `
  import * as autopilot from "@rca/autopilot";
  autopilot.configure();
  autopilot.emit("JobRunStarted", { run_id: "at-exit" });
`;

test("events queued when the event loop runs dry are flushed before the process exits", async () => {
  const good = await backend();
  const run = await runNode(EMIT_AND_END, enabled(good.url, { AUTOPILOT_FLUSH_INTERVAL: "60" })); // only the exit flush can send it
  assert.equal(run.code, 0, run.stderr);
  assert.deepStrictEqual(
    good.events.map((event) => event.data.run_id),
    ["at-exit"],
  );
});

test("a backend that hangs cannot hold up the exit: out within SHUTDOWN_TIMEOUT", async () => {
  const hanging = await backend("sleep"); // answers after 10 s; the SDK's request timeout is the default 3 s
  const baseline = await runNode(EMIT_AND_END, {});
  const run = await runNode(EMIT_AND_END, enabled(hanging.url, { AUTOPILOT_SHUTDOWN_TIMEOUT: "0.5" }));
  assert.equal(run.code, 0, run.stderr);
  const extra = run.elapsed - baseline.elapsed;
  assert.ok(extra < 500 + 700, `the exit took ${extra.toFixed(0)} ms more than without the SDK`);
  const defaults = await runNode(EMIT_AND_END, enabled(hanging.url)); // SHUTDOWN_TIMEOUT 2 s
  assert.ok(defaults.elapsed - baseline.elapsed < 2000 + 700, `the exit took ${(defaults.elapsed - baseline.elapsed).toFixed(0)} ms more`);
});

test("an enabled SDK with nothing to send never keeps the process alive", async () => {
  const good = await backend();
  const baseline = await runNode(`import "@rca/autopilot";`, {});
  const run = await runNode(`import * as autopilot from "@rca/autopilot"; autopilot.configure();`, enabled(good.url));
  assert.equal(run.code, 0, run.stderr);
  assert.ok(run.elapsed - baseline.elapsed < 700, `exit took ${(run.elapsed - baseline.elapsed).toFixed(0)} ms more`);
  // SdkHealth due every 50 ms rides on the loop's unref'd sleep: it does not hold the process either.
  const health = await runNode(`import * as autopilot from "@rca/autopilot"; autopilot.configure();`,
    enabled(good.url, { AUTOPILOT_HEALTH_INTERVAL: "0.05" }));
  assert.equal(health.code, 0, health.stderr);
  assert.ok(health.elapsed - baseline.elapsed < 700, `exit took ${(health.elapsed - baseline.elapsed).toFixed(0)} ms more`);
});

test("a long-running host is not held either: its own timers decide, and events go out meanwhile", async () => {
  const good = await backend();
  const run = await runNode(
    `
    import * as autopilot from "@rca/autopilot";
    autopilot.configure({ flushInterval: 0.05 });
    autopilot.emit("JobRunStarted", { run_id: "while-running" });
    setTimeout(() => console.log(JSON.stringify(autopilot.stats().delivered)), 400);
    `,
    enabled(good.url),
  );
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout.trim(), "1");
});

test("disabled, the SDK starts no handle, no listener and no socket in a real process", async () => {
  const run = await runNode(`
    import net from "node:net";
    // Handles and requests, less the file reads and closes of loading modules.
    const resources = () => process.getActiveResourcesInfo().filter((name) => !/^(CloseReq|FSReq)/.test(name)).sort().join(",");
    const before = resources();
    const listeners = process.listenerCount("beforeExit");
    net.Socket.prototype.connect = () => { throw new Error("a socket was opened"); };
    const autopilot = await import("@rca/autopilot");
    autopilot.configure();
    for (let i = 0; i < 10000; i++) autopilot.emit("JobRunStarted", { run_id: "r" + i });
    const headers = autopilot.kafkaHeaders();
    console.log(JSON.stringify({ same: resources() === before, listeners: process.listenerCount("beforeExit") - listeners,
      headers, stats: autopilot.stats() }));
  `, { AUTOPILOT_HEALTH_INTERVAL: "0.01" }); // an SdkHealth interval switches nothing on either
  assert.equal(run.code, 0, run.stderr);
  const result = JSON.parse(run.stdout) as { same: boolean; listeners: number; headers: object; stats: { enabled: boolean; queued: number } };
  assert.deepStrictEqual(result.same, true);
  assert.equal(result.listeners, 0);
  assert.deepStrictEqual(result.headers, {});
  assert.equal(result.stats.enabled, false);
  assert.equal(run.stderr, "");
});

test("the startup DeploymentEvent goes once per process: not per configure(), worker thread or module format", async () => {
  const good = await backend();
  const run = await runNode(
    `
    import { createRequire } from "node:module";
    import { Worker } from "node:worker_threads";
    import * as autopilot from "@rca/autopilot";
    autopilot.configure();
    autopilot.configure({ env: "again" });
    createRequire(import.meta.url)("@rca/autopilot").configure(); // the CommonJS build, side by side
    await new Promise((resolve) => new Worker(
      'import("@rca/autopilot").then((a) => { a.configure(); return a.flush(2); });',
      { eval: true }).on("exit", resolve));
    `,
    enabled(good.url, { AUTOPILOT_STARTUP_EVENT: "true", AUTOPILOT_VERSION: "v1.2.0", AUTOPILOT_COMMIT: "abc1234", AUTOPILOT_ENV: "prod" }),
  );
  assert.equal(run.code, 0, run.stderr);
  const deploys = good.events.filter((event) => event.type === "DeploymentEvent");
  assert.equal(deploys.length, 1, JSON.stringify(deploys));
  assert.deepStrictEqual(deploys[0]?.data, {
    service: "orders",
    version: "v1.2.0",
    source: "startup",
    env: "prod",
    commit: "abc1234",
    deploy_ref: "orders@v1.2.0+abc1234",
    status: "succeeded",
  });
});

test("the CommonJS build works on its own, and shares the trace store with the ESM build", async () => {
  const run = await runNode(
    `
    import { createRequire } from "node:module";
    import * as esm from "@rca/autopilot";
    const cjs = createRequire(import.meta.url)("@rca/autopilot");
    const context = cjs.startTrace();
    cjs.withTrace(context, () => console.log(esm.currentTraceparent() === context.traceparent));
    `,
  );
  assert.equal(run.stdout.trim(), "true", run.stderr);
  const plain = await runNode(`const a = require("@rca/autopilot"); console.log(typeof a.emit, a.emit("JobRunStarted", {}));`, {}, "commonjs");
  assert.equal(plain.stdout.trim(), "function false", plain.stderr);
});
