package dev.rca.autopilot.bench;

import dev.rca.autopilot.AutopilotClient;
import dev.rca.autopilot.Settings;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * What one {@code emit()} costs the calling thread, sampled call by call (p50, p99 from JMH's SampleTime), with the
 * backend up (a local server taking every batch, the worker busy encoding and sending beside the caller), down
 * (a closed port: the circuit opens) and with the SDK disabled.
 *
 * <p>Iterations are short (50 ms) and each ends with a flush outside the measurement, so the queue (1,000,000) never
 * fills: every sampled call takes the enqueue path, not the cheaper queue_full drop. The teardown prints how many
 * events were dropped as queue_full (expected 0) so a run that breaks this is visible.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 20, time = 50, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 40, time = 50, timeUnit = TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgs = {"-Xms512m", "-Xmx512m"})
public class EmitBenchmark {
    @Param({"up", "down", "disabled"})
    public String backend;

    /** Blackhole.consumeCPU tokens of business work between emits (about 1-3 us here). */
    @Param({"1000"})
    public long work;

    private AcceptAllBackend server;
    private AutopilotClient client;
    private Map<String, Object> data;
    private int runs;

    @Setup(Level.Trial)
    public void start() throws Exception {
        String endpoint;
        if ("up".equals(backend)) {
            server = new AcceptAllBackend();
            endpoint = server.url();
        } else {
            endpoint = AcceptAllBackend.closedPortUrl();
        }
        Settings settings = Settings.builder().enabled(!"disabled".equals(backend)).endpoint(endpoint)
                .service("checkout-service").env("bench").startupEvent(false).queueSize(1_000_000).batchSize(2000)
                .flushInterval(Duration.ofMillis(200)).build();
        client = new AutopilotClient(settings);
        data = new LinkedHashMap<>();
        data.put("run_id", "run-0");
        data.put("code_ref", "orders@4f2a9c1");
        data.put("env", "bench");
        data.put("executors", 20);
    }

    /**
     * The business work between two emits, outside the sampled time (SampleTime times the benchmark method alone).
     * Without it the loop would emit millions of events a second, a rate no host produces evidence at, and measure
     * the garbage collector copying a million queued events rather than emit().
     */
    @Setup(Level.Invocation)
    public void work() {
        Blackhole.consumeCPU(work);
    }

    @TearDown(Level.Iteration)
    public void drain() {
        client.flush(Duration.ofSeconds(60));
        if (++runs % 20 == 0) {
            System.out.println("[emit " + backend + "] " + client.signalsDropped() + " delivered=" + client.stats().delivered());
        }
    }

    @TearDown(Level.Trial)
    public void stop() {
        System.out.println("[emit " + backend + "] final " + client.signalsDropped() + " delivered=" + client.stats().delivered()
                + " circuit=" + client.circuitState());
        client.shutdown(Duration.ofSeconds(2));
        if (server != null) {
            server.close();
        }
    }

    @Benchmark
    public boolean emit() {
        return client.emit("JobRunStarted", data);
    }
}
