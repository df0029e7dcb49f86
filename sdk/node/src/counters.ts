// Every event handed to emit() ends as exactly one of: delivered, or dropped under one reason
// (sdk/spec/CONTRACT.md, section 7).

export const DROP_REASONS = Object.freeze(["queue_full", "timeout", "circuit_open", "killed", "rejected"] as const);

/**
 * - `queue_full`: emit() found the bounded queue full;
 * - `timeout`: retries exhausted, older than MAX_AGE, or undelivered at the shutdown deadline;
 * - `circuit_open`: its batch came due while the circuit breaker was open;
 * - `killed`: the control plane killed or disabled this producer;
 * - `rejected`: a 4xx, an item the service rejected, an unknown type, a missing required field, unencodable.
 */
export type DropReason = (typeof DROP_REASONS)[number];
export type SignalsDropped = Record<DropReason, number>;

export function zeroDrops(): SignalsDropped {
  return { queue_full: 0, timeout: 0, circuit_open: 0, killed: 0, rejected: 0 };
}

export class SignalCounters {
  private readonly dropped = zeroDrops();
  delivered = 0;

  drop(reason: DropReason, count = 1): void {
    this.dropped[reason] += count;
  }

  snapshot(): SignalsDropped {
    return { ...this.dropped };
  }

  /** Cumulative drops as `queue_full=0,timeout=2,...`, for the optional Autopilot-Signals-Dropped header. */
  headerValue(): string {
    return DROP_REASONS.map((reason) => `${reason}=${this.dropped[reason]}`).join(",");
  }
}
