package dev.rca.autopilot.internal;

import java.util.function.LongSupplier;

/**
 * Stop knocking on a door that stays shut (contract, section 6).
 *
 * <pre>
 * closed --(N consecutive failed attempts)--> open --(reset time)--> half_open
 * half_open --(probe succeeds)--> closed;  half_open --(probe fails)--> open (time doubles, capped at 8x)
 * </pre>
 * Only the worker changes it; other threads read {@link #state()} for stats.
 */
public final class CircuitBreaker {
    public static final String CLOSED = "closed";
    public static final String OPEN = "open";
    public static final String HALF_OPEN = "half_open";

    private final int threshold;
    private final long resetNanos;
    private final LongSupplier nanoTime;
    private int failures;
    private volatile long openedAt;
    private volatile long openFor;
    private volatile String state = CLOSED;

    public CircuitBreaker(int threshold, long resetNanos, LongSupplier nanoTime) {
        this.threshold = threshold;
        this.resetNanos = resetNanos;
        this.openFor = resetNanos;
        this.nanoTime = nanoTime;
    }

    public String state() {
        String current = state;
        if (current == OPEN && nanoTime.getAsLong() - openedAt >= openFor) {
            return HALF_OPEN;
        }
        return current;
    }

    /** Nanoseconds until an open circuit lets its probe through (0 if now); Long.MAX_VALUE when not open. */
    public long nanosUntilProbe() {
        if (state != OPEN) {
            return Long.MAX_VALUE;
        }
        return Math.max(0, openedAt + openFor - nanoTime.getAsLong());
    }

    /** May an attempt go out now? In half-open, the next one is the probe. */
    public boolean allow() {
        String current = state();
        if (current == HALF_OPEN) {
            state = HALF_OPEN;
        }
        return current != OPEN;
    }

    public void recordSuccess() {
        failures = 0;
        openFor = resetNanos;
        state = CLOSED;
    }

    public void recordFailure() {
        if (state() == HALF_OPEN) {
            // The probe failed: wait longer before the next one, so a long outage costs few probes.
            openFor = Math.min(openFor * 2, resetNanos * 8);
            trip();
            return;
        }
        if (++failures >= threshold) {
            trip();
        }
    }

    private void trip() {
        openedAt = nanoTime.getAsLong();
        failures = 0;
        state = OPEN;
    }
}
