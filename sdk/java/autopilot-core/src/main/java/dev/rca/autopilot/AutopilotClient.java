package dev.rca.autopilot;

import dev.rca.autopilot.internal.CircuitBreaker;
import dev.rca.autopilot.internal.ControlPlane;
import dev.rca.autopilot.internal.Counters;
import dev.rca.autopilot.internal.Delivery;
import dev.rca.autopilot.internal.Deployments;
import dev.rca.autopilot.internal.Envelope;
import dev.rca.autopilot.internal.EventQueue;
import dev.rca.autopilot.internal.Pending;
import dev.rca.autopilot.internal.ProblemLog;
import dev.rca.autopilot.internal.ProcessState;
import dev.rca.autopilot.internal.Worker;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.function.LongSupplier;

/**
 * One producer's connection to the rca service. Most code uses {@link Autopilot}'s static methods, which share one
 * process-wide client; the Spring Boot starter creates that client as a bean.
 *
 * <p>Disabled (the default) means nothing is built: no queue, no thread, no socket; {@link #emit} reads one field
 * and returns false.
 */
public final class AutopilotClient implements AutoCloseable {
    private final Settings settings;
    private final boolean active;
    private final Clock clock;
    private final LongSupplier nanoTime;
    private volatile boolean accepting; // enabled, not killed, not shut down (Kafka headers read this)
    private volatile boolean taking; // accepting and the circuit not open: emit() reads only this on the hot path
    private volatile boolean killed;
    private volatile boolean closed;
    private volatile boolean circuitOpen;
    private volatile ControlState controlState = ControlState.DEFAULT;
    private volatile WallAnchor anchor; // the wall clock read once a second, not once per emit
    private final Counters counters;
    private final EventQueue queue;
    private final CircuitBreaker circuit;
    private final ProblemLog problems;
    private final Worker worker;
    private final String instance; // names this client in its SdkHealth events: the counters are per client

    /** A client for these settings, with the JDK's HTTP client. */
    public AutopilotClient(Settings settings) {
        this(builder(settings));
    }

    private AutopilotClient(Builder builder) {
        this.settings = builder.settings;
        this.clock = builder.clock;
        this.nanoTime = builder.nanoTime;
        this.active = settings.active();
        if (settings.enabled() && settings.endpoint() == null) {
            ProblemLog.warn("autopilot: enabled but no endpoint is set (autopilot.endpoint / AUTOPILOT_ENDPOINT); "
                    + "staying off.");
        }
        if (!active) {
            counters = null;
            queue = null;
            circuit = null;
            problems = null;
            worker = null;
            instance = null;
            return;
        }
        Transport transport = builder.transport != null ? builder.transport : new JdkHttpTransport(settings.connectTimeout());
        counters = new Counters();
        instance = Envelope.newEventId().substring(0, 16);
        queue = new EventQueue(settings.queueSize(), settings.batchSize());
        problems = new ProblemLog();
        circuit = new CircuitBreaker(settings.circuitFailures(), settings.circuitReset().toNanos(), nanoTime);
        ControlPlane control = settings.producer() == null ? null : new ControlPlane(transport, settings.endpoint(),
                settings.producer(), settings.env(), settings.token(), settings.controlPollInterval(), settings.connectTimeout(),
                settings.timeout(), nanoTime, problems, ControlState.DEFAULT);
        worker = new Worker(settings, queue, counters, transport, circuit, control, problems, nanoTime,
                this::onControl, this::onCircuit, this::reportHealth, true);
        accepting = true;
        taking = true;
        ProcessState.register(this, client -> client.shutdown(client.settings.shutdownTimeout()));
        ProblemLog.info("autopilot: sending evidence as %s to %s.", settings.producer(), settings.endpoint());
        worker.start();
        sendStartupEvent();
    }

    public static Builder builder(Settings settings) {
        return new Builder(settings);
    }

    // -- the hot path ---------------------------------------------------------------------------------------------

    /**
     * Queue one event of an envelope v1 type with its data fields (snake_case); true if queued. Never blocks,
     * never throws; a dropped event is counted under its reason.
     */
    public boolean emit(String type, Map<String, ?> data) {
        if (!taking && refused()) {
            return false;
        }
        return enqueue(type, data, null, null, null, null, null, null);
    }

    /** Queue one event with an id, time, subject, traceparent, source or extensions of its own. */
    public boolean emit(Event event) {
        if (!taking && refused()) {
            return false;
        }
        if (event == null) {
            return enqueue(null, null, null, null, null, null, null, null);
        }
        Map<String, Object> extensions = event.extensions().isEmpty() ? null : new LinkedHashMap<>(event.extensions());
        return enqueue(event.type(), event.data(), event.id(), event.time(), event.subject(), event.traceparent(),
                event.source(), extensions);
    }

