// The end-to-end story: examples/node-orders reproduces "Node producer with schema drift" against `rca serve` and
// the real broker (TYPE_MISMATCH(amount), the Node deploy v1.5.0 correlated, exact boundaries, cause identified).
// The story checks each of these itself and exits 0 only when all hold; this runs it as a user would.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { PACKAGE_ROOT } from "./helpers.js";

const ROOT = join(PACKAGE_ROOT, "..", "..");
const STORY = join(ROOT, "examples", "node-orders", "story.mjs");
const RCA = process.env.RCA_BIN ?? join(ROOT, ".venv", "bin", "rca");
const required = process.env.RCA_REQUIRE_KAFKA === "1";

function why(): string | false {
  if (!process.env.RCA_TEST_KAFKA_BOOTSTRAP) return "no broker: run under scripts/with-kafka";
  if (!existsSync(RCA)) return `no rca command at ${RCA}: make install`;
  if (!existsSync(join(ROOT, "examples", "node-orders", "node_modules", "kafkajs"))) return "examples/node-orders: npm ci first";
  return false;
}

const skip = why();
if (skip && required) throw new Error(`the story must run here (RCA_REQUIRE_KAFKA=1): ${skip}`);

test("node-orders reproduces 'Node producer with schema drift' end to end", { skip, timeout: 300_000 }, async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [STORY], { env: { ...process.env, RCA_BIN: RCA }, timeout: 280_000 }).catch(
    (error: unknown) => {
      const { stdout: out = "", stderr = "" } = error as { stdout?: string; stderr?: string };
      assert.fail(`the story failed:\n${out}\n${stderr || String(error)}`);
    },
  );
  assert.match(stdout, /story reproduced: Node producer with schema drift/);
  assert.doesNotMatch(stdout, /^FAIL/m);
  assert.match(stdout, /incident inc_[0-9a-f]+: TYPE_MISMATCH\(amount\) on ds:\/\/orders_node/);
  assert.match(stdout, /correlated deploy: node-orders v1\.5\.0/);
});
