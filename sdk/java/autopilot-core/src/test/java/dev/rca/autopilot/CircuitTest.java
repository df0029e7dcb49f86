package dev.rca.autopilot;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rca.autopilot.internal.CircuitBreaker;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CircuitTest extends Fixtures {
    long now;
    final CircuitBreaker circuit = new CircuitBreaker(3, 10_000, () -> now);

    @Test
    void opensAfterConsecutiveFailuresOnly() {
        circuit.recordFailure();
        circuit.recordFailure();
        circuit.recordSuccess();
        circuit.recordFailure();
        circuit.recordFailure();
        assertThat(circuit.state()).isEqualTo("closed");
        circuit.recordFailure();
        assertThat(circuit.state()).isEqualTo("open");
        assertThat(circuit.allow()).isFalse();
    }

    @Test
    void halfOpensAfterTheResetAndAGoodProbeClosesIt() {
        for (int i = 0; i < 3; i++) {
            circuit.recordFailure();
        }
        now += 10_000;
        assertThat(circuit.state()).isEqualTo("half_open");
        assertThat(circuit.allow()).isTrue();
        circuit.recordSuccess();
        assertThat(circuit.state()).isEqualTo("closed");
    }

    @Test
    void aFailedProbeReopensForLongerUpToACap() {
        for (int i = 0; i < 3; i++) {
            circuit.recordFailure();
        }
        long[] waits = new long[5];
        for (int round = 0; round < 5; round++) {
            long opened = now;
            while (!"half_open".equals(circuit.state())) {
                now += 1_000;
            }
            waits[round] = now - opened;
            circuit.recordFailure();
        }
        assertThat(waits).containsExactly(10_000, 20_000, 40_000, 80_000, 80_000);
    }

    @Test
    void theCircuitOpensAgainstADeadBackendAndTheHalfOpenProbeResumesDelivery() throws Exception {
        String dead = Backend.closedPortUrl();
        try (Backend backend = new Backend("ok")) {
            AutopilotClient client = client(dead, s -> s.maxRetries(0).batchSize(1));
            for (int i = 0; i < 10; i++) {
                client.emit("JobRunStarted", Map.of("run_id", "r" + i));
            }
            client.flush(Duration.ofSeconds(20));
            assertThat(client.stats().circuit()).isEqualTo("open");
            assertThat(client.dropped(DropReason.CIRCUIT_OPEN)).isPositive();
            assertThat(client.dropped(DropReason.TIMEOUT) + client.dropped(DropReason.CIRCUIT_OPEN)).isEqualTo(10);
            assertThat(log.warnings()).filteredOn(l -> l.contains("cannot deliver")).hasSize(1);
        }
    }

    @Test
    void whileTheCircuitIsOpenEmitTakesNothingUntilTheProbeIsDue() throws Exception {
        AutopilotClient client = client(Backend.closedPortUrl(), s -> s.maxRetries(1).circuitFailures(2)
                .circuitReset(Duration.ofMillis(400)).batchSize(1));
        for (int i = 0; i < 5; i++) {
            client.emit("JobRunStarted", Map.of("run_id", "r" + i));
        }
        client.flush(Duration.ofSeconds(20));
        assertThat(client.stats().circuit()).isEqualTo("open");
        long before = client.dropped(DropReason.CIRCUIT_OPEN);
        Map<String, Object> data = Map.of("run_id", "open");
        for (int i = 0; i < 1000; i++) {
            assertThat(client.emit("JobRunStarted", data)).isFalse();
        }
        assertThat(client.queued()).isZero();
        assertThat(client.dropped(DropReason.CIRCUIT_OPEN)).isEqualTo(before + 1000);
        assertThat(client.kafkaHeaders()).containsKey("autopilot-producer"); // still enabled: only delivery is paused
        sleep(450); // past the reset: the next event is taken, and its batch is the probe
        assertThat(client.emit("JobRunStarted", data)).isTrue();
        client.flush(Duration.ofSeconds(20));
        assertThat(client.stats().circuit()).isEqualTo("open"); // the probe failed
        assertThat(client.emit("JobRunStarted", data)).isFalse();
    }

    @Test
    void afterAnOutageTheHalfOpenProbeResumesDelivery() throws Exception {
        try (Backend backend = new Backend("500")) {
            AutopilotClient client = client(backend.url, s -> s.circuitFailures(2).circuitReset(Duration.ofMillis(300))
                    .maxRetries(1));
            client.emit("JobRunStarted", Map.of("run_id", "during"));
            assertThat(client.flush(Duration.ofSeconds(20))).isTrue();
            assertThat(client.stats().circuit()).isEqualTo("open");
            backend.mode = "ok";
            sleep(350);
            client.emit("JobRunStarted", Map.of("run_id", "after"));
            assertThat(client.flush(Duration.ofSeconds(20))).isTrue();
            assertThat(client.stats().circuit()).isEqualTo("closed");
            assertThat(backend.events()).extracting(e -> e.path("data").path("run_id").asText()).containsExactly("after");
        }
    }
}
