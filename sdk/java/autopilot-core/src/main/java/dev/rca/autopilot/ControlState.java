package dev.rca.autopilot;

/**
 * What the control plane last said about this producer (contract, section 9). {@code source} is {@code default}
 * (never asked, or no entry) or {@code control-plane}.
 */
public record ControlState(boolean enabled, boolean killed, Integer ring, String domain, String source) {
    public static final ControlState DEFAULT = new ControlState(true, false, null, null, "default");

    /** Whether events may be sent: enabled and not killed. */
    public boolean sending() {
        return enabled && !killed;
    }
}
