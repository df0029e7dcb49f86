package dev.rca.autopilot.bench;

import dev.rca.autopilot.AutopilotClient;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;

/**
 * A checkout endpoint for {@link EndpointRounds}: reads an order (Jackson), prices it, answers JSON, and emits one
 * evidence event per request. Run as its own JVM, one per mode.
 *
 * <p>{@code --bench.work-rounds=N} adds a handler's kind of CPU work to each request ({@link Work}: hash the order,
 * N times), so the SDK's cost is judged against a request that does something; the driver
 * calibrates N for a budget in microseconds ({@code --work-us}, default 500 as in sdk/node/bench/emit.mjs). 0 leaves
 * the near-empty endpoint (about 50 us of Tomcat, Spring MVC and Jackson per request), where any per-event cost is a
 * large share.
 */
@SpringBootApplication
public class CheckoutApplication {
    /** The order the benchmark posts: 20 lines. */
    static final String ORDER = "{\"orderId\":\"o-1\",\"customerId\":\"c-9\",\"currency\":\"EUR\",\"lines\":["
            + IntStream.range(0, 20).mapToObj(i -> "{\"sku\":\"sku-" + i + "\",\"qty\":" + (i % 5 + 1)
            + ",\"priceCents\":" + (199 + i) + "}").collect(Collectors.joining(",")) + "]}";

    public static void main(String[] args) {
        SpringApplication application = new SpringApplication(CheckoutApplication.class);
        application.setLogStartupInfo(false);
        application.run(args);
    }

    /** What the SDK delivered and dropped so far: the driver reads it at the end of the run. */
    @RestController
    public static class Counters {
        private final ObjectProvider<AutopilotClient> client;

        public Counters(ObjectProvider<AutopilotClient> client) {
            this.client = client;
        }

        @GetMapping("/autopilot-counters")
        public String counters() {
            AutopilotClient active = client.getIfAvailable();
            return active == null ? "no client (disabled)" : "delivered=" + active.stats().delivered() + " dropped="
                    + active.signalsDropped() + " circuit=" + active.circuitState();
        }

        /** Milliseconds the JIT compiler has spent so far: the driver warms each application up until it stops. */
        @GetMapping("/bench-jit")
        public String jit() {
            return Long.toString(java.lang.management.ManagementFactory.getCompilationMXBean().getTotalCompilationTime());
        }
    }

    /** The order a client posts. */
    public record Line(String sku, int qty, int priceCents) {}

    /** The order a client posts. */
    public record Order(String orderId, String customerId, String currency, List<Line> lines) {}

    /**
     * The request's business work: hash the order's bytes (SHA-256, as a service fingerprinting or signing what it
     * stores), {@code bench.work-rounds} times. The rounds are calibrated once by the driver ({@link #calibrate}) and
     * given to every application alike, so each mode does the same work per request.
     *
     * <p>Why a digest: it is a JDK intrinsic, which every application's JIT compiles alike. The work used before (a
     * loop of Jackson decode and encode) was compiled differently JVM to JVM: two identical disabled applications
     * then took 4-9% more or less CPU per request, more than the 2% to be judged.
     */
    @org.springframework.stereotype.Component
    public static class Work {
        private static final byte[] ORDER_BYTES = ORDER.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        private final int rounds;

        public Work(@org.springframework.beans.factory.annotation.Value("${bench.work-rounds:0}") int rounds) {
            this.rounds = rounds;
        }

        static long run(int times) {
            java.security.MessageDigest sha;
            try {
                sha = java.security.MessageDigest.getInstance("SHA-256");
            } catch (java.security.NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
            long checksum = 0;
            for (int r = 0; r < times; r++) {
                sha.update(ORDER_BYTES);
                checksum = checksum * 31 + sha.digest()[r & 31];
            }
            return checksum;
        }

        long run() {
            return run(rounds);
        }

        /** Rounds for about {@code targetUs} of CPU, measured on this thread's CPU clock (load elsewhere hardly moves
         * it); 0 for no work. */
        static int calibrate(double targetUs) {
            if (targetUs <= 0) {
                return 0;
            }
            java.lang.management.ThreadMXBean cpu = java.lang.management.ManagementFactory.getThreadMXBean();
            run(300_000); // the JIT first
            int guess = 1;
            for (int pass = 0; pass < 5; pass++) {
                int calls = Math.max(50, (int) (300_000 / targetUs));
                long before = cpu.getCurrentThreadCpuTime();
                for (int i = 0; i < calls; i++) {
                    run(guess);
                }
                double perCallUs = (cpu.getCurrentThreadCpuTime() - before) / 1000.0 / calls;
                guess = Math.max(1, (int) Math.round(guess * targetUs / perCallUs));
            }
            return guess;
        }
    }

    @RestController
    public static class Orders {
        private final Work work;

        public Orders(Work work) {
            this.work = work;
        }

        @PostMapping("/orders")
        public Map<String, Object> create(@RequestBody Order order) {
            long total = 0;
            for (Line line : order.lines()) {
                total += (long) line.qty() * line.priceCents();
            }
            Map<String, Object> answer = new LinkedHashMap<>();
            answer.put("order_id", order.orderId());
            answer.put("status", "accepted");
            answer.put("total_cents", total);
            answer.put("checksum", work.run());
            // The worst case for the SDK: one evidence event per request (real services emit far fewer).
            dev.rca.autopilot.Autopilot.emit("JobRunStarted", Map.of("run_id", order.orderId(), "code_ref", "checkout@bench"));
            return answer;
        }
    }
}
