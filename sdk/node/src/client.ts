// The Client: emit() on the caller's path, one delivery loop behind it, flush/shutdown, the exit flush.
// Disabled (the default) means nothing is built: no queue, no loop, no timer, no socket, no listener; emit() is
// one property check and a return (sdk/spec/CONTRACT.md, section 1).
import { performance } from "node:perf_hooks";
import { isMainThread } from "node:worker_threads";
import type { CircuitState } from "./circuit.js";
import { type ControlState, DEFAULT_CONTROL, isSending } from "./control.js";
import { SignalCounters, type SignalsDropped, zeroDrops } from "./counters.js";
import { startupDeployment } from "./deploy.js";
import { type EventType, isEventType, type TimeLike } from "./envelope.js";
import { type Logger, ProblemLog, safeLog, stderrLogger } from "./log.js";
import { DeliveryLoop } from "./loop.js";
import { EventQueue, QueuedEvent } from "./queue.js";
import { randomHex } from "./random.js";
import { loadSettings, type Settings, type SettingsInput } from "./settings.js";
import { shared } from "./shared.js";
import { HttpTransport, type Transport } from "./transport.js";
import { VERSION } from "./version.js";

export interface ClientOptions {
  /** Where requests go; the default speaks HTTP(S) with node:http. Tests pass `FakeTransport`. */
  readonly transport?: Transport | undefined;
  /** console, pino, winston...: anything with warn/info/debug. Default: stderr, debug with NODE_DEBUG=autopilot. */
  readonly logger?: Logger | undefined;
  /** Where AUTOPILOT_* are read from (default process.env). Not `env`: that is the AUTOPILOT_ENV setting. */
  readonly environ?: NodeJS.ProcessEnv | undefined;
  /** Wall clock, ms since the epoch (default Date.now): the time of events emitted without one. */
  readonly now?: (() => number) | undefined;
  /** Monotonic clock, seconds (default performance.now() / 1000): ages, backoff, circuit, polls. */
  readonly monotonic?: (() => number) | undefined;
}

/** Attributes emit() may be given; by default id is generated, time is now, source is the producer URN. */
export interface EmitOptions {
  readonly subject?: string | undefined;
  /** The idempotency key; resent unchanged on retries. */
  readonly id?: string | undefined;
  readonly time?: TimeLike | undefined;
  /** Default: the trace in use (withTrace, or the Express/Fastify middleware). */
  readonly traceparent?: string | undefined;
  readonly source?: string | undefined;
  readonly extensions?: Readonly<Record<string, unknown>> | undefined;
}

export interface ClientStats {
  readonly enabled: boolean;
  readonly producer: string | undefined;
  readonly delivered: number;
  readonly queued: number;
  readonly signalsDropped: SignalsDropped;
  readonly circuit: CircuitState;
  readonly control: ControlState;
}

/** Kafka identity headers as header name to string value; Kafka clients write the values as UTF-8 bytes. */
export type KafkaHeaders = Record<string, string>;

const defaultMonotonic = (): number => performance.now() / 1000;

/** One producer's connection to the rca service. Most code uses the module functions instead. */
export class Client {
  readonly settings: Settings;
  /** Enabled with an endpoint: the only state in which anything runs. */
  readonly active: boolean;
  private isAccepting = false; // enabled, not killed, not shut down
  private taking = false; // accepting and the circuit not open: emit() reads only this on the hot path while off
  private killed = false;
  private circuitOpen = false;
  private closed = false;
  private controlState: ControlState = DEFAULT_CONTROL;
  private readonly monotonic: () => number;
  private readonly now: () => number;
  private readonly logger: Logger;
  private readonly queue: EventQueue | undefined;
  private readonly counters: SignalCounters | undefined;
  private readonly problems: ProblemLog | undefined;
  private readonly loop: DeliveryLoop | undefined;
  private readonly transport: Transport | undefined;
  /** Names this client in its SdkHealth events: the counters are per client. */
  private readonly instance: string | undefined;

