// Settings: AUTOPILOT_* with the contract's names and defaults; a bad value is logged and replaced, never thrown.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Client, loadSettings } from "@rca/autopilot";
import { DEFAULTS } from "../src/settings.js";
import { MemoryLogger } from "./helpers.js";

test("the defaults are the contract's", () => {
  const settings = loadSettings({}, {});
  assert.deepStrictEqual(settings, DEFAULTS);
  assert.equal(settings.enabled, false);
  assert.equal(settings.queueSize, 2048);
  assert.equal(settings.batchSize, 512);
  assert.equal(settings.flushInterval, 1.0);
  assert.equal(settings.connectTimeout, 1.0);
  assert.equal(settings.timeout, 3.0);
  assert.equal(settings.maxRetries, 3);
  assert.equal(settings.backoffBase, 0.5);
  assert.equal(settings.backoffMax, 8.0);
  assert.equal(settings.maxAge, 300);
  assert.equal(settings.circuitFailures, 5);
  assert.equal(settings.circuitReset, 30);
  assert.equal(settings.controlPollInterval, 30);
  assert.equal(settings.shutdownTimeout, 2.0);
  assert.equal(settings.startupEvent, true);
  assert.equal(settings.exportDrops, false);
  assert.equal(settings.healthInterval, 0);
});

test("AUTOPILOT_* are read, and options override them", () => {
  const env = {
    AUTOPILOT_ENABLED: "yes",
    AUTOPILOT_ENDPOINT: "https://rca.internal/",
    AUTOPILOT_TOKEN: "t",
    AUTOPILOT_SERVICE: "checkout-service",
    AUTOPILOT_ENV: "prod",
    AUTOPILOT_QUEUE_SIZE: " 100 ",
    AUTOPILOT_FLUSH_INTERVAL: "0.25",
    AUTOPILOT_STARTUP_EVENT: "off",
    AUTOPILOT_HEALTH_INTERVAL: "60",
  };
  const settings = loadSettings({ env: "staging" }, env);
  assert.equal(settings.enabled, true);
  assert.equal(settings.endpoint, "https://rca.internal");
  assert.equal(settings.producer, "svc://checkout-service");
  assert.equal(settings.env, "staging");
  assert.equal(settings.queueSize, 100);
  assert.equal(settings.flushInterval, 0.25);
  assert.equal(settings.startupEvent, false);
  assert.equal(settings.healthInterval, 60);
  assert.equal(loadSettings({ healthInterval: 0.5 }, env).healthInterval, 0.5);
});

test("the producer URN and the service name are derived from each other", () => {
  assert.equal(loadSettings({ producer: "svc://orders" }, {}).service, "orders");
  assert.equal(loadSettings({ producer: "job://nightly" }, {}).service, undefined);
  const logger = new MemoryLogger();
  assert.equal(loadSettings({ producer: "orders" }, {}, logger).producer, "svc://orders");
  assert.match(logger.warnings[0] ?? "", /AUTOPILOT_PRODUCER="orders" has no scheme/);
});

test("a value that will not parse, or lies outside its bounds, is logged once with the default used", () => {
  const logger = new MemoryLogger();
  const settings = loadSettings(
    {},
    { AUTOPILOT_ENABLED: "maybe", AUTOPILOT_QUEUE_SIZE: "lots", AUTOPILOT_BATCH_SIZE: "0", AUTOPILOT_TIMEOUT: "NaN", AUTOPILOT_MAX_RETRIES: "2.5" },
    logger,
  );
  assert.equal(settings.enabled, false);
  assert.equal(settings.queueSize, 2048);
  assert.equal(settings.batchSize, 512);
  assert.equal(settings.timeout, 3);
  assert.equal(settings.maxRetries, 3);
  assert.deepStrictEqual(logger.warnings, [
    'autopilot: AUTOPILOT_ENABLED="maybe" is not a boolean (true/false); using false.',
    'autopilot: AUTOPILOT_QUEUE_SIZE="lots" is not an integer; using the default 2048.',
    'autopilot: AUTOPILOT_BATCH_SIZE="0" is outside [1, 10000]; using the default 512.',
    'autopilot: AUTOPILOT_TIMEOUT="NaN" is not a number; using the default 3.',
    'autopilot: AUTOPILOT_MAX_RETRIES="2.5" is not an integer; using the default 3.',
  ]);
});

test("an unknown option is logged and ignored, not thrown", () => {
  const logger = new MemoryLogger();
  const settings = loadSettings({ queue_size: 5 } as never, {}, logger);
  assert.equal(settings.queueSize, 2048);
  assert.match(logger.warnings[0] ?? "", /unknown setting 'queue_size' ignored/);
});

test("enabled without an endpoint stays off and says so once", () => {
  const logger = new MemoryLogger();
  const client = new Client({ enabled: true, service: "s" }, { environ: {}, logger });
  assert.equal(client.active, false);
  assert.equal(client.emit("JobRunStarted", { run_id: "r" }), false);
  assert.equal(logger.warnings.length, 1);
  assert.match(logger.warnings[0] ?? "", /AUTOPILOT_ENDPOINT is not set; staying off/);
});
