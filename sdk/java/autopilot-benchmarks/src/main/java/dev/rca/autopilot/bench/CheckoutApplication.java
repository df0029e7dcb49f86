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
    }

    /** The order a client posts. */
    public record Line(String sku, int qty, int priceCents) {}

    /** The order a client posts. */
    public record Order(String orderId, String customerId, String currency, List<Line> lines) {}

    @RestController
    public static class Orders {
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
            // The worst case for the SDK: one evidence event per request (real services emit far fewer).
            dev.rca.autopilot.Autopilot.emit("JobRunStarted", Map.of("run_id", order.orderId(), "code_ref", "checkout@bench"));
            return answer;
        }
    }
}
