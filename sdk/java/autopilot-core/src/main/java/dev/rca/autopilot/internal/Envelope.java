package dev.rca.autopilot.internal;

import java.security.SecureRandom;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Collection;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Envelope v1: a CloudEvents 1.0 event in structured JSON mode (sdk/spec/envelope.schema.json, DESIGN.md).
 * https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md
 */
public final class Envelope {
    public static final String SPECVERSION = "1.0";
    public static final String BATCH_CONTENT_TYPE = "application/cloudevents-batch+json";

    /** The five types and the data fields each requires: the wire contract, exact spelling, no aliases. */
    public static final Map<String, List<String>> REQUIRED_DATA = Map.of(
            "DeploymentEvent", List.of("service", "version"),
            "JobRunStarted", List.of("run_id"),
            "JobRunCompleted", List.of("run_id"),
            "JobRunFailed", List.of("run_id"),
            "DatasetWriteCommitted", List.of("dataset_urn"),
            "SdkHealth", List.of("language", "sdk_version")); // the SDK's own (contract, section 15), sent by the worker
    public static final Set<String> EVENT_TYPES = REQUIRED_DATA.keySet();

    private static final DateTimeFormatter SECONDS = DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss");
    private static final DateTimeFormatter OFFSET = DateTimeFormatter.ofPattern("xxx");
    // Ids come from a generator seeded once from the OS (not SecureRandom per event): 128 random bits as hex. Each
    // thread draws from its own split of it (the worker makes nearly all), so no lock per event.
    private static final SplittableRandom IDS = new SplittableRandom(new SecureRandom().nextLong());
    private static final ThreadLocal<SplittableRandom> THREAD_IDS = ThreadLocal.withInitial(() -> {
        synchronized (IDS) {
            return IDS.split();
        }
    });
    // The fixed parts of write()'s JSON, encoded once.
    private static final byte[] HEAD = ascii("{\"specversion\":\"" + SPECVERSION
            + "\",\"datacontenttype\":\"application/json\",\"id\":");
    private static final byte[] TYPE = ascii(",\"type\":");
    private static final byte[] SOURCE = ascii(",\"source\":");
    private static final byte[] TIME = ascii(",\"time\":");
    private static final byte[] DATA = ascii(",\"data\":");
    private static final byte[] UTC = ascii("+00:00");

    private Envelope() {}

    /** 128 random bits as 32 hex digits, like a UUID4 without dashes. */
    public static String newEventId() {
        JsonOut out = new JsonOut(32);
        newEventId(out);
        return out.toString();
    }

    private static void newEventId(JsonOut out) {
        SplittableRandom ids = THREAD_IDS.get();
        out.hex16(ids.nextLong());
        out.hex16(ids.nextLong());
    }

    private static byte[] ascii(String text) {
        return text.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    }

    /** The attributes {@link #write} always writes; an extension may not replace them. */
    private static final Set<String> ALWAYS = Set.of("specversion", "datacontenttype", "id", "type", "source", "time",
            "data");

    /**
     * The JSON of {@link #build}'s map, written straight into {@code out} (the worker's path: no map, no id or time
     * string per event). {@code time} is an RFC 3339 string already formatted, or null for {@code wallEpochNanos}
     * (UTC). The same bytes as {@code Json.write(build(...))}; EnvelopeWriteTest holds it to that.
     */
    public static void write(JsonOut out, String type, Map<String, Object> data, String source, String id,
                             String time, long wallEpochNanos, String subject, String traceparent,
                             Map<String, Object> extensions) {
        out.raw(HEAD);
        if (id != null && !id.isEmpty()) {
            Json.string(out, id);
        } else {
            out.put('"');
            newEventId(out);
            out.put('"');
        }
        out.raw(TYPE);
        Json.write(out, type, 1);
        out.raw(SOURCE);
        Json.write(out, source, 1);
        out.raw(TIME);
        if (time != null) {
            Json.string(out, time);
        } else {
            out.put('"');
            utc(out, Math.floorDiv(wallEpochNanos, 1_000_000_000L), (int) Math.floorMod(wallEpochNanos, 1_000_000_000L));
            out.put('"');
        }
        out.raw(DATA);
        Json.write(out, data, 1);
        boolean withSubject = subject != null && !subject.isEmpty();
        if (withSubject) {
            out.ascii(",\"subject\":");
            Json.string(out, subject);
        }
        boolean withTrace = traceparent != null && !traceparent.isEmpty();
        if (withTrace) {
            out.ascii(",\"traceparent\":");
            Json.string(out, traceparent);
        }
        if (extensions != null) {
            for (Map.Entry<String, Object> entry : extensions.entrySet()) {
                String name = entry.getKey();
                if (ALWAYS.contains(name) || withSubject && "subject".equals(name)
                        || withTrace && "traceparent".equals(name)) {
                    continue; // as build's putIfAbsent: never replaces a core attribute
                }
                out.put(',');
                Json.string(out, String.valueOf(name));
                out.put(':');
                Json.write(out, entry.getValue(), 1);
            }
        }
        out.put('}');
    }

