package dev.rca.autopilot.internal;

import dev.rca.autopilot.DropReason;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/** Drops by reason and deliveries; {@link LongAdder}s, so concurrent emitters never contend on one counter. */
public final class Counters {
    private final LongAdder[] dropped = new LongAdder[DropReason.values().length];
    private final LongAdder delivered = new LongAdder();

    public Counters() {
        for (int i = 0; i < dropped.length; i++) {
            dropped[i] = new LongAdder();
        }
    }

    public void drop(DropReason reason) {
        dropped[reason.ordinal()].increment();
    }

    public void drop(DropReason reason, long count) {
        dropped[reason.ordinal()].add(count);
    }

    public long dropped(DropReason reason) {
        return dropped[reason.ordinal()].sum();
    }

    public void delivered(long count) {
        delivered.add(count);
    }

    public long delivered() {
        return delivered.sum();
    }

    /** All five keys, zeros included, in the contract's order. */
    public Map<String, Long> droppedByReason() {
        Map<String, Long> out = new LinkedHashMap<>();
        for (DropReason reason : DropReason.values()) {
            out.put(reason.key(), dropped[reason.ordinal()].sum());
        }
        return out;
    }

    /** Cumulative drops as {@code queue_full=0,timeout=2,...}, for the optional export header. */
    public String headerValue() {
        StringBuilder out = new StringBuilder();
        for (DropReason reason : DropReason.values()) {
            if (out.length() > 0) {
                out.append(',');
            }
            out.append(reason.key()).append('=').append(dropped[reason.ordinal()].sum());
        }
        return out.toString();
    }
}