  constructor(settings: SettingsInput = {}, options: ClientOptions = {}) {
    this.logger = options.logger ?? stderrLogger;
    this.settings = loadSettings(settings, options.environ ?? process.env, this.logger);
    this.monotonic = options.monotonic ?? defaultMonotonic;
    this.now = options.now ?? Date.now;
    const { enabled, endpoint, producer } = this.settings;
    this.active = enabled && Boolean(endpoint);
    if (enabled && !endpoint) {
      safeLog(this.logger, "warn", "autopilot: AUTOPILOT_ENABLED is true but AUTOPILOT_ENDPOINT is not set; staying off.");
    }
    if (!this.active) return;
    this.transport = options.transport ?? new HttpTransport();
    this.queue = new EventQueue(this.settings.queueSize, this.settings.batchSize);
    this.counters = new SignalCounters();
    this.instance = randomHex(8);
    this.problems = new ProblemLog(this.logger);
    this.loop = new DeliveryLoop({
      settings: this.settings,
      queue: this.queue,
      counters: this.counters,
      transport: this.transport,
      problems: this.problems,
      clock: this.monotonic,
      onControl: (state) => this.onControl(state),
      onCircuit: (open) => {
        this.circuitOpen = open;
        this.taking = this.isAccepting && !open;
      },
      reportHealth: () => this.reportHealth(),
      initialControl: this.controlState,
    });
    this.isAccepting = true;
    this.taking = true;
    installExitHook(this);
    safeLog(this.logger, "info", `autopilot: sending evidence as ${producer ?? "(no producer)"} to ${endpoint}.`);
    this.loop.start();
    this.sendStartupEvent();
  }

  /**
   * Queue one envelope v1 event; true if queued. Never blocks, never throws: a dropped event is counted.
   * `type` is one of EVENT_TYPES and `data` its fields (snake_case), shallow-copied now.
   */
  emit(type: EventType | (string & {}), data?: Readonly<Record<string, unknown>>, options?: EmitOptions): boolean {
    if (!this.taking && this.refused()) return false;
    const queue = this.queue as EventQueue;
    try {
      if (!isEventType(type)) {
        this.counters?.drop("rejected");
        this.problems?.report("type", `autopilot: ${JSON.stringify(type)} is not an envelope v1 type; dropped.`);
        return false;
      }
      if (queue.length >= queue.capacity) {
        this.counters?.drop("queue_full");
        return false;
      }
      // Only capture here; the envelope (id, RFC 3339 time, JSON) is built by the delivery loop.
      queue.push(
        new QueuedEvent(
          this.monotonic(),
          this.now(),
          type,
          data === undefined ? undefined : { ...data }, // a copy: the caller may reuse its object
          options?.subject,
          options?.id,
          options?.time,
          options?.traceparent ?? shared.trace.getStore(),
          options?.source,
          options?.extensions,
        ),
      );
      if (queue.length >= queue.batchSize) this.loop?.wake();
      return true;
    } catch (error) {
      this.counters?.drop("rejected");
      this.problems?.report("emit", `autopilot: emit() dropped an event it could not take: ${String(error)}`);
      return false;
    }
  }

  /**
   * emit() while not taking events: true if the event is refused. Disabled or shut down: nothing counted. Killed:
   * counted. The circuit open: counted, at the cost of a disabled SDK (no capture, nothing queued; its batch would
   * be dropped unsent anyway) until the probe is due; from then on events are taken again (the loop catches up).
   */
  private refused(): boolean {
    if (this.killed) {
      this.counters?.drop("killed");
      return true;
    }
    if (this.isAccepting && this.circuitOpen) {
      if ((this.loop as DeliveryLoop).circuit.secondsUntilProbe() <= 0) return false;
      this.counters?.drop("circuit_open");
      return true;
    }
    return true;
  }

  /** Whether Kafka records get identity headers and emit() takes events (unless the circuit is open): enabled, not killed, not shut down. */
  get accepting(): boolean {
    return this.isAccepting;
  }

  /** Wait until everything queued so far is delivered or dropped; false if `timeout` seconds ran out first. */
  async flush(timeout = 5): Promise<boolean> {
    const loop = this.loop;
    if (loop === undefined || loop.idle) return true;
    loop.flushRequests += 1;
    loop.wake();
    try {
      return await within(loop.whenIdle(), timeout);
    } finally {
      loop.flushRequests -= 1;
    }
  }

  /** Stop accepting, try to deliver what is queued within `timeout` seconds, stop the loop. Idempotent. */
  async shutdown(timeout = 5): Promise<boolean> {
    const loop = this.loop;
    if (loop === undefined || this.closed) return true;
    this.closed = true;
    this.isAccepting = false;
    this.taking = false;
    shared.clients.delete(this);
    loop.stop(this.monotonic() + Math.max(0, timeout));
    const finished = await within(loop.done, timeout);
    if (!finished) {
      loop.cancel(); // the request in flight is cut short; its events are counted as `timeout`
      await within(loop.done, 0.05);
    }
    this.transport?.close?.();
    return finished;
  }

