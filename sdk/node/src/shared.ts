// State that must be one per process even when the package is loaded twice: once through `import` (ESM build)
// and once through `require` (CommonJS build), the dual-package hazard. A trace entered by the CommonJS Express
// middleware must be the one the ESM emit() reads, and the startup DeploymentEvent goes out once per process.
import { AsyncLocalStorage } from "node:async_hooks";

/** What the trace store holds; TraceContext satisfies it, whichever copy of the package made it. */
export interface TraceLike {
  readonly traceparent: string;
}

/** The part of a Client the process-exit hook needs. */
export interface ExitHook {
  exitFlush(): Promise<unknown>;
}

interface ProcessState {
  readonly trace: AsyncLocalStorage<TraceLike>;
  startupSent: boolean;
  readonly clients: Set<ExitHook>;
  exitHookInstalled: boolean;
  defaultClient: unknown;
}

const KEY = Symbol.for("@rca/autopilot.process-state");
const holder = globalThis as unknown as Record<symbol, ProcessState | undefined>;

export const shared: ProcessState = (holder[KEY] ??= {
  trace: new AsyncLocalStorage<TraceLike>(),
  startupSent: false,
  clients: new Set<ExitHook>(),
  exitHookInstalled: false,
  defaultClient: undefined,
});
