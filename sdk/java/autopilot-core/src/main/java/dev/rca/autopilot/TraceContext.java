package dev.rca.autopilot;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * W3C Trace Context {@code traceparent}: continue an incoming trace, or start one at the edge (contract, section
 * 10; https://www.w3.org/TR/trace-context/#traceparent-header).
 *
 * <pre>{@code
 * try (TraceContext.Scope scope = TraceContext.continueFrom(request.getHeader("traceparent")).use()) {
 *     handle(request); // events and Kafka headers made on this thread carry its traceparent
 * }
 * }</pre>
 *
 * The trace in use is the one set on this thread with {@link #use()}, else the one an installed {@link Source}
 * (Micrometer Tracing, OpenTelemetry) reports.
 */
public record TraceContext(String traceId, String spanId, int flags) {
    private static final String ZERO_TRACE = "0".repeat(32);
    private static final String ZERO_SPAN = "0".repeat(16);
    private static final int SAMPLED = 0x01;
    private static final ThreadLocal<TraceContext> CURRENT = new ThreadLocal<>();
    private static volatile Source source;

    /** Where the trace in use comes from when none was set with {@link #use()}: a tracer's current span. */
    @FunctionalInterface
    public interface Source {
        /** The current span's traceparent, or null when there is none. Must be cheap and must not throw. */
        String currentTraceparent();
    }

    /** Restores the previous trace of this thread when closed. */
    public interface Scope extends AutoCloseable {
        @Override
        void close();
    }

    public boolean sampled() {
        return (flags & SAMPLED) != 0;
    }

    /** {@code 00-<trace id>-<span id>-<flags>}. */
    public String traceparent() {
        String hex = Integer.toHexString(flags & 0xff);
        return "00-" + traceId + "-" + spanId + "-" + (hex.length() == 1 ? "0" + hex : hex);
    }

    /** The context in a traceparent value, or null when the specification says to ignore it. */
    public static TraceContext parse(String value) {
        if (value == null) {
            return null;
        }
        value = value.strip();
        if (value.length() < 55 || value.charAt(2) != '-' || value.charAt(35) != '-' || value.charAt(52) != '-') {
            return null;
        }
        String version = value.substring(0, 2);
        String traceId = value.substring(3, 35);
        String spanId = value.substring(36, 52);
        String flags = value.substring(53, 55);
        if (!hex(version) || !hex(traceId) || !hex(spanId) || !hex(flags)) {
            return null;
        }
        if ("ff".equals(version) || ZERO_TRACE.equals(traceId) || ZERO_SPAN.equals(spanId)) {
            return null;
        }
        // Version 00 is exactly 55 characters; a later version may append fields after a '-', and a receiver that
        // knows only 00 reads the first four and ignores the rest (specification, section 4.3).
        if (value.length() != 55 && ("00".equals(version) || value.charAt(55) != '-')) {
            return null;
        }
        return new TraceContext(traceId, spanId, Integer.parseInt(flags, 16));
    }

    /** A new trace at the edge: random trace and span ids, sampled. */
    public static TraceContext start() {
        String traceId;
        do {
            traceId = randomHex(2);
        } while (ZERO_TRACE.equals(traceId));
        return new TraceContext(traceId, newSpanId(), SAMPLED);
    }

    /** Join the caller's trace with a new span id; start a new trace when the value is missing or invalid. */
    public static TraceContext continueFrom(String traceparent) {
        TraceContext parent = parse(traceparent);
        if (parent == null) {
            return start();
        }
        return new TraceContext(parent.traceId, newSpanId(), parent.flags & SAMPLED);
    }

    /**
     * {@link #continueFrom(String)} with the traceparent found in headers (any key case; values a String, bytes as
     * Kafka gives them, or a list of either, as HTTP frameworks give them).
     */
    public static TraceContext continueFromHeaders(Map<String, ?> headers) {
        String found = null;
        if (headers != null) {
            for (Map.Entry<String, ?> entry : headers.entrySet()) {
                if ("traceparent".equalsIgnoreCase(entry.getKey())) {
                    found = text(entry.getValue());
                    break;
                }
            }
        }
        return continueFrom(found);
    }

    /** Make this the trace in use on this thread until the scope is closed. */
    public Scope use() {
        TraceContext previous = CURRENT.get();
        CURRENT.set(this);
        return () -> {
            if (previous == null) {
                CURRENT.remove();
            } else {
                CURRENT.set(previous);
            }
        };
    }

    /** The trace set on this thread with {@link #use()}, or null. */
    public static TraceContext current() {
        return CURRENT.get();
    }

    /** The traceparent in use: this thread's, else the installed source's, else null. Never throws. */
    public static String currentTraceparent() {
        TraceContext context = CURRENT.get();
        if (context != null) {
            return context.traceparent();
        }
        Source installed = source;
        if (installed == null) {
            return null;
        }
        try {
            return installed.currentTraceparent();
        } catch (RuntimeException e) {
            return null;
        }
    }

    /** Install the source of the trace in use (the Spring Boot starter installs Micrometer's or OpenTelemetry's). */
    public static Source installSource(Source newSource) {
        Source previous = source;
        source = newSource;
        return previous;
    }

    private static String text(Object value) {
        if (value instanceof List && !((List<?>) value).isEmpty()) {
            value = ((List<?>) value).get(0);
        }
        if (value instanceof byte[]) {
            return new String((byte[]) value, StandardCharsets.US_ASCII);
        }
        return value == null ? null : value.toString();
    }

    private static String newSpanId() {
        String spanId;
        do {
            spanId = randomHex(1);
        } while (ZERO_SPAN.equals(spanId));
        return spanId;
    }

    private static String randomHex(int longs) {
        StringBuilder out = new StringBuilder(16 * longs);
        ThreadLocalRandom random = ThreadLocalRandom.current();
        for (int i = 0; i < longs; i++) {
            String part = Long.toHexString(random.nextLong());
            out.append("0".repeat(16 - part.length())).append(part);
        }
        return out.toString();
    }

    private static boolean hex(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (!(c >= '0' && c <= '9' || c >= 'a' && c <= 'f')) {
                return false;
            }
        }
        return true;
    }
}