  /** Events given up on, by reason (all five keys, zeros included). */
  signalsDropped(): SignalsDropped {
    return this.counters?.snapshot() ?? zeroDrops();
  }

  /** Counters and state for dashboards and debugging. */
  stats(): ClientStats {
    return {
      enabled: this.active,
      producer: this.settings.producer,
      delivered: this.counters?.delivered ?? 0,
      queued: this.queue?.length ?? 0,
      signalsDropped: this.signalsDropped(),
      circuit: this.loop?.circuit.state ?? "closed",
      control: this.controlState,
    };
  }

  /**
   * The identity headers for a Kafka record, in the contract's order: `autopilot-producer`, `autopilot-env`,
   * `autopilot-version` (the deploy version) and `traceparent` (the trace in use); empty while off or killed.
   */
  kafkaHeaders(traceparent?: string): KafkaHeaders {
    const { producer, env, version } = this.settings;
    if (!this.isAccepting || !producer) return {};
    const headers: KafkaHeaders = { "autopilot-producer": producer };
    if (env) headers["autopilot-env"] = env;
    if (version) headers["autopilot-version"] = version;
    const trace = traceparent ?? shared.trace.getStore()?.traceparent;
    if (trace) headers.traceparent = trace;
    return headers;
  }

  /** The process is about to exit (the event loop ran dry): deliver what is queued within SHUTDOWN_TIMEOUT. */
  exitFlush(): Promise<boolean> {
    return this.shutdown(this.settings.shutdownTimeout);
  }

  private onControl(state: ControlState): void {
    this.controlState = state;
    this.killed = !isSending(state);
    this.isAccepting = isSending(state) && !this.closed;
    this.taking = this.isAccepting && !this.circuitOpen;
  }

  /**
   * Queue one SdkHealth event (CONTRACT.md section 15): this client's counters since it started, its queue and its
   * circuit. Called by the delivery loop only; an ordinary event from then on (a full queue drops it as queue_full).
   */
  private reportHealth(): void {
    const queue = this.queue as EventQueue;
    const counters = this.counters as SignalCounters;
    if (!this.isAccepting) return; // not while killed or shutting down
    const { env, healthInterval, queueSize } = this.settings;
    const data: Record<string, unknown> = {
      language: "node",
      sdk_version: VERSION,
      instance: this.instance,
      interval_s: healthInterval,
      delivered: counters.delivered,
      dropped: counters.snapshot(),
      queue_depth: queue.length,
      queue_capacity: queueSize,
      circuit: (this.loop as DeliveryLoop).circuit.state,
    };
    if (env) data.env = env;
    const now = this.monotonic();
    const event = new QueuedEvent(now, this.now(), "SdkHealth", data, undefined, undefined, undefined, undefined,
      undefined, undefined);
    if (!queue.push(event)) counters.drop("queue_full");
  }

  private sendStartupEvent(): void {
    const { startupEvent, producer } = this.settings;
    // Once per process: not per client, not per configure(), not per worker thread.
    if (!startupEvent || !producer?.startsWith("svc://") || !isMainThread || shared.startupSent) return;
    shared.startupSent = true;
    const data = startupDeployment(this.settings);
    if (data !== undefined) this.emit("DeploymentEvent", data);
  }
}

/**
 * Resolves true when `work` settles within `seconds`, else false. The timer is referenced on purpose: a caller
 * awaiting flush() or shutdown() (or the exit flush) asked to wait, so the process waits, at most that long.
 */
function within(work: Promise<unknown>, seconds: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), Math.max(0, seconds) * 1000);
    work.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(true);
      },
    );
  });
}

function installExitHook(client: Client): void {
  shared.clients.add(client);
  if (shared.exitHookInstalled) return;
  shared.exitHookInstalled = true;
  // 'beforeExit' comes when the event loop has nothing left to do; everything of ours is unref'd, so it comes as
  // if the SDK were not there. It does not come on process.exit() or a fatal signal: call shutdown() there.
  process.on("beforeExit", () => {
    for (const each of [...shared.clients]) {
      each.exitFlush().catch(() => undefined);
    }
  });
}
