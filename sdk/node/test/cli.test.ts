// `autopilot deploy-event` from CI, as the real command: idempotent, and a down backend never fails the deploy
// unless --strict. The same flags and exit codes as the Python SDK's command.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, test } from "node:test";
import { Backend, closedPortUrl, PACKAGE_ROOT, validateEvent } from "./helpers.js";

const ARGS = ["deploy-event", "--service", "checkout-service", "--version", "v2.8.1", "--commit", "3f9c2ab", "--env", "prod"];

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The package's bin in a child process: through `npx autopilot ...` as CI runs it, or directly (faster). */
function autopilot(args: string[], env: Record<string, string> = {}, viaNpx = false): Promise<Result> {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith("AUTOPILOT_") && key !== "GITHUB_SHA"),
  );
  return new Promise((resolve, reject) => {
    const [command, prefix] = viaNpx ? ["npx", ["--no-install", "autopilot"]] : [process.execPath, ["dist/esm/bin.js"]];
    const child = spawn(command, [...prefix, ...args], { cwd: PACKAGE_ROOT, env: { ...clean, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

const backends: Backend[] = [];
after(async () => Promise.all(backends.map((backend) => backend.close())));
async function backend(mode: "ok" | "500" | "401" = "ok"): Promise<Backend> {
  const started = await Backend.start(mode);
  backends.push(started);
  return started;
}

test("the deploy event is delivered, with the CI vector's shape", async () => {
  const good = await backend();
  const run = await autopilot([...ARGS, "--endpoint", good.url, "--token", "t", "--domain", "orders"], {}, true);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /DeploymentEvent deploy-checkout-service-prod-v2.8.1-3f9c2ab delivered/);
  const [event] = good.events;
  assert.ok(event);
  validateEvent(event);
  assert.equal(event.id, "deploy-checkout-service-prod-v2.8.1-3f9c2ab");
  assert.equal(event.source, "svc://checkout-service");
  assert.deepStrictEqual(event.data, {
    service: "checkout-service",
    env: "prod",
    version: "v2.8.1",
    commit: "3f9c2ab",
    deploy_ref: "checkout-service@v2.8.1+3f9c2ab",
    status: "succeeded",
    source: "ci",
    domain: "orders",
  });
  assert.equal(good.headers[0]?.authorization, "Bearer t");
});

test("re-running the step sends the same id; settings come from AUTOPILOT_*", async () => {
  const good = await backend();
  const env = { AUTOPILOT_ENDPOINT: good.url, AUTOPILOT_SERVICE: "checkout-service", GITHUB_SHA: "3f9c2ab" };
  assert.equal((await autopilot(["deploy-event", "--version", "v2.8.1", "--env", "prod"], env)).code, 0);
  assert.equal((await autopilot(["deploy-event", "--version", "v2.8.1", "--env", "prod"], env)).code, 0);
  assert.deepStrictEqual(
    good.events.map((event) => event.id),
    ["deploy-checkout-service-prod-v2.8.1-3f9c2ab", "deploy-checkout-service-prod-v2.8.1-3f9c2ab"],
  );
});

test("a down backend exits 0 unless --strict (then 1)", async () => {
  const down = await closedPortUrl();
  const lenient = await autopilot([...ARGS, "--endpoint", down, "--timeout", "0.5"]);
  assert.equal(lenient.code, 0);
  assert.match(lenient.stderr, /continuing \(pass --strict to fail the step\)/);
  assert.equal((await autopilot([...ARGS, "--endpoint", down, "--timeout", "0.5", "--strict"])).code, 1);
});

test("a 500 is retried within the timeout, then given up", async () => {
  const failing = await backend("500");
  assert.equal((await autopilot([...ARGS, "--endpoint", failing.url, "--timeout", "2.5"])).code, 0);
  assert.ok(failing.peers.length >= 2, "retried"); // the first pause is at most 1 s
  assert.equal((await autopilot([...ARGS, "--endpoint", failing.url, "--timeout", "1", "--strict"])).code, 1);
});

test("a rejection is reported, and not retried", async () => {
  const refusing = await backend("401");
  const run = await autopilot([...ARGS, "--endpoint", refusing.url]);
  assert.equal(run.code, 0);
  assert.match(run.stderr, /rejected DeploymentEvent/);
  assert.equal(refusing.peers.length, 1);
  assert.equal((await autopilot([...ARGS, "--endpoint", refusing.url, "--strict"])).code, 1);
});

test("no endpoint is not an error unless --strict", async () => {
  assert.equal((await autopilot(ARGS)).code, 0);
  assert.equal((await autopilot([...ARGS, "--strict"])).code, 1);
});

test("usage errors exit 2 and say what is wrong", async () => {
  for (const [args, says] of [
    [["deploy-event", "--version", "1"], /--service/],
    [["deploy-event", "--service", "s"], /--version/],
    [[...ARGS, "--status", "maybe"], /invalid choice 'maybe'/],
    [[...ARGS, "--timeout", "soon"], /--timeout/],
    [[...ARGS, "--bogus"], /bogus/],
    [["launch"], /unknown command 'launch'/],
    [[], /usage/],
  ] as const) {
    const run = await autopilot([...args]);
    assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
    assert.match(run.stderr, says);
  }
  const help = await autopilot(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /deploy-event/);
});

test("--dry-run prints the event; settings prints what AUTOPILOT_* resolve to, token hidden", async () => {
  const dry = await autopilot([...ARGS, "--dry-run"]);
  assert.equal(dry.code, 0);
  assert.equal((JSON.parse(dry.stdout) as { data: { deploy_ref: string } }).data.deploy_ref, "checkout-service@v2.8.1+3f9c2ab");
  const settings = await autopilot(["settings"], { AUTOPILOT_TOKEN: "secret", AUTOPILOT_SERVICE: "s", AUTOPILOT_QUEUE_SIZE: "7" });
  assert.equal(settings.code, 0);
  const shown = JSON.parse(settings.stdout) as Record<string, unknown>;
  assert.equal(shown.token, "***");
  assert.equal(shown.producer, "svc://s");
  assert.equal(shown.queueSize, 7);
});
