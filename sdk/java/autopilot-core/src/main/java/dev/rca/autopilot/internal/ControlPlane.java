package dev.rca.autopilot.internal;

import dev.rca.autopilot.ControlState;
import dev.rca.autopilot.Transport;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * The kill switch: {@code GET {endpoint}/v1/control/{producer}?env={env}}, polled by the worker (contract, section
 * 9). With the SDK's environment ({@code AUTOPILOT_ENV}) the service folds that environment's rollout flag into
 * {@code enabled}; a server that predates it ignores {@code env} and answers the producer switch. 404
 * means no entry (defaults); any failure to ask keeps the last known state, so an unreachable control plane
 * neither kills nor revives a producer.
 */
public final class ControlPlane {
    private final Transport transport;
    private final String url;
    private final String token;
    private final long intervalNanos;
    private final Duration connectTimeout;
    private final Duration timeout;
    private final LongSupplier nanoTime;
    private final ProblemLog problems;
    private volatile ControlState state;
    private String etag;
    private long nextPoll;

    public ControlPlane(Transport transport, String endpoint, String producer, String env, String token,
                        Duration interval, Duration connectTimeout, Duration timeout, LongSupplier nanoTime,
                        ProblemLog problems, ControlState initial) {
        this.transport = transport;
        this.url = controlUrl(endpoint, producer, env);
        this.token = token;
        this.intervalNanos = interval.toNanos();
        this.connectTimeout = connectTimeout;
        this.timeout = timeout;
        this.nanoTime = nanoTime;
        this.problems = problems;
        this.state = initial;
        this.nextPoll = nanoTime.getAsLong(); // ask before the first batch goes out
    }

    /**
     * The URN is one path segment, so its ':' and '/' are percent-encoded (RFC 3986, 3.3); the environment, when
     * there is one (null or empty: none), is the percent-encoded {@code env} query parameter.
     */
    public static String controlUrl(String endpoint, String producer, String env) {
        String url = endpoint + "/v1/control/" + percentEncoded(producer);
        return env == null || env.isEmpty() ? url : url + "?env=" + percentEncoded(env);
    }

    private static String percentEncoded(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8).replace("+", "%20");
    }

    public ControlState state() {
        return state;
    }

    public long nanosUntilDue() {
        return Math.max(0, nextPoll - nanoTime.getAsLong());
    }

    public ControlState pollIfDue() {
        long now = nanoTime.getAsLong();
        if (now - nextPoll >= 0) {
            nextPoll = now + intervalNanos;
            state = fetch();
        }
        return state;
    }

    private ControlState fetch() {
        Map<String, String> extra = etag == null ? null : Map.of("If-None-Match", etag);
        Transport.Request request = new Transport.Request("GET", url, Delivery.headers(token, extra), null,
                connectTimeout, timeout);
        Transport.Response response;
        try {
            response = transport.send(request);
        } catch (Exception e) {
            problems.report("control", "autopilot: control plane unreachable (%s); keeping the last state.", e.getMessage());
            return state;
        }
        int status = response.status();
        if (status == 304) {
            return state;
        }
        if (status == 404) {
            problems.clear("control", null);
            return ControlState.DEFAULT;
        }
        if (status != 200) {
            problems.report("control", "autopilot: control plane answered HTTP %d; keeping the last state.", status);
            return state;
        }
        ControlState next;
        try {
            Object answer = Json.parse(new String(response.body(), StandardCharsets.UTF_8));
            if (!(answer instanceof Map)) {
                throw new IllegalArgumentException("not an object");
            }
            Map<?, ?> map = (Map<?, ?>) answer;
            Object ring = map.get("ring");
            Object domain = map.get("domain");
            next = new ControlState(!Boolean.FALSE.equals(map.get("enabled")), Boolean.TRUE.equals(map.get("killed")),
                    ring instanceof Number ? ((Number) ring).intValue() : null,
                    domain instanceof String ? (String) domain : null, "control-plane");
        } catch (RuntimeException e) {
            problems.report("control", "autopilot: control plane answer is not JSON (%s); keeping the last state.",
                    e.getMessage());
            return state;
        }
        problems.clear("control", "autopilot: control plane reachable again.");
        etag = response.header("etag");
        return next;
    }
}