    /**
     * emit() while not taking events: true if the event is refused. Disabled or shut down: nothing counted. Killed:
     * counted. The circuit open: counted, at the cost of a disabled SDK (no copy, nothing queued; its batch would be
     * dropped unsent anyway) until the probe is due; from then on events are taken again (the worker catches up).
     */
    private boolean refused() {
        if (killed) {
            counters.drop(DropReason.KILLED);
            return true;
        }
        if (circuitOpen && accepting) {
            if (circuit.nanosUntilProbe() > 0) {
                counters.drop(DropReason.CIRCUIT_OPEN);
                return true;
            }
            return false;
        }
        return true;
    }

    private boolean enqueue(String type, Map<String, ?> data, String id, Object time, String subject,
                            String traceparent, String source, Map<String, Object> extensions) {
        try {
            if (type == null || !Envelope.EVENT_TYPES.contains(type)) {
                counters.drop(DropReason.REJECTED);
                problems.report("type", "autopilot: '%s' is not an envelope v1 type %s; dropped.", type,
                        new java.util.TreeSet<>(Envelope.EVENT_TYPES));
                return false;
            }
            // Only capture here; the envelope (id, RFC 3339 time, JSON) is built by the worker.
            long now = nanoTime.getAsLong();
            Pending item = new Pending(now, wallNanos(now), type,
                    data == null || data.isEmpty() ? null : new LinkedHashMap<>(data), // a copy: the caller may reuse its map
                    id, time, subject, traceparent != null ? traceparent : TraceContext.currentTraceparent(), source,
                    extensions);
            if (!queue.offer(item)) {
                counters.drop(DropReason.QUEUE_FULL);
                return false;
            }
            return true;
        } catch (RuntimeException e) { // e.g. a map another thread is changing
            counters.drop(DropReason.REJECTED);
            problems.report("emit", "autopilot: emit() dropped an event it could not take: %s", e);
            return false;
        }
    }

    /**
     * Epoch nanoseconds at monotonic time {@code now}: the wall clock read at most once a second and advanced by the
     * monotonic clock in between, so emit() allocates no Instant (OpenTelemetry's AnchoredClock does the same).
     */
    private long wallNanos(long now) {
        WallAnchor current = anchor;
        if (current == null || now - current.nano > 1_000_000_000L || now < current.nano) {
            java.time.Instant wall = clock.instant();
            current = new WallAnchor(wall.getEpochSecond() * 1_000_000_000L + wall.getNano(), now);
            anchor = current;
        }
        return current.epochNanos + (now - current.nano);
    }

    private static final class WallAnchor {
        final long epochNanos;
        final long nano;

        WallAnchor(long epochNanos, long nano) {
            this.epochNanos = epochNanos;
            this.nano = nano;
        }
    }

    // -- lifecycle ------------------------------------------------------------------------------------------------

    /** Wait until everything queued so far is delivered or dropped; false if the timeout ran out first. */
    public boolean flush(Duration timeout) {
        if (!active || closed) {
            return true;
        }
        return queue.awaitIdle(Math.max(0, timeout.toNanos()));
    }

