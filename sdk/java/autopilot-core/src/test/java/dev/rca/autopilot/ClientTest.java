package dev.rca.autopilot;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.rca.autopilot.testing.FakeTransport;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ClientTest extends Fixtures {
    static Map<String, Object> deploy(String version) {
        return Map.of("service", "checkout-service", "version", version);
    }

    static Transport.Response answer(int status, String body, Map<String, String> headers) {
        return new Transport.Response(status, headers, body.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void eventsAreBatchedAndDeliveredWithTheBearerToken() throws Exception {
        try (Backend backend = new Backend("ok")) {
            AutopilotClient client = client(backend.url, s -> s.batchSize(10).token("tok-1"));
            for (int i = 0; i < 25; i++) {
                assertThat(client.emit("JobRunStarted", Map.of("run_id", "run-" + i))).isTrue();
            }
            assertThat(client.flush(Duration.ofSeconds(20))).isTrue();
            assertThat(backend.events()).hasSize(25);
            assertThat(backend.batches).allSatisfy(batch -> assertThat(batch.size()).isLessThanOrEqualTo(10));
            assertThat(client.stats().delivered()).isEqualTo(25);
            Map<String, String> headers = backend.postHeaders.get(0);
            assertThat(headers).containsEntry("authorization", "Bearer tok-1")
                    .containsEntry("content-type", "application/cloudevents-batch+json")
                    .containsEntry("user-agent", "autopilot-java/0.1.0");
            JsonNode first = backend.events().get(0);
            assertThat(first.path("source").asText()).isEqualTo("svc://checkout-service");
            assertThat(first.path("id").asText()).matches("[0-9a-f]{32}");
            assertThat(first.path("time").asText()).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d{6})?\\+00:00");
        }
    }

    @Test
    void emitCopiesItsDataSoLaterChangesDoNotLeak() {
        FakeTransport fake = new FakeTransport();
        AutopilotClient client = client(fast("http://rca.test"), fake);
        Map<String, Object> data = new HashMap<>(deploy("v1"));
        client.emit("DeploymentEvent", data);
        data.put("version", "v2");
        client.flush(Duration.ofSeconds(20));
        assertThat(((Map<?, ?>) fake.events().get(0).get("data")).get("version")).isEqualTo("v1");
    }

    @Test
    void attributesGivenToEmitAreKept() {
        FakeTransport fake = new FakeTransport();
        AutopilotClient client = client(fast("http://rca.test"), fake);
        client.emit(Event.of("JobRunFailed", Map.of("run_id", "r1", "failure_reason", "java.lang.OutOfMemoryError"))
                .id("run:nightly:r1:0:failed").subject("nightly").source("job://nightly")
                .time(OffsetDateTime.of(2026, 1, 19, 1, 0, 0, 0, ZoneOffset.ofHours(-5)))
                .traceparent(TraceContextTest.VALID).extension("partitionkey", "orders").extension("id", "ignored"));
        client.flush(Duration.ofSeconds(20));
        Map<String, Object> event = fake.events().get(0);
        assertThat(event).containsEntry("id", "run:nightly:r1:0:failed").containsEntry("subject", "nightly")
                .containsEntry("source", "job://nightly").containsEntry("time", "2026-01-19T01:00:00-05:00")
                .containsEntry("traceparent", TraceContextTest.VALID).containsEntry("partitionkey", "orders");
    }

    @Test
    void eventsCarryTheTraceInUseOnTheEmittingThread() {
        FakeTransport fake = new FakeTransport();
        AutopilotClient client = client(fast("http://rca.test"), fake);
        TraceContext trace = TraceContext.start();
        try (TraceContext.Scope scope = trace.use()) {
            client.emit("DeploymentEvent", deploy("v1"));
            assertThat(client.kafkaHeaders().get("traceparent")).asString(StandardCharsets.US_ASCII)
                    .isEqualTo(trace.traceparent());
        }
        client.emit("DeploymentEvent", deploy("v2"));
        client.flush(Duration.ofSeconds(20));
        assertThat(fake.events().get(0)).containsEntry("traceparent", trace.traceparent());
        assertThat(fake.events().get(1)).doesNotContainKey("traceparent");
    }

    @Test
    void retriesResendTheSameIds() {
        List<String> bodies = new CopyOnWriteArrayList<>();
        AtomicInteger posts = new AtomicInteger();
        FakeTransport fake = new FakeTransport(request -> {
            if ("GET".equals(request.method())) {
                return answer(404, "{}", Map.of());
            }
            bodies.add(new String(request.body(), StandardCharsets.UTF_8));
            return posts.incrementAndGet() < 3 ? answer(503, "busy", Map.of()) : answer(200, "{}", Map.of());
        });
        AutopilotClient client = client(fast("http://rca.test"), fake);
        client.emit("DeploymentEvent", deploy("v1"));
        client.emit("DeploymentEvent", deploy("v2"));
        assertThat(client.flush(Duration.ofSeconds(20))).isTrue();
        assertThat(bodies).hasSize(3);
        assertThat(bodies.get(1)).isEqualTo(bodies.get(0));
        assertThat(bodies.get(2)).isEqualTo(bodies.get(0));
        assertThat(client.stats().delivered()).isEqualTo(2);
        assertThat(client.dropped(DropReason.TIMEOUT)).isZero();
    }

    @Test
    void retryAfterIsHonouredOn429() {
        List<Long> times = new CopyOnWriteArrayList<>();
        FakeTransport fake = new FakeTransport(request -> {
            if ("GET".equals(request.method())) {
                return answer(404, "{}", Map.of());
            }
            times.add(System.nanoTime());
            return times.size() == 1 ? answer(429, "slow down", Map.of("retry-after", "0.3")) : answer(200, "{}", Map.of());
        });
        AutopilotClient client = client(fast("http://rca.test").backoff(Duration.ofMillis(1), Duration.ofSeconds(1)), fake);
        client.emit("DeploymentEvent", deploy("v1"));
        assertThat(client.flush(Duration.ofSeconds(20))).isTrue();
        assertThat(times).hasSize(2);
        assertThat(times.get(1) - times.get(0)).isGreaterThanOrEqualTo(290_000_000L);
    }

    @Test
    void retriesAreBoundedThenTheEventsCountAsTimeout() {
        AtomicInteger posts = new AtomicInteger();
        FakeTransport fake = new FakeTransport(request -> {
            if ("POST".equals(request.method())) {
                posts.incrementAndGet();
            }
            throw new TransportException("connect", "refused");
        });
        AutopilotClient client = client(fast("http://rca.test").circuitFailures(100), fake);
        client.emit("DeploymentEvent", deploy("v1"));
        client.flush(Duration.ofSeconds(20));
        assertThat(posts.get()).isEqualTo(3); // the first attempt and MAX_RETRIES=2
        assertThat(client.dropped(DropReason.TIMEOUT)).isEqualTo(1);
    }

    @ParameterizedTest
    @ValueSource(ints = {400, 401, 403, 404, 413, 422, 302})
    void fourHundredsAreNotRetriedAndCountAsRejected(int status) {
        AtomicInteger posts = new AtomicInteger();
        FakeTransport fake = new FakeTransport(request -> {
            if ("POST".equals(request.method())) {
                posts.incrementAndGet();
            }
            return answer(status, "{\"detail\":\"no\"}", Map.of());
        });
        AutopilotClient client = client(fast("http://rca.test"), fake);
        client.emit("DeploymentEvent", deploy("v1"));
        client.emit("DeploymentEvent", deploy("v2"));
        client.flush(Duration.ofSeconds(20));
        assertThat(posts.get()).isEqualTo(1);
        assertThat(client.dropped(DropReason.REJECTED)).isEqualTo(2);
        assertThat(client.stats().circuit()).isEqualTo("closed");
        assertThat(log.warnings()).anySatisfy(line -> assertThat(line).contains("HTTP " + status)
                .contains("autopilot.token"));
    }

    @Test
    void itemsTheServiceRejectsCountAsRejected() throws Exception {
        try (Backend backend = new Backend("ok")) {
            backend.rejectIds.add("bad-1");
            AutopilotClient client = client(backend.url);
            client.emit(Event.of("DeploymentEvent", deploy("v1")).id("bad-1"));
            client.emit(Event.of("DeploymentEvent", deploy("v2")).id("good-1"));
            client.emit(Event.of("DeploymentEvent", deploy("v2")).id("good-1")); // a duplicate counts as delivered
            client.flush(Duration.ofSeconds(20));
            assertThat(client.stats().delivered()).isEqualTo(2);
            assertThat(client.dropped(DropReason.REJECTED)).isEqualTo(1);
            assertThat(log.warnings()).anySatisfy(line -> assertThat(line).contains("bad-1").contains("data.version"));
        }
    }

    @Test
    void anUnknownTypeOrAMissingFieldIsDroppedBeforeSending() {
        FakeTransport fake = new FakeTransport();
        AutopilotClient client = client(fast("http://rca.test"), fake);
        assertThat(client.emit("OrderCreated", Map.of("order_id", "o-1"))).isFalse();
        assertThat(client.emit(null, Map.of())).isFalse();
        assertThat(client.emit("DeploymentEvent", Map.of("service", "checkout-service"))).isTrue(); // no version
        assertThat(client.emit("JobRunStarted", null)).isTrue(); // no run_id
        client.emit("JobRunStarted", Map.of("run_id", "r1"));
        client.flush(Duration.ofSeconds(20));
        assertThat(fake.events()).hasSize(1);
        assertThat(client.dropped(DropReason.REJECTED)).isEqualTo(4);
    }

    @Test
    void aFullQueueDropsAndCountsWithoutWaiting() {
        FakeTransport fake = new FakeTransport(request -> {
            sleep(300);
            throw new TransportException("timeout", "slow");
        });
        AutopilotClient client = client(fast("http://rca.test").queueSize(10).batchSize(5), fake);
        long started = System.nanoTime();
        int queued = 0;
        for (int i = 0; i < 1000; i++) {
            queued += client.emit("JobRunStarted", Map.of("run_id", "r" + i)) ? 1 : 0;
        }
        assertThat(System.nanoTime() - started).isLessThan(200_000_000L);
        assertThat(queued).isBetween(10, 20);
        assertThat(client.dropped(DropReason.QUEUE_FULL)).isEqualTo(1000 - queued);
    }

    @Test
    void eventsOlderThanTheMaximumAgeAreDropped() {
        long[] now = {0};
        FakeTransport fake = new FakeTransport();
        AutopilotClient client = AutopilotClient.builder(fast("http://rca.test").maxAge(Duration.ofSeconds(1))
                .flushInterval(Duration.ofHours(1)).build()).transport(fake).nanoTime(() -> now[0]).build();
        try {
            client.emit("JobRunStarted", Map.of("run_id", "old"));
            now[0] += 2_000_000_000L;
            client.emit("JobRunStarted", Map.of("run_id", "new"));
            client.flush(Duration.ofSeconds(20));
            assertThat(fake.events()).extracting(e -> (Object) ((Map<?, ?>) e.get("data")).get("run_id")).containsExactly("new");
            assertThat(client.dropped(DropReason.TIMEOUT)).isEqualTo(1);
        } finally {
            client.shutdown(Duration.ofMillis(200));
        }
    }

    @Test
    void valuesJsonCannotHoldAreSentAsTextAndAnUnencodableEventIsDroppedAlone() {
        FakeTransport fake = new FakeTransport();
        AutopilotClient client = client(fast("http://rca.test"), fake);
        Map<String, Object> circular = new LinkedHashMap<>();
        circular.put("run_id", "loop");
        circular.put("self", circular);
        client.emit("JobRunStarted", Map.of("run_id", "r1", "at", Instant.parse("2026-01-19T06:00:00Z"),
                "ratio", new java.math.BigDecimal("0.25")));
        client.emit("JobRunStarted", circular);
        client.emit("JobRunStarted", Map.of("run_id", "nan", "x", Double.NaN));
        client.emit("JobRunStarted", Map.of("run_id", "r2"));
        client.flush(Duration.ofSeconds(20));
        assertThat(fake.events()).extracting(e -> (Object) ((Map<?, ?>) e.get("data")).get("run_id")).containsExactly("r1", "r2");
        assertThat(((Map<?, ?>) fake.events().get(0).get("data")).get("at")).isEqualTo("2026-01-19T06:00:00Z");
        assertThat(client.dropped(DropReason.REJECTED)).isEqualTo(2);
    }

    @Test
    void aTransportThatThrowsAnythingIsContained() {
        FakeTransport fake = new FakeTransport(request -> {
            throw new IllegalStateException("a broken transport");
        });
        // The circuit kept closed: an open one would refuse r2 at emit() (as circuit_open), which is not the point here.
        AutopilotClient client = client(fast("http://rca.test").circuitFailures(100), fake);
        assertThat(client.emit("JobRunStarted", Map.of("run_id", "r1"))).isTrue();
        client.flush(Duration.ofSeconds(20));
        assertThat(client.dropped(DropReason.TIMEOUT)).isEqualTo(1);
        assertThat(client.emit("JobRunStarted", Map.of("run_id", "r2"))).isTrue();
    }

    @Test
    void dropsAreExportedInAHeaderWhenAsked() throws Exception {
        try (Backend backend = new Backend("ok")) {
            AutopilotClient client = client(backend.url, s -> s.exportDrops(true));
            client.emit("Nope", Map.of());
            client.emit("JobRunStarted", Map.of("run_id", "r1"));
            client.flush(Duration.ofSeconds(20));
            assertThat(backend.postHeaders.get(0).get("autopilot-signals-dropped"))
                    .isEqualTo("queue_full=0,timeout=0,circuit_open=0,killed=0,rejected=1");
        }
    }

    @Test
    void shutdownDeliversWhatIsQueuedThenEmitIsANoOp() throws Exception {
        try (Backend backend = new Backend("ok")) {
            AutopilotClient client = client(backend.url, s -> s.flushInterval(Duration.ofHours(1)));
            for (int i = 0; i < 5; i++) {
                client.emit("JobRunStarted", Map.of("run_id", "r" + i));
            }
            assertThat(client.shutdown(Duration.ofSeconds(2))).isTrue();
            assertThat(backend.events()).hasSize(5);
            assertThat(client.emit("JobRunStarted", Map.of("run_id", "late"))).isFalse();
            assertThat(client.shutdown(Duration.ofSeconds(2))).isTrue(); // idempotent
            assertThat(client.kafkaHeaders()).isEmpty();
        }
    }

    @Test
    void flushIsBoundedByItsTimeout() throws Exception {
        try (Backend backend = new Backend("sleep", 5000)) {
            AutopilotClient client = client(backend.url, s -> s.timeout(Duration.ofSeconds(5)));
            client.emit("JobRunStarted", Map.of("run_id", "r1"));
            long started = System.nanoTime();
            assertThat(client.flush(Duration.ofMillis(200))).isFalse();
            assertThat(System.nanoTime() - started).isBetween(150_000_000L, 1_000_000_000L);
        }
    }

    @Test
    void kafkaHeadersIdentifyTheProducer() {
        AutopilotClient client = client(fast("http://rca.test").version("v2.8.1"), new FakeTransport());
        Map<String, byte[]> headers = client.kafkaHeaders(TraceContextTest.VALID);
        assertThat(headers.keySet()).containsExactly("autopilot-producer", "autopilot-env", "autopilot-version",
                "traceparent");
        assertThat(new String(headers.get("autopilot-version"), StandardCharsets.UTF_8)).isEqualTo("v2.8.1");
        assertThat(client(fast("http://rca.test"), new FakeTransport()).kafkaHeaders().keySet())
                .containsExactly("autopilot-producer", "autopilot-env");
        assertThat(new String(headers.get("autopilot-producer"), StandardCharsets.UTF_8)).isEqualTo("svc://checkout-service");
        assertThat(new String(headers.get("autopilot-env"), StandardCharsets.UTF_8)).isEqualTo("test");
        assertThat(new AutopilotClient(Settings.defaults()).kafkaHeaders()).isEmpty();
    }

    @Test
    void disabledStartsNoThreadAndEmitIsANoOp() {
        long before = autopilotThreads();
        AutopilotClient client = new AutopilotClient(Settings.builder().endpoint("http://rca.test").service("x").build());
        for (int i = 0; i < 10_000; i++) {
            assertThat(client.emit("DeploymentEvent", deploy("v1"))).isFalse();
        }
        assertThat(autopilotThreads()).isEqualTo(before);
        assertThat(client.signalsDropped()).containsOnlyKeys("queue_full", "timeout", "circuit_open", "killed", "rejected")
                .allSatisfy((key, value) -> assertThat(value).isZero());
        assertThat(client.stats().enabled()).isFalse();
        assertThat(client.flush(Duration.ofSeconds(1))).isTrue();
        assertThat(client.shutdown(Duration.ofSeconds(1))).isTrue();
    }

    static long autopilotThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("autopilot") || t.getName().startsWith("HttpClient")).count();
    }

    @Test
    void theStartupDeploymentEventGoesOncePerProcess() {
        FakeTransport fake = new FakeTransport();
        Settings.Builder settings = fast("http://rca.test").startupEvent(true).version("v2.8.1").commit("3f9c2ab")
                .domain("orders");
        AutopilotClient first = client(settings, fake);
        AutopilotClient second = client(settings, fake);
        first.flush(Duration.ofSeconds(20));
        second.flush(Duration.ofSeconds(20));
        assertThat(fake.events()).hasSize(1);
        assertThat(fake.events().get(0).get("data")).isEqualTo(Map.of("service", "checkout-service", "version", "v2.8.1",
                "source", "startup", "env", "test", "commit", "3f9c2ab", "deploy_ref", "checkout-service@v2.8.1+3f9c2ab",
                "status", "succeeded", "domain", "orders"));
    }

    @Test
    void noStartupEventWhenCiSendsDeploysOrTheProducerIsAJob() {
        FakeTransport fake = new FakeTransport();
        client(fast("http://rca.test").startupEvent(false), fake).flush(Duration.ofSeconds(1));
        client(fast("http://rca.test").startupEvent(true).service(null).producer("job://nightly"), fake)
                .flush(Duration.ofSeconds(1));
        assertThat(fake.events()).isEmpty();
    }

    @Test
    void aTimerFlushSendsWhatWasQueuedNotWhatArrivesWhileItSends() {
        List<Integer> sizes = new CopyOnWriteArrayList<>();
        FakeTransport fake = new FakeTransport(request -> {
            if ("POST".equals(request.method())) {
                String body = new String(request.body(), StandardCharsets.UTF_8);
                sizes.add(body.split("\"specversion\"").length - 1);
                sleep(100); // a slow exchange, during which the emitter keeps going
            }
            return answer("GET".equals(request.method()) ? 404 : 200, "{}", Map.of());
        });
        AutopilotClient client = client(fast("http://rca.test").batchSize(1000).flushInterval(Duration.ofMillis(200)), fake);
        long end = System.nanoTime() + 1_000_000_000L;
        int i = 0;
        while (System.nanoTime() < end) {
            client.emit("JobRunStarted", Map.of("run_id", "r" + i++));
            sleep(1);
        }
        client.flush(Duration.ofSeconds(20));
        // One POST per interval (~5 over a second), not a stream of tiny ones behind each slow exchange (each POST
        // takes 100 ms here: draining until empty would make about ten).
        assertThat(sizes.size()).isLessThanOrEqualTo(7);
        assertThat(sizes.stream().mapToInt(Integer::intValue).sum()).isEqualTo(i);
    }
}
