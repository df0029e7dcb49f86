package dev.rca.autopilot.spring;

import dev.rca.autopilot.AutopilotClient;
import dev.rca.autopilot.DropReason;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;

/**
 * The SDK's counters as Micrometer meters, read from the client when scraped (nothing is recorded per event):
 * {@code autopilot.signals.dropped{reason}}, {@code autopilot.signals.delivered}, {@code autopilot.queue.depth},
 * {@code autopilot.circuit.state{state}} (1 for the current state, 0 for the others) and
 * {@code autopilot.control.sending} (0 while the control plane has killed or disabled the producer).
 */
public class AutopilotMetrics implements MeterBinder {
    private static final String[] CIRCUIT_STATES = {"closed", "open", "half_open"};
    private final AutopilotClient client;

    public AutopilotMetrics(AutopilotClient client) {
        this.client = client;
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        for (DropReason reason : DropReason.values()) {
            FunctionCounter.builder("autopilot.signals.dropped", client, c -> c.dropped(reason))
                    .tag("reason", reason.key())
                    .description("Evidence events the SDK gave up on, by reason")
                    .baseUnit("events")
                    .register(registry);
        }
        FunctionCounter.builder("autopilot.signals.delivered", client, c -> c.stats().delivered())
                .description("Evidence events the rca service took (accepted or duplicate)")
                .baseUnit("events")
                .register(registry);
        Gauge.builder("autopilot.queue.depth", client, AutopilotClient::queued)
                .description("Evidence events waiting to be sent")
                .baseUnit("events")
                .register(registry);
        for (String state : CIRCUIT_STATES) {
            Gauge.builder("autopilot.circuit.state", client, c -> state.equals(c.circuitState()) ? 1 : 0)
                    .tag("state", state)
                    .description("The circuit breaker in front of the rca service: 1 for its current state")
                    .register(registry);
        }
        Gauge.builder("autopilot.control.sending", client, c -> c.stats().control().sending() ? 1 : 0)
                .description("0 while rca's control plane has killed or disabled this producer")
                .register(registry);
    }
}
