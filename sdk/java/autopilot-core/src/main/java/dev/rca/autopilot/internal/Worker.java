package dev.rca.autopilot.internal;

import dev.rca.autopilot.ControlState;
import dev.rca.autopilot.DropReason;
import dev.rca.autopilot.Settings;
import dev.rca.autopilot.Transport;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * The one daemon thread (contract, section 4): batches the queue, submits with retries and backoff, obeys the
 * kill switch and the circuit breaker. Everything slow happens here, never in emit(). Every event taken from the
 * queue ends in exactly one place: delivered, or one drop reason.
 */
public final class Worker implements Runnable {
    private final Settings settings;
    private final EventQueue queue;
    private final Counters counters;
    private final Transport transport;
    private final CircuitBreaker circuit;
    private final ControlPlane control;
    private final ProblemLog problems;
    private final LongSupplier nanoTime;
    private final Consumer<ControlState> onControl;
    private final Consumer<Boolean> onCircuit;
    private final Runnable reportHealth; // queues one SdkHealth event; null when HEALTH_INTERVAL is 0
    private final long healthNanos;
    private boolean circuitOpen; // as last told to onCircuit
    private final CountDownLatch stop = new CountDownLatch(1);
    private final Thread thread;
    private final long maxAgeNanos;
    private volatile long deadline = Long.MAX_VALUE; // set by shutdown(): nothing may outlive it
    private volatile boolean sending;
    /**
     * The batch being encoded, reused batch after batch. It keeps what a full batch of ordinary events needs (1 MiB,
     * or 512 bytes an event for larger batch sizes); one of outsized events gives the rest back before the next.
     */
    private final JsonOut body = new JsonOut(64 * 1024);
    private final int keepBytes;

    public Worker(Settings settings, EventQueue queue, Counters counters, Transport transport, CircuitBreaker circuit,
                  ControlPlane control, ProblemLog problems, LongSupplier nanoTime, Consumer<ControlState> onControl,
                  Consumer<Boolean> onCircuit, Runnable reportHealth, boolean sending) {
        this.settings = settings;
        this.queue = queue;
        this.counters = counters;
        this.transport = transport;
        this.circuit = circuit;
        this.control = control;
        this.problems = problems;
        this.nanoTime = nanoTime;
        this.onControl = onControl;
        this.onCircuit = onCircuit;
        this.healthNanos = settings.healthInterval().toNanos();
        this.reportHealth = healthNanos > 0 ? reportHealth : null;
        this.sending = sending;
        this.maxAgeNanos = settings.maxAge().toNanos();
        this.keepBytes = Math.max(1 << 20, settings.batchSize() * 512);
        this.thread = new Thread(this, "autopilot-worker");
        this.thread.setDaemon(true);
        queue.attach(thread);
    }

    public void start() {
        thread.start();
    }

    public Thread thread() {
        return thread;
    }

    /** Stop after one last attempt per queued batch, every request clipped to {@code deadlineNanos}. */
    public void stop(long deadlineNanos) {
        deadline = deadlineNanos;
        stop.countDown();
        queue.wake();
    }

    private boolean stopping() {
        return stop.getCount() == 0;
    }

    @Override
    public void run() {
        try {
            loop();
        } catch (Throwable e) { // the thread must end quietly whatever happens; the host goes on
            ProblemLog.warn("autopilot: worker stopped after an unexpected error: %s", e);
        } finally {
            try {
                transport.close();
            } catch (Exception ignored) {
                // closing is best effort
            }
        }
    }

