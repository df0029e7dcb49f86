// DeploymentEvent, from a CI step (`autopilot deploy-event`) or, as a fallback, at process start
// (sdk/spec/CONTRACT.md, section 11).
import { buildEvent, type CloudEvent, type TimeLike } from "./envelope.js";
import type { Settings } from "./settings.js";

export type DeployStatus = "succeeded" | "failed" | "rolled_back";
export const DEPLOY_STATUSES: readonly DeployStatus[] = ["succeeded", "failed", "rolled_back"];

/** `service@version+commit`, the form the service correlates deploys by. */
export function deployRef(service: string, version: string, commit?: string): string {
  return commit ? `${service}@${version}+${commit}` : `${service}@${version}`;
}

/**
 * `deploy-{service}-{env}-{version}-{commit}`: deterministic, so re-running the CI step is idempotent. The env
 * is part of it: the same build deployed to staging and then to prod is two deploys, not one event sent twice.
 */
export function ciEventId(service: string, env: string | undefined, version: string, commit: string | undefined): string {
  return ["deploy", service, env || "-", version, commit || "-"].join("-").replace(/[^A-Za-z0-9._:@+-]+/g, "_");
}

export interface CiDeployment {
  service: string;
  version: string;
  commit?: string | undefined;
  env?: string | undefined;
  domain?: string | undefined;
  status?: DeployStatus | undefined;
  deployRef?: string | undefined;
  id?: string | undefined;
  time?: TimeLike | undefined;
}

/** The DeploymentEvent a CI step sends (`data.source: ci`). */
export function ciDeploymentEvent(deploy: CiDeployment): CloudEvent {
  const { service, version, commit, env, domain } = deploy;
  const data: Record<string, unknown> = { service };
  if (env) data.env = env;
  data.version = version;
  if (commit) data.commit = commit;
  data.deploy_ref = deploy.deployRef || deployRef(service, version, commit);
  data.status = deploy.status ?? "succeeded";
  data.source = "ci";
  if (domain) data.domain = domain;
  return buildEvent("DeploymentEvent", data, {
    source: `svc://${service}`,
    id: deploy.id || ciEventId(service, env, version, commit),
    time: deploy.time,
  });
}

/**
 * The data of the once-per-process fallback DeploymentEvent (`source: startup`). Without AUTOPILOT_VERSION the
 * version is "unknown": the event still records that this service (re)started now, a change worth correlating.
 */
export function startupDeployment(settings: Settings): Record<string, unknown> | undefined {
  if (!settings.service) return undefined;
  const version = settings.version || "unknown";
  const data: Record<string, unknown> = { service: settings.service, version, source: "startup" };
  if (settings.env) data.env = settings.env;
  if (settings.commit) data.commit = settings.commit;
  if (settings.version) data.deploy_ref = deployRef(settings.service, version, settings.commit);
  data.status = "succeeded";
  if (settings.domain) data.domain = settings.domain;
  return data;
}
