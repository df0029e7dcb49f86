package dev.rca.autopilot.bench;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;

/** A checkout endpoint for the throughput benchmark: reads an order (Jackson), prices it, answers JSON. */
@SpringBootApplication
public class CheckoutApplication {

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
