package dev.rca.autopilot;

/** A request that got no HTTP answer. {@link #kind()} is connect, timeout or io; all are retried. */
public final class TransportException extends Exception {
    private static final long serialVersionUID = 1L;
    private final String kind;

    public TransportException(String kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    public TransportException(String kind, String message) {
        this(kind, message, null);
    }

    public String kind() {
        return kind;
    }
}
