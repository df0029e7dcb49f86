// Settings from AUTOPILOT_* environment variables and configure() options (sdk/spec/CONTRACT.md, section 2).
// A value that will not parse never throws: it is logged once, naming the variable and the default used,
// because a typo in a deployment manifest must not stop the host from starting.
import { type Logger, safeLog, stderrLogger } from "./log.js";

/** Everything the SDK reads at start-up. Durations are seconds, as in the contract (decimals allowed). */
export interface Settings {
  readonly enabled: boolean;
  readonly endpoint: string | undefined;
  readonly token: string | undefined;
  /** The producer URN and CloudEvents `source`: `svc://<service>` or `job://<job>`. */
  readonly producer: string | undefined;
  readonly service: string | undefined;
  readonly env: string | undefined;
  readonly domain: string | undefined;
  readonly version: string | undefined;
  readonly commit: string | undefined;
  readonly queueSize: number;
  readonly batchSize: number;
  readonly flushInterval: number;
  readonly connectTimeout: number;
  readonly timeout: number;
  readonly maxRetries: number;
  readonly backoffBase: number;
  readonly backoffMax: number;
  readonly maxAge: number;
  readonly circuitFailures: number;
  readonly circuitReset: number;
  readonly controlPollInterval: number;
  readonly shutdownTimeout: number;
  readonly startupEvent: boolean;
  readonly exportDrops: boolean;
  /** Seconds between SdkHealth events (CONTRACT.md section 15); 0, the default, sends none. */
  readonly healthInterval: number;
}

/** What configure() and `new Client()` take: any settings (overriding AUTOPILOT_*), as values or strings. */
export type SettingsInput = { readonly [K in keyof Settings]?: Settings[K] | string | null };

export const DEFAULTS: Settings = Object.freeze({
  enabled: false,
  endpoint: undefined,
  token: undefined,
  producer: undefined,
  service: undefined,
  env: undefined,
  domain: undefined,
  version: undefined,
  commit: undefined,
  queueSize: 2048,
  batchSize: 512,
  flushInterval: 1.0,
  connectTimeout: 1.0,
  timeout: 3.0,
  maxRetries: 3,
  backoffBase: 0.5,
  backoffMax: 8.0,
  maxAge: 300,
  circuitFailures: 5,
  circuitReset: 30,
  controlPollInterval: 30,
  shutdownTimeout: 2.0,
  startupEvent: true,
  exportDrops: false,
  healthInterval: 0,
});

type NumericKey = { [K in keyof Settings]: Settings[K] extends number ? K : never }[keyof Settings];
type BooleanKey = { [K in keyof Settings]: Settings[K] extends boolean ? K : never }[keyof Settings];
type TextKey = Exclude<keyof Settings, NumericKey | BooleanKey>;

// (setting, environment suffix, integer?, lower bound, upper bound). The bounds keep a bad value from turning
// the SDK into the thing that hurts the host: a queue of 10**9 events, a 0 s flush interval spinning.
const NUMERIC: ReadonlyArray<readonly [NumericKey, string, boolean, number, number]> = [
  ["queueSize", "QUEUE_SIZE", true, 1, 1_000_000],
  ["batchSize", "BATCH_SIZE", true, 1, 10_000],
  ["flushInterval", "FLUSH_INTERVAL", false, 0.01, 3600],
  ["connectTimeout", "CONNECT_TIMEOUT", false, 0.01, 60],
  ["timeout", "TIMEOUT", false, 0.01, 300],
  ["maxRetries", "MAX_RETRIES", true, 0, 100],
  ["backoffBase", "BACKOFF_BASE", false, 0, 60],
  ["backoffMax", "BACKOFF_MAX", false, 0, 3600],
  ["maxAge", "MAX_AGE", false, 0.1, 86_400],
  ["circuitFailures", "CIRCUIT_FAILURES", true, 1, 1000],
  ["circuitReset", "CIRCUIT_RESET", false, 0.01, 86_400],
  ["controlPollInterval", "CONTROL_POLL_INTERVAL", false, 0.01, 86_400],
  ["shutdownTimeout", "SHUTDOWN_TIMEOUT", false, 0, 300],
  ["healthInterval", "HEALTH_INTERVAL", false, 0, 86_400],
];
const BOOLEAN: ReadonlyArray<readonly [BooleanKey, string]> = [
  ["enabled", "ENABLED"],
  ["startupEvent", "STARTUP_EVENT"],
  ["exportDrops", "EXPORT_DROPS"],
];
const TEXT: ReadonlyArray<readonly [TextKey, string]> = [
  ["endpoint", "ENDPOINT"],
  ["token", "TOKEN"],
  ["producer", "PRODUCER"],
  ["service", "SERVICE"],
  ["env", "ENV"],
  ["domain", "DOMAIN"],
  ["version", "VERSION"],
  ["commit", "COMMIT"],
];
const KNOWN = new Set<string>(Object.keys(DEFAULTS));
const TRUE = new Set(["1", "true", "yes", "on"]);
const FALSE = new Set(["0", "false", "no", "off", ""]);

