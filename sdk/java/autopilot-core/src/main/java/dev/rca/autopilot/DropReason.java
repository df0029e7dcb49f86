package dev.rca.autopilot;

/** Why an event was given up on (contract, section 7). Every event emitted is delivered or dropped for one. */
public enum DropReason {
    /** emit() found the bounded queue full. */
    QUEUE_FULL("queue_full"),
    /** Retries exhausted, older than the maximum age, or still undelivered at the shutdown deadline. */
    TIMEOUT("timeout"),
    /** Its batch came due while the circuit breaker was open. */
    CIRCUIT_OPEN("circuit_open"),
    /** The control plane killed or disabled this producer. */
    KILLED("killed"),
    /** A 4xx, an item rejected in a 200, an unknown type, a missing required field, unencodable data. */
    REJECTED("rejected");

    private final String key;

    DropReason(String key) {
        this.key = key;
    }

    /** The counter key on the wire and in metrics: {@code queue_full}, {@code timeout}, ... */
    public String key() {
        return key;
    }
}