    /**
     * Stop accepting, make one last attempt per queued batch within {@code timeout}, stop the worker; later emits
     * are no-ops. Idempotent. True if the worker ended in time.
     */
    public boolean shutdown(Duration timeout) {
        if (!active) {
            return true;
        }
        synchronized (this) {
            if (closed) {
                return !worker.thread().isAlive();
            }
            closed = true;
        }
        refreshTaking();
        long nanos = Math.max(0, timeout.toNanos());
        worker.stop(nanoTime.getAsLong() + nanos);
        try {
            worker.thread().join(Math.max(1, Duration.ofNanos(nanos).toMillis() + 50));
            if (worker.thread().isAlive()) {
                // A request made before the shutdown may still be waiting on a slow backend: abandon it, so what it
                // carried is counted (as timeout) and the worker ends now rather than at that request's timeout.
                worker.thread().interrupt();
                worker.thread().join(100);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return !worker.thread().isAlive();
    }

    /** {@link #shutdown} with the configured shutdown timeout. */
    @Override
    public void close() {
        shutdown(settings.shutdownTimeout());
    }

    // -- reading the state ----------------------------------------------------------------------------------------

    public Settings settings() {
        return settings;
    }

    /** Enabled with an endpoint: the SDK is running (it may still be killed by the control plane). */
    public boolean isActive() {
        return active;
    }

    /** Events given up on, by reason: all five keys, zeros included. */
    public Map<String, Long> signalsDropped() {
        if (!active) {
            Map<String, Long> zeros = new LinkedHashMap<>();
            for (DropReason reason : DropReason.values()) {
                zeros.put(reason.key(), 0L);
            }
            return zeros;
        }
        return counters.droppedByReason();
    }

    public long dropped(DropReason reason) {
        return active ? counters.dropped(reason) : 0;
    }

    /** Events waiting in the queue now (cheap: for gauges). */
    public int queued() {
        return active ? queue.size() : 0;
    }

    /** The circuit breaker's state: closed, open or half_open (cheap: for gauges). */
    public String circuitState() {
        return active ? circuit.state() : CircuitBreaker.CLOSED;
    }

    public Stats stats() {
        if (!active) {
            return new Stats(false, settings.producer(), 0, 0, signalsDropped(), CircuitBreaker.CLOSED, controlState, null);
        }
        return new Stats(true, settings.producer(), counters.delivered(), queue.size(), counters.droppedByReason(),
                circuit.state(), controlState, problems.current());
    }

    /**
     * Identity hints for a Kafka record, in order: {@code autopilot-producer}, {@code autopilot-env},
     * {@code autopilot-version} (the deploy version), {@code traceparent} (the trace in use); a header without a
     * value is left out. Empty while disabled or killed.
     */
    public Map<String, byte[]> kafkaHeaders() {
        return kafkaHeaders(null);
    }

    public Map<String, byte[]> kafkaHeaders(String traceparent) {
        if (!accepting || settings.producer() == null) {
            return Collections.emptyMap();
        }
        Map<String, byte[]> headers = new LinkedHashMap<>(4);
        headers.put("autopilot-producer", settings.producer().getBytes(StandardCharsets.UTF_8));
        if (settings.env() != null) {
            headers.put("autopilot-env", settings.env().getBytes(StandardCharsets.UTF_8));
        }
        if (settings.version() != null) {
            headers.put("autopilot-version", settings.version().getBytes(StandardCharsets.UTF_8));
        }
        String trace = traceparent != null ? traceparent : TraceContext.currentTraceparent();
        if (trace != null) {
            headers.put("traceparent", trace.getBytes(StandardCharsets.US_ASCII));
        }
        return headers;
    }

    // -- internals ------------------------------------------------------------------------------------------------

    private void onControl(ControlState state) {
        controlState = state;
        killed = !state.sending();
        refreshTaking();
    }

    private void onCircuit(boolean open) {
        circuitOpen = open;
        refreshTaking();
    }

    /** One writer at a time (the worker, shutdown), so a late write cannot reopen a closed client. */
    private synchronized void refreshTaking() {
        accepting = !killed && !closed;
        taking = accepting && !circuitOpen;
    }

    /**
     * Queue one SdkHealth event (contract, section 15): this client's counters since it started, its queue and its
     * circuit. Called by the worker only; an ordinary event from then on (a full queue drops it as queue_full).
     */
    private void reportHealth() {
        if (!accepting) {
            return; // not while killed or shutting down
        }
        Map<String, Object> data = new LinkedHashMap<>();
        data.put("language", "java");
        data.put("sdk_version", Delivery.VERSION);
        data.put("instance", instance);
        data.put("interval_s", settings.seconds(Setting.HEALTH_INTERVAL));
        data.put("delivered", counters.delivered());
        data.put("dropped", counters.droppedByReason());
        data.put("queue_depth", queue.size());
        data.put("queue_capacity", settings.queueSize());
        data.put("circuit", circuit.state());
        if (settings.env() != null) {
            data.put("env", settings.env());
        }
        long now = nanoTime.getAsLong();
        if (!queue.offer(new Pending(now, wallNanos(now), "SdkHealth", data, null, null, null, null, null, null))) {
            counters.drop(DropReason.QUEUE_FULL);
        }
    }

    private void sendStartupEvent() {
        if (!settings.startupEvent() || settings.producer() == null || !settings.producer().startsWith("svc://")) {
            return;
        }
        Map<String, Object> data = Deployments.startupData(settings);
        if (data != null && ProcessState.claimStartupEvent()) {
            emit("DeploymentEvent", data);
        }
    }

    /** A client with a transport, clock or monotonic time of your own (tests, benchmarks). */
    public static final class Builder {
        private final Settings settings;
        private Transport transport;
        private Clock clock = Clock.systemUTC();
        private LongSupplier nanoTime = System::nanoTime;

        private Builder(Settings settings) {
            this.settings = Objects.requireNonNull(settings, "settings");
        }

        public Builder transport(Transport transport) {
            this.transport = transport;
            return this;
        }

        /** The wall clock events are stamped with. */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /** The monotonic time (nanoseconds) behind ages, timeouts, the circuit and the control poll. */
        public Builder nanoTime(LongSupplier nanoTime) {
            this.nanoTime = Objects.requireNonNull(nanoTime, "nanoTime");
            return this;
        }

        public AutopilotClient build() {
            return new AutopilotClient(this);
        }
    }
}