    /** One event as an ordered map, attributes in the order of sdk/spec/vectors. {@code data} is used as given. */
    public static Map<String, Object> build(String type, Map<String, Object> data, String source, String id,
                                            Object time, String subject, String traceparent,
                                            Map<String, Object> extensions) {
        Map<String, Object> event = new LinkedHashMap<>(16);
        event.put("specversion", SPECVERSION);
        event.put("datacontenttype", "application/json");
        event.put("id", id != null && !id.isEmpty() ? id : newEventId());
        event.put("type", type);
        event.put("source", source);
        event.put("time", formatTime(time));
        event.put("data", data);
        if (subject != null && !subject.isEmpty()) {
            event.put("subject", subject);
        }
        if (traceparent != null && !traceparent.isEmpty()) {
            event.put("traceparent", traceparent);
        }
        if (extensions != null) {
            // CloudEvents extension attributes sit beside the core ones; they may not replace them.
            extensions.forEach(event::putIfAbsent);
        }
        return event;
    }

    /**
     * RFC 3339 with an explicit offset, as CloudEvents {@code time} requires: {@code 2026-03-10T10:20:00+00:00},
     * microseconds when not zero. A string is trusted as already formatted; a local date-time gets the JVM's offset.
     */
    public static String formatTime(Object time) {
        if (time == null) {
            return format(OffsetDateTime.now(ZoneOffset.UTC));
        }
        if (time instanceof String) {
            return (String) time;
        }
        if (time instanceof Instant) {
            return formatUtc((Instant) time);
        }
        if (time instanceof OffsetDateTime) {
            return format((OffsetDateTime) time);
        }
        if (time instanceof ZonedDateTime) {
            return format(((ZonedDateTime) time).toOffsetDateTime());
        }
        if (time instanceof LocalDateTime) {
            return format(((LocalDateTime) time).atZone(ZoneId.systemDefault()).toOffsetDateTime());
        }
        if (time instanceof Date) {
            return format(((Date) time).toInstant().atOffset(ZoneOffset.UTC));
        }
        throw new IllegalArgumentException("time must be an Instant, an OffsetDateTime, a ZonedDateTime, a "
                + "LocalDateTime or an RFC 3339 string, not " + time.getClass().getName());
    }

    /** The last second formatted: events of a batch mostly share their second, and the formatter is the dear part. */
    private static final class CachedSecond {
        final long epochSecond;
        final byte[] prefix;

        CachedSecond(long epochSecond, String prefix) {
            this.epochSecond = epochSecond;
            this.prefix = ascii(prefix);
        }
    }

    private static volatile CachedSecond lastSecond = new CachedSecond(Long.MIN_VALUE, "");

    /** What format(instant.atOffset(UTC)) writes, with the seconds formatted once per second. */
    static String formatUtc(Instant instant) {
        JsonOut out = new JsonOut(40);
        utc(out, instant.getEpochSecond(), instant.getNano());
        return out.toString();
    }

    private static void utc(JsonOut out, long epochSecond, int nano) {
        CachedSecond cached = lastSecond;
        if (cached.epochSecond != epochSecond) {
            cached = new CachedSecond(epochSecond, SECONDS.format(Instant.ofEpochSecond(epochSecond).atOffset(ZoneOffset.UTC)));
            lastSecond = cached;
        }
        out.raw(cached.prefix);
        int micros = nano / 1000;
        if (micros != 0) {
            out.put('.').put((char) ('0' + micros / 100_000)).put((char) ('0' + micros / 10_000 % 10))
                    .put((char) ('0' + micros / 1_000 % 10)).put((char) ('0' + micros / 100 % 10))
                    .put((char) ('0' + micros / 10 % 10)).put((char) ('0' + micros % 10));
        }
        out.raw(UTC);
    }

    static String formatSlowly(OffsetDateTime time) { // for the test that holds formatUtc to it
        return format(time);
    }

    private static String format(OffsetDateTime time) {
        StringBuilder out = new StringBuilder(32).append(SECONDS.format(time));
        int micros = time.getNano() / 1000;
        if (micros != 0) {
            String digits = Integer.toString(micros);
            out.append('.').append("0".repeat(6 - digits.length())).append(digits);
        }
        return out.append(OFFSET.format(time)).toString();
    }

    /**
     * Why the service would certainly reject this event, in a sentence; null when it looks acceptable. Only the
     * checks that catch a producer's own mistakes early are repeated here; the service stays the judge.
     */
    public static String problem(Map<String, Object> event) {
        return problem(event.get("type"), event.get("source"), event.get("data"));
    }

    /** {@link #problem(Map)} for an event's type, source and data. */
    public static String problem(Object type, Object source, Object data) {
        List<String> required = type instanceof String ? REQUIRED_DATA.get(type) : null;
        if (required == null) {
            return "type '" + type + "' is not one of " + new java.util.TreeSet<>(EVENT_TYPES);
        }
        if (!(source instanceof String) || ((String) source).isEmpty()) {
            return "it has no source; set AUTOPILOT_SERVICE or AUTOPILOT_PRODUCER (autopilot.service), or pass source";
        }
        if (!(data instanceof Map)) {
            return "its data is not a map";
        }
        for (String field : required) {
            Object value = ((Map<?, ?>) data).get(field);
            if (value == null || value instanceof CharSequence && ((CharSequence) value).length() == 0
                    || value instanceof Collection && ((Collection<?>) value).isEmpty()) {
                return "data." + field + " is required for " + type;
            }
        }
        return null;
    }
}
