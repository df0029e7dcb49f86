package dev.rca.autopilot.bench;

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
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * The floor under {@link EmitBenchmark}'s percentiles, measured the same way in the same run: copying the event's
 * data map, the one allocation the contract requires of emit() (section 3: a shallow copy). On a loaded machine
 * its p99 is set by allocation, page faults and preemption, not by the SDK; emit()'s p99 is read against it.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 20, time = 50, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 40, time = 50, timeUnit = TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgs = {"-Xms512m", "-Xmx512m"})
public class CopyBaselineBenchmark {
    @Param({"1000"})
    public long work;

    private Map<String, Object> data;

    @Setup(Level.Trial)
    public void start() {
        data = new LinkedHashMap<>();
        data.put("run_id", "run-0");
        data.put("code_ref", "orders@4f2a9c1");
        data.put("env", "bench");
        data.put("executors", 20);
    }

    @Setup(Level.Invocation)
    public void work() {
        Blackhole.consumeCPU(work);
    }

    @Benchmark
    public Map<String, Object> copy() {
        return new LinkedHashMap<>(data);
    }
}
