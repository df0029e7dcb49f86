/**
 * @rca/autopilot: rca's producer SDK for Node.js. Off unless AUTOPILOT_ENABLED=true; never blocks, never throws,
 * never keeps the process alive.
 *
 *     import * as autopilot from "@rca/autopilot";
 *
 *     autopilot.configure(); // reads AUTOPILOT_*; while disabled, nothing starts and emit() is a no-op
 *     autopilot.emit("JobRunStarted", { run_id: runId, code_ref: "orders@4f2a9c1" });
 *     await producer.send({ topic, messages: [{ value, headers: autopilot.kafkaHeaders() }] });
 *
 * The contract every language follows is sdk/spec/CONTRACT.md.
 */
export { Client, type ClientOptions, type ClientStats, type EmitOptions, type KafkaHeaders } from "./client.js";
export type { CircuitState } from "./circuit.js";
export type { ControlState } from "./control.js";
export { DROP_REASONS, type DropReason, type SignalsDropped } from "./counters.js";
export { ciDeploymentEvent, type CiDeployment, type DeployStatus } from "./deploy.js";
export { buildEvent, type CloudEvent, EVENT_TYPES, type EventAttributes, type EventType, type TimeLike } from "./envelope.js";
export type { Logger } from "./log.js";
export { loadSettings, type Settings, type SettingsInput } from "./settings.js";
export {
  continueTrace,
  currentTrace,
  currentTraceparent,
  type Incoming,
  parseTraceparent,
  startTrace,
  TraceContext,
  withTrace,
} from "./trace.js";
export type { HttpRequest, HttpResponse, Transport, TransportErrorKind } from "./transport.js";
export { TransportError } from "./transport.js";
export { VERSION } from "./version.js";
export {
  type ConfigureOptions,
  configure,
  emit,
  flush,
  getClient,
  kafkaHeaders,
  shutdown,
  signalsDropped,
  stats,
} from "./process-client.js";
