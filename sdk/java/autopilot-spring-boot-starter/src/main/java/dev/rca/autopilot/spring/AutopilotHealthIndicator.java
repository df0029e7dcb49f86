package dev.rca.autopilot.spring;

import dev.rca.autopilot.AutopilotClient;
import dev.rca.autopilot.Stats;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.boot.actuate.health.Health;
import org.springframework.boot.actuate.health.HealthIndicator;

/**
 * The SDK's state under {@code /actuator/health} ({@code autopilot}). Always UP: evidence is worth having, not worth
 * an outage, so a dead rca backend, an open circuit or a kill switch shows in the details (and in the
 * {@code autopilot.*} meters), never as this service DOWN (which would fail its readiness and restart it).
 */
public class AutopilotHealthIndicator implements HealthIndicator {
    private final AutopilotClient client;

    public AutopilotHealthIndicator(AutopilotClient client) {
        this.client = client;
    }

    @Override
    public Health health() {
        Stats stats = client.stats();
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("active", stats.enabled());
        details.put("producer", stats.producer());
        details.put("endpoint", client.settings().endpoint());
        details.put("circuit", stats.circuit());
        details.put("queued", stats.queued());
        details.put("delivered", stats.delivered());
        details.put("signalsDropped", stats.signalsDropped());
        details.put("sending", stats.control().sending());
        details.put("control", Map.of("enabled", stats.control().enabled(), "killed", stats.control().killed(),
                "source", stats.control().source()));
        if (!stats.enabled()) {
            details.put("problem", "enabled but autopilot.endpoint is not set: not sending");
        } else if (stats.lastProblem() != null) {
            details.put("problem", stats.lastProblem());
        }
        return Health.up().withDetails(details).build();
    }
}
