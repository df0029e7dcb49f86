package dev.rca.autopilot;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rca.autopilot.internal.ControlPlane;
import dev.rca.autopilot.testing.FakeTransport;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/** The kill switch (contract, section 9). */
class ControlTest extends Fixtures {
    static final Map<String, Object> RUN = Map.of("run_id", "r1");

    @Test
    void theProducerIsOnePercentEncodedPathSegment() {
        assertThat(ControlPlane.controlUrl("http://rca", "svc://checkout-service", null))
                .isEqualTo("http://rca/v1/control/svc%3A%2F%2Fcheckout-service");
    }

    @Test
    void theEnvironmentIsOnePercentEncodedQueryParameter() {
        assertThat(ControlPlane.controlUrl("http://rca", "svc://a", "staging"))
                .isEqualTo("http://rca/v1/control/svc%3A%2F%2Fa?env=staging");
        assertThat(ControlPlane.controlUrl("http://rca", "svc://a", "eu west/1"))
                .isEqualTo("http://rca/v1/control/svc%3A%2F%2Fa?env=eu%20west%2F1");
        assertThat(ControlPlane.controlUrl("http://rca", "svc://a", "")).isEqualTo("http://rca/v1/control/svc%3A%2F%2Fa");
    }

    @Test
    void theControlRequestNamesTheEnvironmentOnlyWhenSet() {
        FakeTransport named = new FakeTransport();
        FakeTransport unnamed = new FakeTransport();
        client(fast("http://rca.test").env("staging"), named);
        client(fast("http://rca.test").env(null), unnamed);
        assertThat(eventually(() -> !named.requests().isEmpty() && !unnamed.requests().isEmpty(), 2000)).isTrue();
        assertThat(named.requests().get(0).url()).endsWith("/v1/control/svc%3A%2F%2Fcheckout-service?env=staging");
        assertThat(unnamed.requests().get(0).url()).endsWith("/v1/control/svc%3A%2F%2Fcheckout-service");
    }

    @Test
    void aFlagOffInThisEnvironmentStopsEmissionAndOnInAnotherDoesNot() {
        FakeTransport staging = new FakeTransport();
        FakeTransport prod = new FakeTransport();
        for (FakeTransport fake : new FakeTransport[] {staging, prod}) { // a ring promoted to staging, not yet to prod
            fake.setControl(true, false);
            fake.setEnvironmentFlag("staging", true);
            fake.setEnvironmentFlag("prod", false);
        }
        AutopilotClient inStaging = client(fast("http://rca.test").env("staging"), staging);
        AutopilotClient inProd = client(fast("http://rca.test").env("prod"), prod);
        assertThat(eventually(() -> "control-plane".equals(inStaging.stats().control().source())
                && "control-plane".equals(inProd.stats().control().source()), 2000)).isTrue();
        assertThat(inProd.stats().control().enabled()).isFalse();
        assertThat(inProd.emit("JobRunStarted", RUN)).isFalse();
        assertThat(inProd.dropped(DropReason.KILLED)).isEqualTo(1);
        assertThat(inStaging.emit("JobRunStarted", RUN)).isTrue();
        inStaging.flush(Duration.ofSeconds(20));
        inProd.flush(Duration.ofMillis(300));
        assertThat(prod.requests()).noneMatch(r -> "POST".equals(r.method()));
        assertThat(staging.events()).hasSize(1);
    }

    @Test
    void aKilledProducerStopsSendingCountsKillsAndHasNoHeaders() {
        FakeTransport fake = new FakeTransport();
        fake.setControl(true, true);
        AutopilotClient client = client(fast("http://rca.test"), fake);
        assertThat(eventually(() -> client.stats().control().killed(), 2000)).isTrue();
        assertThat(client.emit("JobRunStarted", RUN)).isFalse();
        assertThat(client.kafkaHeaders()).isEmpty();
        client.flush(Duration.ofMillis(300));
        assertThat(fake.events()).isEmpty();
        assertThat(client.dropped(DropReason.KILLED)).isEqualTo(1);
    }

