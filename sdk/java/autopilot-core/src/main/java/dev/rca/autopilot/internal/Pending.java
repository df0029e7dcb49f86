package dev.rca.autopilot.internal;

import java.util.Map;

/**
 * What emit() captures on the caller's thread (contract, section 3): the instant, a shallow copy of the data, the
 * given attributes and the trace in use. Everything else (id, RFC 3339 time, JSON) is done by the worker.
 */
public final class Pending {
    final long enqueuedNanos;
    final long wallEpochNanos;
    final String type;
    final Map<String, Object> data;
    final String id;
    final Object time;
    final String subject;
    final String traceparent;
    final String source;
    final Map<String, Object> extensions;

    public Pending(long enqueuedNanos, long wallEpochNanos, String type, Map<String, Object> data, String id, Object time,
                   String subject, String traceparent, String source, Map<String, Object> extensions) {
        this.enqueuedNanos = enqueuedNanos;
        this.wallEpochNanos = wallEpochNanos;
        this.type = type;
        this.data = data;
        this.id = id;
        this.time = time;
        this.subject = subject;
        this.traceparent = traceparent;
        this.source = source;
        this.extensions = extensions;
    }
}
