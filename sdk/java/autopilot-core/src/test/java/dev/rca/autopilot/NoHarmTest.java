package dev.rca.autopilot;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * No harm, proved against real local servers that are down, reset connections, answer 500, or sleep 5 s (contract,
 * section 14): the business call's latency matches a baseline measured in the same run with the SDK off, no call
 * waits on the backend, memory stays bounded, every event is accounted for, nothing throws, and the log says so
 * once rather than once per event.
 */
class NoHarmTest extends Fixtures {
    static final byte[] PAYLOAD = new byte[2048];
    static final String PADDING = "x".repeat(1024);

    /** Some fixed work a request handler might do, plus one event. */
    static void businessCall(AutopilotClient client, int i) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            byte[] digest = PAYLOAD;
            for (int round = 0; round < 20; round++) {
                digest = sha.digest(digest);
            }
            client.emit("JobRunStarted", Map.of("run_id", "run-" + i, "digest", HexFormat.of().formatHex(digest, 0, 4),
                    "padding", PADDING));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    static List<Long> timedCalls(AutopilotClient client, int count, int start) {
        List<Long> durations = new ArrayList<>(count);
        for (int i = start; i < start + count; i++) {
            long began = System.nanoTime();
            businessCall(client, i);
            durations.add(System.nanoTime() - began);
        }
        return durations;
    }

    static long median(List<Long> values) {
        List<Long> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        return sorted.get(sorted.size() / 2);
    }

    static Backend backend(String mode) throws Exception {
        return "down".equals(mode) ? null : new Backend(mode, 5000);
    }

    static String url(String mode, Backend backend) throws Exception {
        return backend == null ? Backend.closedPortUrl() : backend.url;
    }

    @ParameterizedTest
    @ValueSource(strings = {"down", "reset", "500", "sleep"})
    void businessLatencyIsUnchangedAndNothingWaitsOnTheBackend(String mode) throws Exception {
        Backend backend = backend(mode);
        try {
            // The SDK's timeout (1 s) is far above anything a call may take here: a call that waited on the backend
            // would stand out, and against the sleeping server it would wait the full second.
            AutopilotClient client = client(url(mode, backend), s -> s.timeout(Duration.ofSeconds(1))
                    .connectTimeout(Duration.ofSeconds(1)).queueSize(256));
            AutopilotClient disabled = new AutopilotClient(Settings.defaults());
            timedCalls(disabled, 2000, 0); // warm up the JIT on both paths first
            timedCalls(client, 2000, 0);
            List<Long> baseline = new ArrayList<>();
            List<Long> withSdk = new ArrayList<>();
            for (int round = 0; round < 6; round++) { // interleaved rounds, so machine load hits both sides alike
                baseline.addAll(timedCalls(disabled, 300, round * 300));
                withSdk.addAll(timedCalls(client, 300, round * 300));
            }
            long base = median(baseline);
            long sdk = median(withSdk);
            assertThat(sdk).as("median %d ns with the SDK vs %d ns without", sdk, base).isLessThanOrEqualTo(base * 3 / 2 + 20_000);
            assertThat(Collections.max(withSdk)).as("the slowest business call, ns").isLessThan(500_000_000L);
            assertThat(log.warnings()).hasSizeLessThanOrEqualTo(5); // once per problem, not once per event
        } finally {
            if (backend != null) {
                backend.close();
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"down", "reset", "500", "sleep"})
    void everyEventIsAccountedForAndMemoryStaysBounded(String mode) throws Exception {
        Backend backend = backend(mode);
        try {
            AutopilotClient client = client(url(mode, backend), s -> s.queueSize(200).batchSize(50));
            MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
            for (int i = 0; i < 2_000; i++) {
                businessCall(client, i);
            }
            long early = usedAfterGc(memory);
            for (int i = 2_000; i < 20_000; i++) {
                businessCall(client, i);
            }
            long late = usedAfterGc(memory);
            // Kept, the 18,000 extra events would take over 20 MB (each carries 1 KiB of padding).
            assertThat(late - early).as("heap growth after the queue filled, bytes").isLessThan(4L << 20);
            assertThat(client.stats().queued()).isLessThanOrEqualTo(200);
            client.shutdown(Duration.ofMillis(500));
            // the last in-flight attempt reports back (it is abandoned at the deadline)
            eventually(() -> total(client.stats()) == 20_000, 5000);
            Stats stats = client.stats();
            long dropped = total(stats) - stats.delivered();
            assertThat(stats.delivered()).isZero();
            assertThat(stats.delivered() + dropped).as(stats.signalsDropped().toString()).isEqualTo(20_000);
            assertThat(stats.signalsDropped().get("queue_full")).isPositive();
            assertThat(stats.signalsDropped().get("killed")).isZero();
            assertThat(stats.signalsDropped().get("rejected")).isZero();
        } finally {
            if (backend != null) {
                backend.close();
            }
        }
    }

    private static long total(Stats stats) {
        return stats.delivered() + stats.signalsDropped().values().stream().mapToLong(Long::longValue).sum();
    }

    private static long usedAfterGc(MemoryMXBean memory) {
        for (int i = 0; i < 3; i++) {
            System.gc();
            sleep(20);
        }
        return memory.getHeapMemoryUsage().getUsed();
    }

    @Test
    void aHealthyBackendGetsEveryEventAndTheCircuitStaysClosed() throws Exception {
        try (Backend backend = new Backend("ok")) {
            AutopilotClient client = client(backend.url, s -> s.queueSize(5000).batchSize(100));
            for (int i = 0; i < 2_000; i++) {
                businessCall(client, i);
            }
            assertThat(client.flush(Duration.ofSeconds(20))).isTrue();
            assertThat(backend.events().stream().map(e -> e.path("id").asText()).distinct().count()).isEqualTo(2000);
            assertThat(client.stats().delivered()).isEqualTo(2000);
            assertThat(client.stats().circuit()).isEqualTo("closed");
            assertThat(backend.peers).hasSizeLessThanOrEqualTo(2); // the connection is kept alive
        }
    }

    @Test
    void shutdownAgainstASleepingBackendIsBounded() throws Exception {
        try (Backend backend = new Backend("sleep", 5000)) {
            AutopilotClient client = client(backend.url, s -> s.timeout(Duration.ofSeconds(5))
                    .connectTimeout(Duration.ofSeconds(1)));
            for (int i = 0; i < 10; i++) {
                client.emit("JobRunStarted", Map.of("run_id", "r" + i));
            }
            sleep(100); // the worker is now waiting on the sleeping server
            long began = System.nanoTime();
            client.shutdown(Duration.ofMillis(300));
            assertThat(System.nanoTime() - began).isLessThan(1_000_000_000L);
            assertThat(eventually(() -> client.stats().signalsDropped().get("timeout") == 10, 5000)).isTrue();
        }
    }
}