    private void loop() {
        long flushNanos = settings.flushInterval().toNanos();
        long nextFlush = nanoTime.getAsLong() + flushNanos;
        // SdkHealth (contract, section 15) rides on this thread's own wait: no thread or timer of its own.
        long nextHealth = nanoTime.getAsLong() + healthNanos;
        while (true) {
            pollControl();
            reportCircuit();
            boolean stopping = stopping();
            int size = queue.size();
            if (!stopping && (size == 0 || (!queue.flushRequested() && size < queue.batchSize()))) {
                long wait = nextFlush - nanoTime.getAsLong();
                if (control != null) {
                    wait = Math.min(wait, control.nanosUntilDue());
                }
                if (circuitOpen) {
                    wait = Math.min(wait, circuit.nanosUntilProbe()); // let emit() in again on time
                }
                if (reportHealth != null) {
                    wait = Math.min(wait, nextHealth - nanoTime.getAsLong());
                }
                if (wait > 0) {
                    LockSupport.parkNanos(this, wait);
                }
                stopping = stopping();
                reportCircuit();
            }
            long now = nanoTime.getAsLong();
            if (reportHealth != null && now - nextHealth >= 0 && !stopping) {
                nextHealth = now + healthNanos;
                health();
                nextFlush = now; // the health event goes out in this pass
            }
            // A timer flush sends what was queued when it fired, not what arrives while it sends: under a steady
            // emitter that would turn one flush into a stream of tiny batches (contract, section 4).
            int timed = now - nextFlush >= 0 ? queue.size() : 0;
            while (true) {
                stopping = stopping || stopping(); // a shutdown during a send clips every later request too
                int pending = queue.size();
                if (pending == 0) {
                    break;
                }
                if (pending < queue.batchSize() && timed <= 0 && !(stopping || queue.flushRequested())) {
                    break;
                }
                queue.beginBatch();
                try {
                    List<Pending> taken = queue.take(queue.batchSize());
                    timed -= taken.size();
                    process(taken, stopping);
                } finally {
                    queue.endBatch();
                }
                pollControl();
            }
            if (now - nextFlush >= 0) {
                nextFlush = now + flushNanos;
            }
            if (stopping) {
                return;
            }
        }
    }

    /** Queue the SdkHealth event that is due, unless killed: building it must never break the worker. */
    private void health() {
        if (!sending) {
            return;
        }
        try {
            reportHealth.run();
        } catch (RuntimeException e) { // self-telemetry must never cost the host or the worker anything
            problems.report("health", "autopilot: could not build the SdkHealth event: %s", e);
        }
    }

    private void pollControl() {
        if (control == null || stopping()) {
            return; // while shutting down, the last known state holds: no new request may outlive the deadline
        }
        ControlState previous = control.state();
        ControlState state = control.pollIfDue();
        if (state.equals(previous)) {
            return;
        }
        if (state.sending() != sending) {
            sending = state.sending();
            ProblemLog.warn("autopilot: the control plane %s this producer (enabled=%s, killed=%s).",
                    state.sending() ? "resumed" : "stopped", state.enabled(), state.killed());
        }
        onControl.accept(state);
    }

    /** Tell the client when the circuit opens and when it lets a probe through: emit() stops or starts taking events. */
    private void reportCircuit() {
        boolean open = CircuitBreaker.OPEN.equals(circuit.state());
        if (open != circuitOpen) {
            circuitOpen = open;
            onCircuit.accept(open);
        }
    }

    private void process(List<Pending> items, boolean stopping) {
        if (items.isEmpty()) {
            return;
        }
        long now = nanoTime.getAsLong();
        List<Pending> fresh = new ArrayList<>(items.size());
        for (Pending item : items) {
            if (now - item.enqueuedNanos <= maxAgeNanos) {
                fresh.add(item);
            }
        }
        if (fresh.size() < items.size()) {
            counters.drop(DropReason.TIMEOUT, items.size() - fresh.size());
        }
        if (fresh.isEmpty()) {
            return;
        }
        if (!sending) {
            counters.drop(DropReason.KILLED, fresh.size());
            return;
        }
        if (stopping && now - deadline >= 0) {
            counters.drop(DropReason.TIMEOUT, fresh.size());
            return;
        }
        if (!circuit.allow()) { // before encoding: an open circuit must cost next to nothing
            counters.drop(DropReason.CIRCUIT_OPEN, fresh.size());
            return;
        }
        body.reset(keepBytes);
        body.put('[');
        int count = 0;
        for (Pending item : fresh) {
            if (encode(item, count == 0)) { // written straight into the batch's bytes: no string per event
                count++;
            }
        }
        if (count > 0) {
            send(body.put(']').toByteArray(), count, fresh.get(0).enqueuedNanos, stopping);
        }
    }

