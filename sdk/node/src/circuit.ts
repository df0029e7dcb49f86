// Circuit breaker on submission: stop knocking on a door that stays shut (sdk/spec/CONTRACT.md, section 6).
//   closed --(N consecutive failed attempts)--> open --(reset timeout)--> half_open
//   half_open --(probe succeeds)--> closed;  half_open --(probe fails)--> open (timeout doubled, capped at 8x)
// The clock (seconds, monotonic) is injected for tests.

export type CircuitState = "closed" | "open" | "half_open";

export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private openFor: number;
  private current: CircuitState = "closed";

  constructor(
    readonly failureThreshold: number,
    readonly resetTimeout: number,
    private readonly clock: () => number,
  ) {
    this.openFor = resetTimeout;
  }

  get state(): CircuitState {
    if (this.current === "open" && this.clock() - this.openedAt >= this.openFor) this.current = "half_open";
    return this.current;
  }

  /** Seconds until an open circuit lets its probe through (0 if it may now; Infinity when not open). */
  secondsUntilProbe(): number {
    if (this.current !== "open") return Number.POSITIVE_INFINITY;
    return Math.max(0, this.openedAt + this.openFor - this.clock());
  }

  /** May an attempt go out now? In half-open, the next batch is the single probe. */
  allow(): boolean {
    return this.state !== "open";
  }

  recordSuccess(): void {
    this.failures = 0;
    this.openFor = this.resetTimeout;
    this.current = "closed";
  }

  recordFailure(): void {
    if (this.state === "half_open") {
      // The probe failed: wait longer before the next one, so a long outage costs few probes.
      this.openFor = Math.min(this.openFor * 2, this.resetTimeout * 8);
      this.trip();
      return;
    }
    this.failures += 1;
    if (this.failures >= this.failureThreshold) this.trip();
  }

  private trip(): void {
    this.current = "open";
    this.openedAt = this.clock();
    this.failures = 0;
  }
}
