// `autopilot deploy-event`: deploy evidence from CI. `autopilot settings`: what the SDK would use.
//
//     npx autopilot deploy-event --service checkout-service --version v2.8.1 --commit 3f9c2ab --env prod
//
// The same flags and exit codes as the Python SDK's command (sdk/spec/CONTRACT.md, section 11): a deploy never
// fails because the evidence backend is down, so without --strict the command reports the problem and exits 0;
// with --strict it exits 1 when the event was not accepted. Usage errors exit 2.
import { parseArgs } from "node:util";
import { submit } from "./delivery.js";
import { ciDeploymentEvent, DEPLOY_STATUSES, type DeployStatus } from "./deploy.js";
import { encode } from "./envelope.js";
import { loadSettings, redacted } from "./settings.js";
import { HttpTransport, type Transport } from "./transport.js";

export const EXIT_OK = 0;
export const EXIT_NOT_DELIVERED = 1;
export const EXIT_USAGE = 2;

const USAGE = `usage: autopilot deploy-event --service NAME --version VERSION [--commit SHA] [--env ENV] [--domain DOMAIN]
                            [--status succeeded|failed|rolled_back] [--deploy-ref REF] [--id ID]
                            [--endpoint URL] [--token TOKEN] [--timeout SECONDS] [--strict] [--dry-run]
       autopilot settings

deploy-event   send a DeploymentEvent (source: ci) for the deploy this CI job just made; exits 0 when the
               backend is down or refuses unless --strict (then 1). Defaults come from AUTOPILOT_SERVICE,
               AUTOPILOT_COMMIT (else GITHUB_SHA), AUTOPILOT_ENV, AUTOPILOT_DOMAIN, AUTOPILOT_ENDPOINT and
               AUTOPILOT_TOKEN. The event id is deploy-<service>-<env>-<version>-<commit> (idempotent);
               --timeout is the total time to keep trying (default 15 s); --dry-run prints the event.
settings       print the settings AUTOPILOT_* resolve to (token hidden).`;

export interface Io {
  out(line: string): void;
  err(line: string): void;
}

const stdio: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

class UsageError extends Error {}

interface DeployArgs {
  service: string;
  version: string;
  commit: string | undefined;
  env: string | undefined;
  domain: string | undefined;
  status: DeployStatus;
  deployRef: string | undefined;
  id: string | undefined;
  endpoint: string | undefined;
  token: string | undefined;
  timeout: number;
  strict: boolean;
  dryRun: boolean;
}

