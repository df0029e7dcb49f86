package dev.rca.autopilot;

import java.util.Map;

/**
 * The SDK's state for dashboards, health checks and debugging; cheap and safe to read from any thread.
 *
 * @param enabled whether the SDK is running (enabled with an endpoint)
 * @param producer the producer URN
 * @param delivered events the service took (accepted or duplicate)
 * @param queued events waiting in the queue now
 * @param signalsDropped drops by reason, all five keys ({@code queue_full}, {@code timeout}, ...)
 * @param circuit {@code closed}, {@code open} or {@code half_open}
 * @param control the control plane's last answer
 * @param lastProblem the problem being reported now (backend unreachable, batch refused, ...), or null
 */
public record Stats(boolean enabled, String producer, long delivered, int queued, Map<String, Long> signalsDropped,
                    String circuit, ControlState control, String lastProblem) {}
