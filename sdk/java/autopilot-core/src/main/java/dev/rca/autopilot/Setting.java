package dev.rca.autopilot;

import java.util.Locale;

/**
 * Every setting of sdk/spec/CONTRACT.md, section 2: its environment variable ({@code AUTOPILOT_QUEUE_SIZE}),
 * its property ({@code autopilot.queue-size}, as a JVM system property or a Spring property), its default and
 * its bounds. Durations are seconds, decimals allowed.
 */
public enum Setting {
    ENABLED(Kind.BOOLEAN, "false", 0, 0, "nothing runs unless true"),
    ENDPOINT(Kind.TEXT, null, 0, 0, "base URL of the rca service, e.g. https://rca.internal"),
    TOKEN(Kind.TEXT, null, 0, 0, "producer token, sent as Authorization: Bearer <token>"),
    SERVICE(Kind.TEXT, null, 0, 0, "service name; the producer becomes svc://<service>"),
    PRODUCER(Kind.TEXT, null, 0, 0, "the producer URN (svc://..., job://...), the events' source"),
    ENV(Kind.TEXT, null, 0, 0, "prod, staging, ...: the autopilot-env Kafka header, deploy events"),
    DOMAIN(Kind.TEXT, null, 0, 0, "data domain, carried on deploy events"),
    VERSION(Kind.TEXT, null, 0, 0, "the version named by the startup deploy event"),
    COMMIT(Kind.TEXT, null, 0, 0, "the commit named by the startup deploy event"),
    QUEUE_SIZE(Kind.INTEGER, "2048", 1, 1_000_000, "events held while waiting; beyond it, queue_full drops"),
    BATCH_SIZE(Kind.INTEGER, "512", 1, 10_000, "events per POST"),
    FLUSH_INTERVAL(Kind.SECONDS, "1.0", 0.01, 3600, "longest a partial batch waits, seconds"),
    CONNECT_TIMEOUT(Kind.SECONDS, "1.0", 0.01, 60, "TCP (+TLS) connect timeout, seconds"),
    TIMEOUT(Kind.SECONDS, "3.0", 0.01, 300, "total per request, connect to last byte, seconds"),
    MAX_RETRIES(Kind.INTEGER, "3", 0, 100, "retries of 408/429/5xx/network failures after the first attempt"),
    BACKOFF_BASE(Kind.SECONDS, "0.5", 0, 60, "first retry waits up to this, seconds (full jitter)"),
    BACKOFF_MAX(Kind.SECONDS, "8.0", 0, 3600, "no retry waits longer than this, seconds"),
    MAX_AGE(Kind.SECONDS, "300", 0.1, 86_400, "an event older than this (since emit) is dropped, seconds"),
    CIRCUIT_FAILURES(Kind.INTEGER, "5", 1, 1000, "consecutive failed attempts that open the circuit"),
    CIRCUIT_RESET(Kind.SECONDS, "30", 0.01, 86_400, "open time before the first half-open probe, seconds"),
    CONTROL_POLL_INTERVAL(Kind.SECONDS, "30", 0.01, 86_400, "kill-switch poll period, seconds"),
    SHUTDOWN_TIMEOUT(Kind.SECONDS, "2.0", 0, 300, "the most JVM exit waits for delivery, seconds"),
    STARTUP_EVENT(Kind.BOOLEAN, "true", 0, 0, "send one DeploymentEvent (source: startup) per process"),
    EXPORT_DROPS(Kind.BOOLEAN, "false", 0, 0, "send drop counters in an Autopilot-Signals-Dropped header"),
    HEALTH_INTERVAL(Kind.SECONDS, "0", 0, 86_400, "seconds between SdkHealth self-telemetry events; 0 sends none");

    /** How a setting's text is read. */
    public enum Kind { BOOLEAN, TEXT, INTEGER, SECONDS }

    private final Kind kind;
    private final String defaultValue;
    private final double low;
    private final double high;
    private final String description;

    Setting(Kind kind, String defaultValue, double low, double high, String description) {
        this.kind = kind;
        this.defaultValue = defaultValue;
        this.low = low;
        this.high = high;
        this.description = description;
    }

    /** {@code AUTOPILOT_QUEUE_SIZE}. */
    public String environmentVariable() {
        return "AUTOPILOT_" + name();
    }

    /** {@code autopilot.queue-size}: the JVM system property and the Spring Boot property. */
    public String property() {
        return "autopilot." + name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    public Kind kind() {
        return kind;
    }

    /** The contract's default as text, or null when there is none. */
    public String defaultValue() {
        return defaultValue;
    }

    public double low() {
        return low;
    }

    public double high() {
        return high;
    }

    public String description() {
        return description;
    }
}