/** Run the command; resolves to the exit code. */
export async function main(
  argv: readonly string[],
  options: { transport?: Transport; io?: Io; env?: NodeJS.ProcessEnv } = {},
): Promise<number> {
  const io = options.io ?? stdio;
  const env = options.env ?? process.env;
  const [command, ...rest] = argv;
  if (command === undefined || command === "-h" || command === "--help" || command === "help") {
    if (command !== undefined) {
      io.out(USAGE);
      return EXIT_OK;
    }
    io.err(USAGE);
    return EXIT_USAGE;
  }
  try {
    if (command === "settings") {
      if (rest.length > 0) throw new UsageError(`'settings' takes no arguments (got ${rest.join(" ")})`);
      io.out(JSON.stringify(redacted(loadSettings({}, env)), null, 2));
      return EXIT_OK;
    }
    if (command !== "deploy-event") throw new UsageError(`unknown command '${command}'; expected deploy-event or settings`);
    if (rest.includes("-h") || rest.includes("--help")) {
      io.out(USAGE);
      return EXIT_OK;
    }
    const args = parseDeployArgs(rest, env);
    const transport = options.transport ?? new HttpTransport({ holdProcess: true });
    try {
      return await deployEvent(args, transport, io);
    } finally {
      if (options.transport === undefined) transport.close?.();
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.err(`${USAGE}\nautopilot: error: ${error.message}`);
    return EXIT_USAGE;
  }
}

function parseDeployArgs(argv: readonly string[], env: NodeJS.ProcessEnv): DeployArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        service: { type: "string" },
        version: { type: "string" },
        commit: { type: "string" },
        env: { type: "string" },
        domain: { type: "string" },
        status: { type: "string" },
        "deploy-ref": { type: "string" },
        id: { type: "string" },
        endpoint: { type: "string" },
        token: { type: "string" },
        timeout: { type: "string" },
        strict: { type: "boolean" },
        "dry-run": { type: "boolean" },
      },
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const text = (name: string, fallback?: string): string | undefined => {
    const value = values[name];
    return typeof value === "string" ? value : fallback || undefined;
  };
  const service = text("service", env.AUTOPILOT_SERVICE);
  if (!service) throw new UsageError("the following argument is required: --service (or set AUTOPILOT_SERVICE)");
  const version = text("version");
  if (!version) throw new UsageError("the following argument is required: --version");
  const status = text("status") ?? "succeeded";
  if (!(DEPLOY_STATUSES as readonly string[]).includes(status)) {
    throw new UsageError(`--status: invalid choice '${status}' (choose from ${DEPLOY_STATUSES.join(", ")})`);
  }
  const rawTimeout = text("timeout");
  const timeout = rawTimeout === undefined ? 15 : Number(rawTimeout);
  if (!Number.isFinite(timeout) || timeout < 0) throw new UsageError(`--timeout: invalid number '${rawTimeout}'`);
  return {
    service,
    version,
    commit: text("commit", env.AUTOPILOT_COMMIT || env.GITHUB_SHA),
    env: text("env", env.AUTOPILOT_ENV),
    domain: text("domain", env.AUTOPILOT_DOMAIN),
    status: status as DeployStatus,
    deployRef: text("deploy-ref"),
    id: text("id"),
    endpoint: text("endpoint", env.AUTOPILOT_ENDPOINT),
    token: text("token", env.AUTOPILOT_TOKEN),
    timeout,
    strict: values.strict === true,
    dryRun: values["dry-run"] === true,
  };
}

async function deployEvent(args: DeployArgs, transport: Transport, io: Io): Promise<number> {
  const event = ciDeploymentEvent({
    service: args.service,
    version: args.version,
    commit: args.commit,
    env: args.env,
    domain: args.domain,
    status: args.status,
    deployRef: args.deployRef,
    id: args.id,
  });
  if (args.dryRun) {
    io.out(JSON.stringify(event, null, 2));
    return EXIT_OK;
  }
  if (!args.endpoint) return giveUp(args, io, "no endpoint (set AUTOPILOT_ENDPOINT or pass --endpoint); nothing sent");
  const endpoint = args.endpoint.replace(/\/+$/, "");
  const body = `[${encode(event)}]`;
  const deadline = performance.now() + args.timeout * 1000;
  let attempt = 0;
  let detail = "";
  for (;;) {
    const remaining = (deadline - performance.now()) / 1000;
    if (remaining <= 0) break;
    const result = await submit(transport, endpoint, args.token, body, 1, {
      connectTimeout: Math.min(2, remaining),
      timeout: Math.min(10, remaining),
    });
    if (result.outcome === "delivered" && result.rejected === 0) {
      io.out(`autopilot: DeploymentEvent ${event.id} delivered to ${args.endpoint}`);
      return EXIT_OK;
    }
    if (result.outcome !== "retry") {
      const why = result.rejections.join("; ") || result.detail;
      return giveUp(args, io, `the service rejected DeploymentEvent ${event.id}: ${why}`);
    }
    detail = result.detail;
    attempt += 1;
    const pause = Math.max(result.retryAfter ?? 0, Math.random() * Math.min(4, 0.5 * 2 ** attempt));
    const wait = Math.max(0, Math.min(pause, (deadline - performance.now()) / 1000));
    await new Promise((resolve) => setTimeout(resolve, wait * 1000));
  }
  return giveUp(args, io, `could not deliver DeploymentEvent ${event.id} within ${args.timeout}s (${detail})`);
}

function giveUp(args: DeployArgs, io: Io, message: string): number {
  if (args.strict) {
    io.err(`autopilot: error: ${message}`);
    return EXIT_NOT_DELIVERED;
  }
  io.err(`autopilot: warning: ${message}; continuing (pass --strict to fail the step)`);
  return EXIT_OK;
}
