package dev.rca.autopilot;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.rca.autopilot.internal.Delivery;
import dev.rca.autopilot.testing.FakeTransport;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * SdkHealth (sdk/spec/CONTRACT.md, section 15): off by default; when on, the worker queues a periodic event with the
 * client's counters by reason, its queue and its circuit, valid against the schema; never while killed; dropped with
 * its batch while the circuit is open. Most tests drive the worker's monotonic clock by hand.
 */
class HealthTest extends Fixtures {
    volatile long now; // the worker's clock (nanoseconds): an SdkHealth or a timer flush is due only when it moves
    private final List<AutopilotClient> mine = new ArrayList<>();

    @AfterEach
    void closeMine() {
        mine.forEach(client -> client.shutdown(Duration.ofMillis(200)));
    }

    private AutopilotClient onTheTestsClock(Transport transport, Consumer<Settings.Builder> tweak) {
        Settings.Builder settings = fast("http://rca.test").healthInterval(Duration.ofMillis(50));
        tweak.accept(settings);
        AutopilotClient client = AutopilotClient.builder(settings.build()).transport(transport).nanoTime(() -> now).build();
        mine.add(client);
        return client;
    }

    private static final long SECOND = 1_000_000_000L;

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> health(FakeTransport fake) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Map<String, Object> event : fake.events()) {
            if ("SdkHealth".equals(event.get("type"))) {
                out.add((Map<String, Object>) event.get("data"));
            }
        }
        return out;
    }

    private static Map<String, Object> drops(long queueFull, long timeout, long circuitOpen) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("queue_full", queueFull);
        out.put("timeout", timeout);
        out.put("circuit_open", circuitOpen);
        out.put("killed", 0L);
        out.put("rejected", 0L);
        return out;
    }

    private static int emit(AutopilotClient client, int n, String tag) {
        int queued = 0;
        for (int i = 0; i < n; i++) {
            queued += client.emit("JobRunStarted", Map.of("run_id", tag + i)) ? 1 : 0;
        }
        return queued;
    }

    @Test
    void noSdkHealthUnlessAnIntervalIsSet() {
        FakeTransport fake = new FakeTransport();
        AutopilotClient client = client(fast("http://rca.test"), fake);
        client.emit("JobRunStarted", Map.of("run_id", "r1"));
        sleep(300);
        assertThat(client.flush(Duration.ofSeconds(5))).isTrue();
        assertThat(fake.events()).extracting(e -> e.get("type")).containsExactly("JobRunStarted");
    }

    @Test
    void sdkHealthCarriesTheCountersByReasonTheQueueAndTheCircuit() throws Exception {
        FakeTransport fake = new FakeTransport();
        AutopilotClient client = onTheTestsClock(fake, s -> s.queueSize(6).batchSize(100));
        assertThat(emit(client, 8, "a")).isEqualTo(6);
        assertThat(client.flush(Duration.ofSeconds(5))).isTrue(); // six delivered, two queue_full
        assertThat(emit(client, 6, "b")).isEqualTo(6);
        now = SECOND; // an SdkHealth comes due with the queue full: dropped as queue_full like any event
        assertThat(eventually(() -> fake.events().size() == 12, 5000)).isTrue();
        sleep(100);
        assertThat(health(fake)).isEmpty();
        assertThat(client.signalsDropped()).isEqualTo(drops(3, 0, 0));
        emit(client, 3, "c");
        now = 2 * SECOND;
        assertThat(eventually(() -> health(fake).size() == 1, 5000)).isTrue();
        now = 3 * SECOND;
        assertThat(eventually(() -> health(fake).size() == 2, 5000)).isTrue();

        Map<String, Object> first = health(fake).get(0);
        Map<String, Object> second = health(fake).get(1);
        Map<String, Object> expected = new LinkedHashMap<>();
        expected.put("language", "java");
        expected.put("sdk_version", Delivery.VERSION);
        expected.put("instance", first.get("instance"));
        expected.put("interval_s", 0.05);
        expected.put("delivered", 12L); // built when it came due: three runs queued, twelve delivered
        expected.put("dropped", drops(3, 0, 0));
        expected.put("queue_depth", 3L);
        expected.put("queue_capacity", 6L);
        expected.put("circuit", "closed");
        expected.put("env", "test");
        assertThat(first).isEqualTo(expected);
        assertThat((String) first.get("instance")).matches("[0-9a-f]{16}");
        assertThat(second.get("instance")).isEqualTo(first.get("instance"));
        assertThat(second.get("delivered")).isEqualTo(16L); // the three runs and the first SdkHealth since
        assertThat(second.get("queue_depth")).isEqualTo(0L);
        for (Map<String, Object> event : fake.events()) {
            if ("SdkHealth".equals(event.get("type"))) {
                JsonNode node = VectorsTest.JSON.valueToTree(event);
                assertThat(VectorsTest.schema().validate(node)).as(node.toString()).isEmpty();
                assertThat(event.get("source")).isEqualTo("svc://checkout-service");
            }
        }
    }

    @Test
    void whileTheCircuitIsOpenSdkHealthIsDroppedWithItsBatchAndTheProbeTellsWhatWasLost() {
        FakeTransport ok = new FakeTransport();
        boolean[] failing = {true};
        List<Transport.Request> posts = new ArrayList<>();
        Transport transport = new FakeTransport(request -> {
            if ("POST".equals(request.method())) {
                synchronized (posts) {
                    posts.add(request);
                }
                if (failing[0]) {
                    return new Transport.Response(500, Map.of(), "down".getBytes(StandardCharsets.UTF_8));
                }
            }
            return ok.send(request);
        });
        AutopilotClient client = onTheTestsClock(transport, s -> s.maxRetries(0).circuitFailures(1)
                .circuitReset(Duration.ofSeconds(60)));
        client.emit("JobRunStarted", Map.of("run_id", "r1"));
        // The worker reads the clock once it runs (its first act is the control request): only then may it move.
        assertThat(eventually(() -> !ok.requests().isEmpty(), 5000)).isTrue();
        now = SECOND; // the run and the first SdkHealth go out together and fail: the circuit opens
        assertThat(eventually(() -> "open".equals(client.circuitState()), 5000)).isTrue();
        assertThat(eventually(() -> client.dropped(DropReason.TIMEOUT) == 2, 5000)).isTrue();
        now = 2 * SECOND; // the next one comes due while the circuit is open: dropped without a request
        assertThat(eventually(() -> client.dropped(DropReason.CIRCUIT_OPEN) == 1, 5000)).isTrue();
        synchronized (posts) {
            assertThat(posts).hasSize(1);
        }
        failing[0] = false;
        now = 100 * SECOND; // past the reset: the next SdkHealth is the half-open probe
        assertThat(eventually(() -> health(ok).size() == 1, 5000)).isTrue();
        Map<String, Object> probe = health(ok).get(0);
        assertThat(probe.get("circuit")).isEqualTo("half_open");
        assertThat(probe.get("dropped")).isEqualTo(drops(0, 2, 1));
        assertThat(probe.get("delivered")).isEqualTo(0L);
        assertThat(client.circuitState()).isEqualTo("closed");
    }

    @Test
    void noSdkHealthWhileKilledAndNoneCountedAsKilled() {
        FakeTransport fake = new FakeTransport();
        fake.setControl(true, true);
        AutopilotClient client = client(fast("http://rca.test").healthInterval(Duration.ofMillis(20)), fake);
        assertThat(eventually(() -> client.stats().control().killed(), 5000)).isTrue();
        sleep(200); // ten intervals
        assertThat(fake.requests()).noneMatch(r -> "POST".equals(r.method()));
        assertThat(client.signalsDropped()).isEqualTo(drops(0, 0, 0));
        fake.setControl(true, false);
        assertThat(eventually(() -> !health(fake).isEmpty(), 5000)).isTrue();
        assertThat(health(fake).get(0).get("dropped")).isEqualTo(drops(0, 0, 0));
    }
}
