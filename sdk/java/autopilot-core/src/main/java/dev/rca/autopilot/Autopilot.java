package dev.rca.autopilot;

import dev.rca.autopilot.internal.Envelope;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * rca's producer SDK for the JVM. Off unless {@code AUTOPILOT_ENABLED=true}; never blocks, never throws.
 *
 * <pre>{@code
 * Autopilot.emit("JobRunStarted", Map.of("run_id", runId, "code_ref", "orders@4f2a9c1"));
 * Autopilot.kafkaHeaders().forEach((name, value) -> record.headers().add(name, value)); // identity for the gate
 * Autopilot.signalsDropped(); // {queue_full=0, timeout=0, circuit_open=0, killed=0, rejected=0}
 * }</pre>
 *
 * The process-wide client is made from {@code AUTOPILOT_*} (and {@code -Dautopilot.*}) on first use, or installed
 * by {@link #configure(Settings)} or the Spring Boot starter. The contract every language follows is
 * sdk/spec/CONTRACT.md.
 */
public final class Autopilot {
    /** The envelope v1 types: DeploymentEvent, JobRunStarted, JobRunCompleted, JobRunFailed, DatasetWriteCommitted,
     * SdkHealth (the SDK's own self-telemetry). */
    public static final Set<String> EVENT_TYPES = Envelope.EVENT_TYPES;

    private static volatile AutopilotClient current;

    private Autopilot() {}

    /** The process-wide client, made from the environment on first use. */
    public static AutopilotClient client() {
        AutopilotClient client = current;
        if (client == null) {
            synchronized (Autopilot.class) {
                if (current == null) {
                    current = new AutopilotClient(Settings.fromEnvironment());
                }
                client = current;
            }
        }
        return client;
    }

    /** (Re)start the process-wide client from the environment. */
    public static AutopilotClient configure() {
        return configure(Settings.fromEnvironment());
    }

    /**
     * (Re)start the process-wide client with these settings, e.g.
     * {@code Autopilot.configure(Settings.builder().enabled(true).endpoint("https://rca.internal").service("checkout-service").build())}.
     * A previous client is shut down (bounded by its shutdown timeout).
     */
    public static AutopilotClient configure(Settings settings) {
        return install(new AutopilotClient(settings));
    }

    /** Make {@code client} the process-wide one (the Spring Boot starter installs its bean); the previous is shut down. */
    public static AutopilotClient install(AutopilotClient client) {
        AutopilotClient previous;
        synchronized (Autopilot.class) {
            previous = current;
            current = client;
        }
        if (previous != null && previous != client) {
            previous.close();
        }
        return client;
    }

    /** Forget {@code client} if it is the process-wide one (it is being closed elsewhere). */
    public static void uninstall(AutopilotClient client) {
        synchronized (Autopilot.class) {
            if (current == client) {
                current = null;
            }
        }
    }

    /** Queue one event; true if queued. See {@link AutopilotClient#emit(String, Map)}. */
    public static boolean emit(String type, Map<String, ?> data) {
        AutopilotClient client = current;
        return (client != null ? client : client()).emit(type, data);
    }

    /** Queue one event with attributes of its own. See {@link Event}. */
    public static boolean emit(Event event) {
        AutopilotClient client = current;
        return (client != null ? client : client()).emit(event);
    }

    /** Wait up to {@code timeout} for queued events to be delivered or dropped. */
    public static boolean flush(Duration timeout) {
        AutopilotClient client = current;
        return client == null || client.flush(timeout);
    }

    /** Deliver what is queued within {@code timeout}, then stop; later emits are no-ops. */
    public static boolean shutdown(Duration timeout) {
        AutopilotClient client = current;
        return client == null || client.shutdown(timeout);
    }

    /** Events given up on, by reason: queue_full, timeout, circuit_open, killed, rejected. */
    public static Map<String, Long> signalsDropped() {
        return client().signalsDropped();
    }

    public static Stats stats() {
        return client().stats();
    }

    /** {@code autopilot-producer}, {@code autopilot-env} and {@code traceparent} for a Kafka record; empty while off. */
    public static Map<String, byte[]> kafkaHeaders() {
        return client().kafkaHeaders();
    }

    /**
     * The envelope v1 event as the SDK sends it, as an ordered map (for tests, dry runs and the shared vectors):
     * the event's source, else {@code defaultSource}; its time, else now.
     */
    public static Map<String, Object> buildEvent(Event event, String defaultSource, Clock clock) {
        Map<String, Object> data = new LinkedHashMap<>(event.data());
        Map<String, Object> extensions = event.extensions().isEmpty() ? null : new LinkedHashMap<>(event.extensions());
        return Envelope.build(event.type(), data, event.source() != null ? event.source() : defaultSource, event.id(),
                event.time() != null ? event.time() : clock.instant(), event.subject(), event.traceparent(), extensions);
    }

    /** Why the service would certainly reject this event (unknown type, no source, a required field missing), or null. */
    public static String problem(Map<String, Object> event) {
        return Envelope.problem(event);
    }
}