    @Test
    void disabledByTheControlPlaneIsObeyedLikeAKill() {
        FakeTransport fake = new FakeTransport();
        fake.setControl(false, false);
        AutopilotClient client = client(fast("http://rca.test"), fake);
        assertThat(eventually(() -> !client.stats().control().enabled(), 2000)).isTrue();
        assertThat(client.emit("JobRunStarted", RUN)).isFalse();
        assertThat(client.dropped(DropReason.KILLED)).isEqualTo(1);
    }

    @Test
    void aKillAppliesAtTheFirstPollAfterItIsSetAndARevivalToo() throws Exception {
        try (Backend backend = new Backend("ok")) {
            AutopilotClient client = client(backend.url);
            assertThat(client.emit("JobRunStarted", RUN)).isTrue();
            client.flush(Duration.ofSeconds(20));
            backend.setControl("svc://checkout-service", true, true);
            assertThat(eventually(() -> client.stats().control().killed(), 1000)).isTrue(); // poll interval 0.2 s
            assertThat(client.emit("JobRunStarted", RUN)).isFalse();
            backend.setControl("svc://checkout-service", true, false);
            assertThat(eventually(() -> !client.stats().control().killed(), 1000)).isTrue();
            assertThat(client.emit("JobRunStarted", Map.of("run_id", "r2"))).isTrue();
            client.flush(Duration.ofSeconds(20));
            assertThat(backend.events()).hasSize(2);
        }
    }

    @Test
    void eventsQueuedBeforeAKillAreNotSentAfterIt() {
        AtomicBoolean killed = new AtomicBoolean();
        FakeTransport fake = new FakeTransport(request -> {
            if ("GET".equals(request.method())) {
                String body = "{\"enabled\":true,\"killed\":" + killed.get() + "}";
                return new Transport.Response(200, Map.of(), body.getBytes(StandardCharsets.UTF_8));
            }
            return new Transport.Response(200, Map.of(), "{}".getBytes(StandardCharsets.UTF_8));
        });
        AutopilotClient client = client(fast("http://rca.test").flushInterval(Duration.ofSeconds(5)), fake);
        assertThat(eventually(() -> "control-plane".equals(client.stats().control().source()), 2000)).isTrue();
        for (int i = 0; i < 5; i++) {
            client.emit("JobRunStarted", Map.of("run_id", "r" + i));
        }
        killed.set(true);
        assertThat(eventually(() -> client.stats().control().killed(), 2000)).isTrue();
        client.flush(Duration.ofSeconds(20));
        assertThat(fake.requests()).noneMatch(r -> "POST".equals(r.method()));
        assertThat(client.dropped(DropReason.KILLED)).isEqualTo(5);
    }

    @Test
    void anUnreachableControlPlaneKeepsTheLastKnownState() {
        AtomicBoolean reachable = new AtomicBoolean(true);
        FakeTransport fake = new FakeTransport(request -> {
            if ("GET".equals(request.method())) {
                if (!reachable.get()) {
                    throw new TransportException("connect", "refused");
                }
                return new Transport.Response(200, Map.of(), "{\"enabled\":true,\"killed\":true}".getBytes(StandardCharsets.UTF_8));
            }
            return new Transport.Response(200, Map.of(), "{}".getBytes(StandardCharsets.UTF_8));
        });
        AutopilotClient client = client(fast("http://rca.test"), fake);
        assertThat(eventually(() -> client.stats().control().killed(), 2000)).isTrue();
        reachable.set(false);
        sleep(600); // three poll intervals, all failing
        assertThat(client.stats().control().killed()).isTrue();
        assertThat(client.emit("JobRunStarted", RUN)).isFalse();
        assertThat(log.warnings()).filteredOn(line -> line.contains("control plane unreachable")).hasSize(1);
    }

    @Test
    void noEntryMeansRunWithDefaultsAndTheRealEndpointIsPolledWithTheToken() throws Exception {
        try (Backend backend = new Backend("ok")) {
            AutopilotClient client = client(backend.url, s -> s.token("tok").env("eu west"));
            assertThat(backend.waitFor(() -> backend.controlGets >= 2, 2000)).isTrue();
            assertThat(client.stats().control()).isEqualTo(ControlState.DEFAULT);
            assertThat(client.emit("JobRunStarted", RUN)).isTrue();
            assertThat(backend.controlQueries).containsOnly("env=eu%20west");
        }
    }
}
