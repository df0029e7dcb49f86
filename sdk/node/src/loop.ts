// The delivery loop: batches the queue, submits with retries and backoff, obeys the kill switch
// (sdk/spec/CONTRACT.md, sections 4 and 9). It is the Node form of the contract's "one daemon worker": one async
// loop per client on the host's event loop, never on the caller's path. Its timers are unref'd and its sockets
// too, so it never keeps the process alive; emit() only wakes it (through setImmediate, after pending I/O).
// Every event taken from the queue ends in exactly one place: delivered, or one drop reason.
import { CircuitBreaker } from "./circuit.js";
import { ControlPlane, type ControlState, isSending } from "./control.js";
import type { DropReason, SignalCounters } from "./counters.js";
import { DROPS_HEADER, submit } from "./delivery.js";
import { encodeEvent } from "./envelope.js";
import { type ProblemLog, safeLog } from "./log.js";
import type { EventQueue, QueuedEvent } from "./queue.js";
import type { Settings } from "./settings.js";
import type { Transport } from "./transport.js";

export interface LoopParts {
  readonly settings: Settings;
  readonly queue: EventQueue;
  readonly counters: SignalCounters;
  readonly transport: Transport;
  readonly problems: ProblemLog;
  /** Monotonic seconds. */
  readonly clock: () => number;
  readonly onControl: (state: ControlState) => void;
  /** The circuit opened (true) or lets a probe through again (false): emit() drops at once while it is open. */
  readonly onCircuit?: ((open: boolean) => void) | undefined;
  /** Queues one SdkHealth event (CONTRACT.md section 15); called by the loop every HEALTH_INTERVAL when above 0. */
  readonly reportHealth?: (() => void) | undefined;
  readonly initialControl: ControlState;
}

interface Sleeper {
  /** A retry's backoff: only stop() ends it early, never wake(). */
  readonly backoff: boolean;
  resolve: () => void;
  timer: NodeJS.Timeout;
}

export class DeliveryLoop {
  readonly circuit: CircuitBreaker;
  /** Set by shutdown(): nothing may outlive it (monotonic seconds). */
  deadline = Number.POSITIVE_INFINITY;
  sending: boolean;
  flushRequests = 0;
  /** Resolves when the loop has ended (after shutdown). */
  done: Promise<void> = Promise.resolve();
  private stopping = false;
  private busy = false;
  private readonly control: ControlPlane | undefined;
  private readonly abort = new AbortController();
  private sleeper: Sleeper | undefined;
  private wakePending = false;
  private idleWaiters: Array<() => void> = [];
  private circuitOpen = false; // as last told to onCircuit
  private nextHealth = Number.POSITIVE_INFINITY; // when the next SdkHealth is due (monotonic seconds)

  constructor(private readonly parts: LoopParts) {
    const { settings } = parts;
    this.circuit = new CircuitBreaker(settings.circuitFailures, settings.circuitReset, parts.clock);
    this.sending = isSending(parts.initialControl);
    if (settings.producer) {
      this.control = new ControlPlane(parts.transport, settings.endpoint ?? "", settings.producer, settings.token, {
        pollInterval: settings.controlPollInterval,
        connectTimeout: settings.connectTimeout,
        timeout: settings.timeout,
        env: settings.env,
        clock: parts.clock,
        problems: parts.problems,
      });
      this.control.state = parts.initialControl;
    }
  }

  start(): void {
    this.done = this.run().catch((error: unknown) => {
      // The loop must end quietly whatever happens; the host goes on.
      this.parts.problems.report("loop", `autopilot: the delivery loop stopped after an unexpected error: ${String(error)}`);
      this.drop("timeout", this.parts.queue.clear());
    });
  }

  /** Run a pass soon (a full batch is waiting, or a flush was asked for): after pending I/O, not in the caller's turn. */
  wake(): void {
    // A retry's backoff is not cut short: waking it would resend at once after every full batch, ignoring the
    // backoff and the service's Retry-After while it is down or shedding load. Only stop() ends a backoff.
    if (this.sleeper === undefined || this.sleeper.backoff || this.wakePending) return;
    this.wakePending = true;
    // Referenced on purpose: it runs in this turn's check phase and is gone, so it cannot hold the process, while
    // an unref'd immediate does not stop the poll phase from blocking: the loop would sleep on until its timer
    // (up to FLUSH_INTERVAL), and a flush() until then too.
    setImmediate(() => {
      this.wakePending = false;
      if (this.sleeper?.backoff === false) this.sleeper.resolve();
    });
  }

  /** Begin shutting down: one last attempt per queued batch, every request clipped to `deadline`. */
  stop(deadline: number): void {
    this.deadline = deadline;
    this.stopping = true;
    this.sleeper?.resolve();
  }

