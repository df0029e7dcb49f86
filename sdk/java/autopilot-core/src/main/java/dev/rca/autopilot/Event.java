package dev.rca.autopilot;

import java.time.Instant;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZonedDateTime;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * One evidence event to emit, when more than a type and data are needed:
 *
 * <pre>{@code
 * Autopilot.emit(Event.of("JobRunFailed", data).id("run:nightly:42:0:failed").subject("nightly"));
 * }</pre>
 *
 * A builder: {@link Autopilot#emit(Event)} copies what it needs, so an instance may be reused. The id (the
 * idempotency key, resent unchanged on retries) is generated once unless given; the time defaults to the instant
 * of emit, the source to the producer URN, the traceparent to the trace in use.
 */
public final class Event {
    private final String type;
    private final Map<String, ?> data;
    private String id;
    private Object time;
    private String subject;
    private String traceparent;
    private String source;
    private Map<String, Object> extensions;

    private Event(String type, Map<String, ?> data) {
        this.type = type;
        this.data = data;
    }

    /** An event of one of the five envelope v1 types ({@link Autopilot#EVENT_TYPES}) with its data fields. */
    public static Event of(String type, Map<String, ?> data) {
        return new Event(type, data);
    }

    public Event id(String id) {
        this.id = id;
        return this;
    }

    public Event time(Instant time) {
        this.time = time;
        return this;
    }

    public Event time(OffsetDateTime time) {
        this.time = time;
        return this;
    }

    public Event time(ZonedDateTime time) {
        this.time = time;
        return this;
    }

    /** A local date-time is read in the JVM's time zone, and written with that zone's offset. */
    public Event time(LocalDateTime time) {
        this.time = time;
        return this;
    }

    /** An RFC 3339 timestamp with an offset, sent as given. */
    public Event time(String time) {
        this.time = time;
        return this;
    }

    public Event subject(String subject) {
        this.subject = subject;
        return this;
    }

    public Event traceparent(String traceparent) {
        this.traceparent = traceparent;
        return this;
    }

    public Event source(String source) {
        this.source = source;
        return this;
    }

    /** A CloudEvents extension attribute (lower-case a-z0-9 name); it never replaces a core attribute. */
    public Event extension(String name, Object value) {
        if (extensions == null) {
            extensions = new LinkedHashMap<>();
        }
        extensions.put(Objects.requireNonNull(name, "name"), value);
        return this;
    }

    public String type() {
        return type;
    }

    public Map<String, ?> data() {
        return data == null ? Collections.emptyMap() : data;
    }

    public String id() {
        return id;
    }

    public Object time() {
        return time;
    }

    public String subject() {
        return subject;
    }

    public String traceparent() {
        return traceparent;
    }

    public String source() {
        return source;
    }

    public Map<String, Object> extensions() {
        return extensions == null ? Collections.emptyMap() : extensions;
    }
}
