package dev.rca.autopilot.testing;

import dev.rca.autopilot.Transport;
import dev.rca.autopilot.TransportException;
import dev.rca.autopilot.internal.Json;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A transport that answers like the rca service, for testing code that uses the SDK:
 *
 * <pre>{@code
 * FakeTransport fake = new FakeTransport();
 * AutopilotClient client = AutopilotClient.builder(settings).transport(fake).build();
 * client.emit("DeploymentEvent", Map.of("service", "checkout", "version", "1.2.3"));
 * client.flush(Duration.ofSeconds(1));
 * assertThat(fake.events()).last().extracting(e -> ((Map<?, ?>) e.get("data")).get("version")).isEqualTo("1.2.3");
 * fake.setControl(true, false); // killed
 * }</pre>
 *
 * Every event is accepted (a repeated id is a duplicate); control answers 404 until {@link #setControl} is called,
 * and {@link #setEnvironmentFlag} sets the rollout's flag per environment.
 * {@link #FakeTransport(Handler)} scripts any answer.
 */
public final class FakeTransport implements Transport {
    /** Answers one request in place of the service. */
    @FunctionalInterface
    public interface Handler {
        Response handle(Request request) throws TransportException;
    }

    private final Handler handler;
    private final List<Map<String, Object>> events = new ArrayList<>();
    private final List<Request> requests = new ArrayList<>();
    private final java.util.Set<String> seen = new java.util.HashSet<>();
    private Map<String, Object> control;
    private final Map<String, Boolean> environments = new HashMap<>();

    public FakeTransport() {
        this.handler = null;
    }

    public FakeTransport(Handler handler) {
        this.handler = handler;
    }

    /**
     * Set the producer's rollout flag in one environment, as a ring's promotion does: a control request naming its
     * {@code env} is then enabled only where the flag is on (an environment never set is off), like the service.
     * Requests without {@code env} keep getting the {@link #setControl} switch.
     */
    public synchronized void setEnvironmentFlag(String env, boolean on) {
        environments.put(env, on);
    }

    /** Answer the control plane with this entry from now on (killed or disabled producers stop sending). */
    public synchronized void setControl(boolean enabled, boolean killed) {
        control = new LinkedHashMap<>();
        control.put("enabled", enabled);
        control.put("killed", killed);
        control.put("ring", 0);
        control.put("domain", null);
    }

    /** Every event the service received, in order, as parsed JSON. */
    public synchronized List<Map<String, Object>> events() {
        return List.copyOf(events);
    }

    /** Every request made, in order. */
    public synchronized List<Request> requests() {
        return List.copyOf(requests);
    }

    private static String queryParameter(String query, String name) {
        for (String pair : query.split("&")) {
            String[] kv = pair.split("=", 2);
            if (URLDecoder.decode(kv[0], StandardCharsets.UTF_8).equals(name)) {
                return kv.length > 1 ? URLDecoder.decode(kv[1], StandardCharsets.UTF_8) : "";
            }
        }
        return null;
    }

    @Override
    @SuppressWarnings("unchecked")
    public Response send(Request request) throws TransportException {
        synchronized (this) {
            requests.add(request);
        }
        if (handler != null) {
            return handler.handle(request);
        }
        String path = request.url().replaceFirst("^https?://[^/]+", "");
        synchronized (this) {
            if ("GET".equals(request.method()) && path.startsWith("/v1/control/")) {
                if (control == null) {
                    return json(404, Map.of("detail", "no entry"));
                }
                String[] pathAndQuery = path.split("\\?", 2);
                Map<String, Object> answer = new LinkedHashMap<>(control);
                answer.put("producer", URLDecoder.decode(pathAndQuery[0].substring("/v1/control/".length()),
                        StandardCharsets.UTF_8));
                String env = pathAndQuery.length > 1 ? queryParameter(pathAndQuery[1], "env") : null;
                if (env != null && !environments.isEmpty()) {
                    answer.put("enabled", Boolean.TRUE.equals(control.get("enabled"))
                            && environments.getOrDefault(env, false));
                }
                return json(200, answer);
            }
            if ("POST".equals(request.method()) && path.equals("/v1/events")) {
                List<Object> batch = (List<Object>) Json.parse(new String(request.body(), StandardCharsets.UTF_8));
                List<Object> results = new ArrayList<>();
                int accepted = 0;
                int duplicate = 0;
                for (Object item : batch) {
                    Map<String, Object> event = (Map<String, Object>) item;
                    events.add(event);
                    boolean fresh = seen.add(event.get("source") + "\u0000" + event.get("id"));
                    accepted += fresh ? 1 : 0;
                    duplicate += fresh ? 0 : 1;
                    Map<String, Object> result = new LinkedHashMap<>();
                    result.put("id", event.get("id"));
                    result.put("source", event.get("source"));
                    result.put("status", fresh ? "accepted" : "duplicate");
                    results.add(result);
                }
                Map<String, Object> answer = new LinkedHashMap<>();
                answer.put("accepted", accepted);
                answer.put("duplicate", duplicate);
                answer.put("rejected", 0);
                answer.put("results", results);
                return json(200, answer);
            }
        }
        return json(404, Map.of("detail", "not found"));
    }

    private static Response json(int status, Object body) {
        Map<String, String> headers = new HashMap<>();
        headers.put("content-type", "application/json");
        return new Response(status, headers, Json.write(body).getBytes(StandardCharsets.UTF_8));
    }
}