/**
 * The settings AUTOPILOT_* (from `env`, default `process.env`) resolve to, with `input` overriding them.
 * Never throws: a bad value is logged with the default used instead.
 */
export function loadSettings(
  input: SettingsInput = {},
  env: NodeJS.ProcessEnv = process.env,
  logger: Logger = stderrLogger,
): Settings {
  const warn = (message: string): void => safeLog(logger, "warn", `autopilot: ${message}`);
  for (const key of Object.keys(input)) {
    if (!KNOWN.has(key)) warn(`unknown setting '${key}' ignored; the settings are ${[...KNOWN].join(", ")}.`);
  }
  const values: Record<string, unknown> = {};
  const raw = (key: keyof Settings, suffix: string): unknown => {
    const given = input[key];
    return given !== undefined && given !== null ? given : env[`AUTOPILOT_${suffix}`];
  };
  for (const [key, suffix] of BOOLEAN) {
    const value = raw(key, suffix);
    values[key] = value === undefined ? DEFAULTS[key] : parseBoolean(`AUTOPILOT_${suffix}`, value, DEFAULTS[key], warn);
  }
  for (const [key, suffix, integer, low, high] of NUMERIC) {
    const value = raw(key, suffix);
    values[key] =
      value === undefined || (typeof value === "string" && value.trim() === "")
        ? DEFAULTS[key]
        : parseNumber(`AUTOPILOT_${suffix}`, value, integer, low, high, DEFAULTS[key], warn);
  }
  for (const [key, suffix] of TEXT) {
    const value = raw(key, suffix);
    const text = typeof value === "string" ? value : typeof value === "number" ? String(value) : undefined;
    values[key] = text?.trim() || undefined;
  }
  const identity = deriveIdentity(values.producer as string | undefined, values.service as string | undefined, warn);
  values.producer = identity.producer;
  values.service = identity.service;
  if (typeof values.endpoint === "string") values.endpoint = values.endpoint.replace(/\/+$/, "");
  return Object.freeze(values) as unknown as Settings;
}

/** The settings with the token hidden, for logs and `autopilot settings`. */
export function redacted(settings: Settings): Record<string, unknown> {
  return { ...settings, token: settings.token ? "***" : undefined };
}

function parseBoolean(name: string, value: unknown, fallback: boolean, warn: (m: string) => void): boolean {
  if (typeof value === "boolean") return value;
  const text = (typeof value === "string" ? value : JSON.stringify(value)).trim().toLowerCase();
  if (TRUE.has(text)) return true;
  if (FALSE.has(text)) return false;
  warn(`${name}=${JSON.stringify(value)} is not a boolean (true/false); using ${fallback}.`);
  return fallback;
}

function parseNumber(
  name: string,
  value: unknown,
  integer: boolean,
  low: number,
  high: number,
  fallback: number,
  warn: (m: string) => void,
): number {
  const parsed = typeof value === "number" ? value : typeof value === "string" ? Number(value.trim()) : Number.NaN;
  if (Number.isNaN(parsed) || (integer && !Number.isInteger(parsed))) {
    warn(`${name}=${JSON.stringify(value)} is not ${integer ? "an integer" : "a number"}; using the default ${fallback}.`);
    return fallback;
  }
  if (parsed < low || parsed > high) {
    warn(`${name}=${JSON.stringify(value)} is outside [${low}, ${high}]; using the default ${fallback}.`);
    return fallback;
  }
  return parsed;
}

/** The producer URN from the service name, or the service name from a svc:// URN. */
function deriveIdentity(
  producer: string | undefined,
  service: string | undefined,
  warn: (m: string) => void,
): { producer: string | undefined; service: string | undefined } {
  if (producer && !producer.includes("://")) {
    warn(`AUTOPILOT_PRODUCER=${JSON.stringify(producer)} has no scheme; using svc://${producer}.`);
    producer = `svc://${producer}`;
  }
  if (!producer && service) producer = `svc://${service}`;
  if (producer && !service && producer.startsWith("svc://")) service = producer.slice("svc://".length) || undefined;
  return { producer, service };
}
