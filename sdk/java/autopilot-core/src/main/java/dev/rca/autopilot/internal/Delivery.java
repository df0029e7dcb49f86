package dev.rca.autopilot.internal;

import dev.rca.autopilot.Transport;
import dev.rca.autopilot.TransportException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One submission of a batch to {@code POST /v1/events}, and what its answer means for the events (contract,
 * sections 4 and 5). Retryable: no answer, 408, 429, 5xx. Any other 4xx or a 3xx: rejected, not retried. In a
 * 2xx, items the service reports as rejected are dropped the same way.
 */
public final class Delivery {
    public static final String VERSION = "0.1.0";
    public static final String USER_AGENT = "autopilot-java/" + VERSION;
    public static final String DROPS_HEADER = "Autopilot-Signals-Dropped";

    public enum Outcome { DELIVERED, RETRY, REJECTED }

    /** What one POST came to. */
    public static final class Submission {
        public final Outcome outcome;
        public final int delivered;
        public final int rejected;
        public final Double retryAfterSeconds;
        public final String detail;
        public final List<String> rejections;

        Submission(Outcome outcome, int delivered, int rejected, Double retryAfter, String detail, List<String> rejections) {
            this.outcome = outcome;
            this.delivered = delivered;
            this.rejected = rejected;
            this.retryAfterSeconds = retryAfter;
            this.detail = detail;
            this.rejections = rejections;
        }
    }

    private Delivery() {}

    public static Map<String, String> headers(String token, Map<String, String> extra) {
        Map<String, String> out = new LinkedHashMap<>();
        out.put("User-Agent", USER_AGENT);
        out.put("Accept", "application/json");
        if (token != null && !token.isEmpty()) {
            out.put("Authorization", "Bearer " + token);
        }
        if (extra != null) {
            out.putAll(extra);
        }
        return out;
    }

    /** POST one batch once; never throws. */
    public static Submission submit(Transport transport, String endpoint, String token, byte[] body, int count,
                                    Duration connectTimeout, Duration timeout, Map<String, String> extraHeaders) {
        Map<String, String> extra = new LinkedHashMap<>();
        extra.put("Content-Type", Envelope.BATCH_CONTENT_TYPE);
        if (extraHeaders != null) {
            extra.putAll(extraHeaders);
        }
        Transport.Request request = new Transport.Request("POST", endpoint + "/v1/events", headers(token, extra), body,
                connectTimeout, timeout);
        Transport.Response response;
        try {
            response = transport.send(request);
        } catch (TransportException e) {
            return new Submission(Outcome.RETRY, 0, 0, null, e.kind() + ": " + e.getMessage(), List.of());
        } catch (RuntimeException e) { // a user-supplied transport may throw anything; it must not reach the host
            return new Submission(Outcome.RETRY, 0, 0, null, "transport error: " + e, List.of());
        }
        int status = response.status();
        if (status >= 200 && status < 300) {
            return accepted(response.body(), count);
        }
        String snippet = snippet(response.body());
        if (status == 408 || status == 429 || status >= 500) {
            return new Submission(Outcome.RETRY, 0, 0, retryAfter(response.header("retry-after")),
                    "HTTP " + status + ": " + snippet, List.of());
        }
        return new Submission(Outcome.REJECTED, 0, count, null, "HTTP " + status + ": " + snippet, List.of());
    }

    private static Submission accepted(byte[] body, int count) {
        List<String> rejections = new ArrayList<>();
        try {
            Object answer = body == null || body.length == 0 ? null : Json.parse(new String(body, StandardCharsets.UTF_8));
            Object results = answer instanceof Map ? ((Map<?, ?>) answer).get("results") : null;
            if (results instanceof List) {
                for (Object item : (List<?>) results) {
                    if (item instanceof Map && "rejected".equals(((Map<?, ?>) item).get("status"))) {
                        Map<?, ?> entry = (Map<?, ?>) item;
                        rejections.add(entry.get("id") + ": " + or(entry.get("field"), "-") + ": "
                                + or(entry.get("error"), "rejected"));
                    }
                }
            }
        } catch (RuntimeException e) {
            // An answer we cannot read: the service took the batch, which is what a 2xx says.
        }
        int rejected = Math.min(rejections.size(), count);
        return new Submission(Outcome.DELIVERED, count - rejected, rejected, null, "", rejections);
    }

    private static Object or(Object value, String fallback) {
        return value == null ? fallback : value;
    }

    private static String snippet(byte[] body) {
        if (body == null) {
            return "";
        }
        return new String(body, 0, Math.min(body.length, 200), StandardCharsets.UTF_8);
    }

    private static Double retryAfter(String raw) {
        if (raw == null) {
            return null;
        }
        try {
            return Math.max(0.0, Double.parseDouble(raw.strip()));
        } catch (NumberFormatException e) {
            return null; // an HTTP-date; the exponential backoff is good enough
        }
    }
}