    /** The envelope's JSON appended to the batch, built here (not in emit) from what emit() captured; false (and
     * nothing appended) if unusable. */
    private boolean encode(Pending item, boolean first) {
        int mark = body.size();
        String why;
        try {
            // A time of the caller's own is formatted first, so a bad one is reported as such (as before).
            String time = item.time != null ? Envelope.formatTime(item.time) : null;
            String source = item.source != null ? item.source : settings.producer();
            why = Envelope.problem(item.type, source, item.data);
            if (why == null) {
                if (!first) {
                    body.put(',');
                }
                Envelope.write(body, item.type, item.data, source, item.id, time, item.wallEpochNanos, item.subject,
                        item.traceparent, item.extensions);
                return true;
            }
        } catch (RuntimeException | StackOverflowError e) {
            why = "it could not be encoded (" + e + ")";
        }
        body.truncate(mark); // whatever the failed event had written
        counters.drop(DropReason.REJECTED);
        problems.report("invalid", "autopilot: dropped a %s event: %s.", item.type, why);
        return false;
    }

    private void send(byte[] body, int count, long oldest, boolean stopping) {
        int attempt = 0;
        while (true) {
            if (!circuit.allow()) {
                counters.drop(DropReason.CIRCUIT_OPEN, count);
                return;
            }
            Duration connectTimeout = settings.connectTimeout();
            Duration timeout = settings.timeout();
            if (stopping) {
                long remaining = deadline - nanoTime.getAsLong();
                if (remaining <= 0) {
                    counters.drop(DropReason.TIMEOUT, count);
                    return;
                }
                connectTimeout = min(connectTimeout, remaining);
                timeout = min(timeout, remaining);
            }
            Map<String, String> extra = settings.exportDrops()
                    ? Map.of(Delivery.DROPS_HEADER, counters.headerValue()) : null;
            Delivery.Submission result = Delivery.submit(transport, settings.endpoint(), settings.token(), body, count,
                    connectTimeout, timeout, extra);
            if (result.outcome == Delivery.Outcome.DELIVERED) {
                circuit.recordSuccess();
                reportCircuit();
                counters.delivered(result.delivered);
                problems.clear("submit", "autopilot: delivering events again.");
                if (result.rejected > 0) {
                    counters.drop(DropReason.REJECTED, result.rejected);
                    problems.report("rejected-items", "autopilot: the service rejected %d event(s): %s",
                            result.rejected, String.join("; ", result.rejections.subList(0, Math.min(3, result.rejections.size()))));
                }
                return;
            }
            if (result.outcome == Delivery.Outcome.REJECTED) {
                circuit.recordSuccess(); // the service is up; resending will not change its mind
                reportCircuit();
                counters.drop(DropReason.REJECTED, count);
                problems.report("rejected", "autopilot: the service refused a batch of %d event(s) (%s); check "
                        + "autopilot.endpoint and autopilot.token (AUTOPILOT_ENDPOINT, AUTOPILOT_TOKEN).", count, result.detail);
                return;
            }
            circuit.recordFailure();
            reportCircuit();
            problems.report("submit", "autopilot: cannot deliver events (%s); will retry.", result.detail);
            attempt++;
            long delay = backoffNanos(attempt, result.retryAfterSeconds);
            if (attempt > settings.maxRetries() || stopping || nanoTime.getAsLong() + delay - oldest > maxAgeNanos) {
                counters.drop(DropReason.TIMEOUT, count);
                return;
            }
            try {
                if (stop.await(delay, TimeUnit.NANOSECONDS)) {
                    stopping = true; // shutdown cut the backoff short: one last try within its deadline
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                stopping = true;
            }
            pollControl();
            if (!sending) {
                counters.drop(DropReason.KILLED, count);
                return;
            }
        }
    }

    /** Exponential backoff with full jitter, so a fleet that failed together does not retry together. */
    private long backoffNanos(int attempt, Double retryAfterSeconds) {
        double cap = settings.seconds(dev.rca.autopilot.Setting.BACKOFF_MAX);
        double base = settings.seconds(dev.rca.autopilot.Setting.BACKOFF_BASE);
        double bound = Math.min(cap, base * Math.pow(2, attempt - 1));
        double delay = bound > 0 ? ThreadLocalRandom.current().nextDouble(bound) : 0;
        if (retryAfterSeconds != null) {
            delay = Math.max(delay, Math.min(retryAfterSeconds, cap));
        }
        return (long) (delay * 1e9);
    }

    private static Duration min(Duration duration, long nanos) {
        return duration.toNanos() <= nanos ? duration : Duration.ofNanos(nanos);
    }
}