  /** Cut the request in flight short (the shutdown deadline passed). */
  cancel(): void {
    this.abort.abort();
  }

  get idle(): boolean {
    return this.parts.queue.length === 0 && !this.busy;
  }

  /** Resolves when everything queued so far is delivered or dropped. */
  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private notifyIdle(): void {
    if (!this.idle || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private async run(): Promise<void> {
    const { queue, settings, clock } = this.parts;
    let nextFlush = clock() + settings.flushInterval;
    // SdkHealth rides on this loop's own unref'd sleep: no timer of its own, nothing while disabled.
    if (settings.healthInterval > 0 && this.parts.reportHealth !== undefined) this.nextHealth = clock() + settings.healthInterval;
    for (;;) {
      await this.pollControl();
      this.reportCircuit();
      let stopping = this.stopping;
      if (!stopping && (queue.length === 0 || (this.flushRequests === 0 && queue.length < queue.batchSize))) {
        let wait = nextFlush - clock();
        if (this.control !== undefined) wait = Math.min(wait, this.control.secondsUntilDue());
        if (this.circuitOpen) wait = Math.min(wait, this.circuit.secondsUntilProbe()); // let emit() in again on time
        wait = Math.min(wait, this.nextHealth - clock());
        if (wait > 0) await this.sleep(wait);
        stopping = this.stopping;
        this.reportCircuit();
      }
      const now = clock();
      if (now >= this.nextHealth && !stopping) {
        this.health(now);
        nextFlush = now; // the health event goes out in this pass
      }
      // A timer flush sends what was queued when it fired, not what arrives while it sends: under a steady emitter
      // that would turn one flush into a stream of tiny batches, each a full HTTP exchange. flush() and shutdown()
      // drain everything, as they promise.
      let timed = now >= nextFlush ? queue.length : 0;
      for (;;) {
        const pending = queue.length;
        if (pending === 0) break;
        if (pending < queue.batchSize && timed <= 0 && !(stopping || this.flushRequests > 0)) break;
        this.busy = true;
        try {
          const taken = queue.take(queue.batchSize);
          timed -= taken.length;
          await this.process(taken, stopping);
        } finally {
          this.busy = false;
        }
        await this.pollControl();
      }
      if (now >= nextFlush) nextFlush = now + settings.flushInterval;
      this.notifyIdle();
      if (stopping) return;
    }
  }

  /** Queue the SdkHealth event that is due, unless killed: building it must never break the loop. */
  private health(now: number): void {
    this.nextHealth = now + this.parts.settings.healthInterval;
    if (!this.sending) return;
    try {
      this.parts.reportHealth?.();
    } catch (error) {
      this.parts.problems.report("health", `autopilot: could not build the SdkHealth event: ${String(error)}`);
    }
  }

  /** An unref'd wait, ended early by stop(), and by wake() unless it is a retry's backoff. */
  private sleep(seconds: number, backoff = false): Promise<void> {
    return new Promise((resolve) => {
      const sleeper: Sleeper = {
        backoff,
        resolve: () => {
          clearTimeout(sleeper.timer);
          if (this.sleeper === sleeper) this.sleeper = undefined;
          resolve();
        },
        timer: setTimeout(() => sleeper.resolve(), seconds * 1000).unref(),
      };
      this.sleeper = sleeper;
    });
  }

  private async pollControl(): Promise<void> {
    // While shutting down the last known state holds: no new request may outlive the deadline.
    if (this.control === undefined || this.stopping) return;
    const previous = this.control.state;
    const state = await this.control.pollIfDue(this.abort.signal);
    if (state === previous) return;
    const sending = isSending(state);
    if (sending !== this.sending) {
      this.sending = sending;
      safeLog(
        this.parts.problems.logger,
        "warn",
        `autopilot: the control plane ${sending ? "resumed" : "stopped"} this producer (enabled=${state.enabled}, killed=${state.killed}).`,
      );
    }
    this.parts.onControl(state);
  }

  /** Tell the client when the circuit opens and when it lets a probe through, so emit() stops or starts taking events. */
  private reportCircuit(): void {
    const open = this.circuit.state === "open";
    if (open === this.circuitOpen) return;
    this.circuitOpen = open;
    this.parts.onCircuit?.(open);
  }

  private drop(reason: DropReason, count: number): void {
    if (count > 0) this.parts.counters.drop(reason, count);
  }

  private async process(items: QueuedEvent[], stopping: boolean): Promise<void> {
    const { settings, clock } = this.parts;
    const now = clock();
    const fresh = items.filter((item) => now - item.enqueued <= settings.maxAge);
    this.drop("timeout", items.length - fresh.length);
    if (fresh.length === 0) return;
    if (!this.sending) {
      this.drop("killed", fresh.length);
      return;
    }
    if (stopping && now >= this.deadline) {
      this.drop("timeout", fresh.length);
      return;
    }
    // Before building anything: an open circuit must cost next to nothing.
    if (!this.circuit.allow()) {
      this.drop("circuit_open", fresh.length);
      return;
    }
    // The batch's JSON in one string, each event written straight from what emit() captured (encodeEvent): no
    // envelope objects, the constant parts encoded once. Events the service would reject are dropped here.
    let body = "[";
    let count = 0;
    for (const item of fresh) {
      const json = this.encodeItem(item);
      if (json === undefined) continue;
      body += count === 0 ? json : `,${json}`;
      count += 1;
    }
    if (count > 0) await this.send(`${body}]`, count, (fresh[0] as QueuedEvent).enqueued, stopping);
  }

  /** One event's JSON, built here (not in emit) from what emit() captured; undefined if unusable. */
  private encodeItem(item: QueuedEvent): string | undefined {
    let why: string;
    try {
      const trace = item.trace;
      const written = encodeEvent(item.type, item.data, {
        source: item.source || this.parts.settings.producer || "",
        id: item.id,
        time: item.time ?? item.wall,
        subject: item.subject,
        traceparent: typeof trace === "string" ? trace : trace?.traceparent,
        extensions: item.extensions,
      });
      if (typeof written === "string") return written;
      why = written.problem;
    } catch (error) {
      why = `it could not be encoded (${String(error)})`;
    }
    this.reject(item.type, why);
    return undefined;
  }

  private reject(type: string, why: string): void {
    this.parts.counters.drop("rejected");
    this.parts.problems.report("invalid", `autopilot: dropped a ${type} event: ${why}.`);
  }

  private async send(body: string, count: number, oldest: number, stopping: boolean): Promise<void> {
    const { settings, counters, problems, transport, clock } = this.parts;
    let attempt = 0;
    for (;;) {
      if (!this.circuit.allow()) {
        this.drop("circuit_open", count);
        return;
      }
      let { connectTimeout, timeout } = settings;
      if (stopping) {
        const remaining = this.deadline - clock();
        if (remaining <= 0) {
          this.drop("timeout", count);
          return;
        }
        connectTimeout = Math.min(connectTimeout, remaining);
        timeout = Math.min(timeout, remaining);
      }
      const result = await submit(transport, settings.endpoint ?? "", settings.token, body, count, {
        connectTimeout,
        timeout,
        signal: this.abort.signal,
        extraHeaders: settings.exportDrops ? { [DROPS_HEADER]: counters.headerValue() } : undefined,
      });
      if (result.outcome === "delivered") {
        this.circuit.recordSuccess();
        this.reportCircuit();
        counters.delivered += result.delivered;
        problems.clear("submit", "autopilot: delivering events again.");
        if (result.rejected > 0) {
          this.drop("rejected", result.rejected);
          problems.report(
            "rejected-items",
            `autopilot: the service rejected ${result.rejected} event(s): ${result.rejections.slice(0, 3).join("; ")}`,
          );
        }
        return;
      }
      if (result.outcome === "rejected") {
        this.circuit.recordSuccess(); // the service is up; resending will not change its mind
        this.reportCircuit();
        this.drop("rejected", count);
        problems.report(
          "rejected",
          `autopilot: the service refused a batch of ${count} event(s) (${result.detail}); check AUTOPILOT_ENDPOINT and AUTOPILOT_TOKEN.`,
        );
        return;
      }
      this.circuit.recordFailure();
      this.reportCircuit();
      problems.report("submit", `autopilot: cannot deliver events (${result.detail}); will retry.`);
      attempt += 1;
      const delay = this.backoff(attempt, result.retryAfter);
      if (attempt > settings.maxRetries || stopping || this.abort.signal.aborted || clock() + delay - oldest > settings.maxAge) {
        this.drop("timeout", count); return;
      }
      await this.sleep(delay, true);
      if (this.stopping) stopping = true; // shutdown cut the backoff short: one last try within its deadline
      await this.pollControl();
      if (!this.sending) {
        this.drop("killed", count);
        return;
      }
    }
  }

  /** Exponential backoff with full jitter, so a fleet that failed together does not retry together. */
  private backoff(attempt: number, retryAfter: number | undefined): number {
    const cap = this.parts.settings.backoffMax;
    let delay = Math.random() * Math.min(cap, this.parts.settings.backoffBase * 2 ** (attempt - 1));
    if (retryAfter !== undefined) delay = Math.max(delay, Math.min(retryAfter, cap));
    return delay;
  }
}
