package dev.rca.autopilot.bench;

import dev.rca.autopilot.AutopilotClient;
import dev.rca.autopilot.Settings;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The delivery loop's own CPU per event (writing the batch's JSON, the HTTP exchange, or the drop), measured the way
 * sdk/node/bench/emit.mjs measures Node's: events are queued, then flushed, and this process's CPU time is divided
 * by the events: every thread (the worker, the JDK HTTP client's threads, the collector) but the one that emits
 * (emit() is JMH's to measure) and the JIT compiler (on a loaded machine it compiles for minutes; not the SDK's). The backend (taking every batch) runs in a JVM of its own, so its CPU is not counted. Backend up: a
 * kept-alive connection, batches of the default 512. Down: a closed port; after warm-up the circuit is open and
 * emit() refuses at once, so the loop has nothing to do (that cost is emit()'s, which EmitBenchmark measures).
 *
 * <pre>java -cp ... dev.rca.autopilot.bench.DeliveryCpu [blocks] [events per drain] [drains per block]</pre>
 *
 * <p>By default a block drains the default queue (2,048 events, 4 batches) 25 times; the figure is the median of 7
 * blocks. (A drain alone is too short for the process CPU clock's ~10 ms resolution; one huge queue would measure the
 * collector copying it instead.) Prints, per backend, where the CPU went by thread and the figure, then one JSON
 * line: microseconds of CPU per event.
 */
public final class DeliveryCpu {
    private DeliveryCpu() {}

    static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    /**
     * One block: {@code drains} times, queue {@code count} events and flush them. The CPU us per event of everything
     * but the calling thread (which emits, then sleeps in flush) and the JIT compiler (still catching up on a loaded
     * machine, and no cost of the SDK's): the worker, the HTTP client's threads, the collector.
     */
    static double run(AutopilotClient client, int count, int drains, Map<String, Object> data) {
        java.lang.management.ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        long before = processCpuNanos() - threads.getCurrentThreadCpuTime() - compilerCpuNanos();
        for (int k = 0; k < drains; k++) {
            for (int i = 0; i < count; i++) {
                client.emit("JobRunStarted", data);
            }
            client.flush(Duration.ofSeconds(60));
        }
        long used = processCpuNanos() - threads.getCurrentThreadCpuTime() - compilerCpuNanos() - before;
        return used / 1000.0 / count / drains;
    }

    /** CPU time of the JIT compiler's threads; 0 where /proc is not there. */
    static long compilerCpuNanos() {
        return osThreadCpu().entrySet().stream().filter(e -> e.getKey().contains("Compiler"))
                .mapToLong(Map.Entry::getValue).sum();
    }

    /**
     * CPU nanoseconds used so far by every thread of the process as the OS names them (Linux: /proc/self/task/N/stat,
     * in clock ticks of 10 ms), digits dropped: the JVM's own threads too (the collector's, the VM thread, the JIT
     * compiler's), which the ThreadMXBean does not show. Empty elsewhere.
     */
    static Map<String, Long> osThreadCpu() {
        Map<String, Long> out = new java.util.TreeMap<>();
        try (java.nio.file.DirectoryStream<java.nio.file.Path> tasks = java.nio.file.Files.newDirectoryStream(
                java.nio.file.Path.of("/proc/self/task"))) {
            for (java.nio.file.Path task : tasks) {
                try {
                    String stat = java.nio.file.Files.readString(task.resolve("stat"));
                    int open = stat.indexOf('(');
                    int close = stat.lastIndexOf(')');
                    String[] fields = stat.substring(close + 2).split(" ");
                    long ticks = Long.parseLong(fields[11]) + Long.parseLong(fields[12]); // utime, stime
                    out.merge(stat.substring(open + 1, close).replaceAll("[0-9]+", "N"), ticks * 10_000_000L, Long::sum);
                } catch (java.io.IOException | RuntimeException e) {
                    // the thread ended meanwhile
                }
            }
        } catch (java.io.IOException e) {
            return Map.of();
        }
        return out;
    }

    static long gcMillis() {
        return ManagementFactory.getGarbageCollectorMXBeans().stream().mapToLong(b -> Math.max(0, b.getCollectionTime())).sum();
    }

    /** CPU nanoseconds used so far by each live thread, by name with its digits dropped (HttpClient-N-Worker-M). */
    static Map<String, Long> threadCpu() {
        java.lang.management.ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        Map<String, Long> out = new java.util.TreeMap<>();
        for (java.lang.management.ThreadInfo info : threads.getThreadInfo(threads.getAllThreadIds())) {
            long used = info == null ? -1 : threads.getThreadCpuTime(info.getThreadId());
            if (used > 0) {
                out.merge(info.getThreadName().replaceAll("[0-9]+", "N"), used, Long::sum);
            }
        }
        return out;
    }

    static double median(List<Double> values) {
        List<Double> sorted = new ArrayList<>(values);
        sorted.sort(null);
        return sorted.get(sorted.size() / 2);
    }

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 7;
        int count = args.length > 1 ? Integer.parseInt(args[1]) : 2048;
        int drains = args.length > 2 ? Integer.parseInt(args[2]) : 25;
        Process backend = new ProcessBuilder(EndpointRounds.javaBinary(), "-Xmx128m", "-cp",
                System.getProperty("java.class.path"), AcceptAllBackend.class.getName())
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        Map<String, Double> result = new LinkedHashMap<>();
        try {
            String up = new BufferedReader(new InputStreamReader(backend.getInputStream(), StandardCharsets.UTF_8)).readLine();
            Map<String, Object> data = new LinkedHashMap<>();
            data.put("run_id", "r-1");
            data.put("code_ref", "orders@4f2a9c1");
            data.put("env", "prod");
            for (String name : new String[] {"up", "down"}) {
                String endpoint = "up".equals(name) ? up : AcceptAllBackend.closedPortUrl();
                Settings settings = Settings.builder().enabled(true).endpoint(endpoint).service("bench")
                        .startupEvent(false).queueSize(count).flushInterval(Duration.ofSeconds(3600)).build();
                AutopilotClient client = new AutopilotClient(settings);
                try {
                    // Warm up the connection, the circuit and the JIT: at least 10 blocks, then until a block leaves the
                    // compiler nearly idle (on a loaded machine its threads lag far behind), at most 60.
                    java.lang.management.CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
                    for (int k = 0; k < 60; k++) {
                        long compiled = jit.getTotalCompilationTime();
                        run(client, count, drains, data);
                        if (k >= 10 && jit.getTotalCompilationTime() - compiled < 20) {
                            break;
                        }
                    }
                    List<Double> samples = new ArrayList<>();
                    Map<String, Long> threadsBefore = threadCpu();
                    long processBefore = processCpuNanos();
                    long gcBefore = gcMillis();
                    long compilerBefore = compilerCpuNanos();
                    Map<String, Long> osBefore = osThreadCpu();
                    for (int k = 0; k < runs; k++) {
                        samples.add(run(client, count, drains, data));
                    }
                    // Where it went, over all blocks (emit() included: the main thread): by thread, and the rest of the
                    // process (the JIT compiler, left out of the figure, and the collector: not Java threads).
                    long processUsed = processCpuNanos() - processBefore;
                    long events = (long) runs * drains * count;
                    StringBuilder split = new StringBuilder();
                    long javaThreads = 0;
                    for (Map.Entry<String, Long> entry : threadCpu().entrySet()) {
                        long used = entry.getValue() - threadsBefore.getOrDefault(entry.getKey(), 0L);
                        javaThreads += used;
                        if (used > 0) {
                            split.append(String.format(Locale.ROOT, " %s %.2f", entry.getKey(), used / 1000.0 / events));
                        }
                    }
                    System.out.printf(Locale.ROOT, "[delivery %s] CPU us per event by thread (emit included):%s; not Java"
                            + " threads %.2f, of which the JIT compiler %.2f (not counted); GC %d ms in all%n", name, split,
                            (processUsed - javaThreads) / 1000.0 / events,
                            (compilerCpuNanos() - compilerBefore) / 1000.0 / events, gcMillis() - gcBefore);
                    StringBuilder os = new StringBuilder();
                    for (Map.Entry<String, Long> entry : osThreadCpu().entrySet()) {
                        long used = entry.getValue() - osBefore.getOrDefault(entry.getKey(), 0L);
                        if (used > 0) {
                            os.append(String.format(Locale.ROOT, " %s %.2f", entry.getKey(), used / 1000.0 / events));
                        }
                    }
                    System.out.printf(Locale.ROOT, "[delivery %s] CPU us per event by OS thread (10 ms ticks, every"
                            + " thread):%s%n", name, os);
                    result.put(name, median(samples));
                    String note = median(samples) < 0 ? " (below 0: the CPU clocks' resolution around nothing)" : "";
                    System.out.printf(Locale.ROOT, "[delivery %s] CPU us per event: median %.2f of %s%s; %s delivered=%d%n",
                            name, median(samples), samples.stream().map(v -> String.format(Locale.ROOT, "%.2f", v)).toList(),
                            note,
                            client.signalsDropped(), client.stats().delivered());
                } finally {
                    client.shutdown(Duration.ofSeconds(2));
                }
            }
        } finally {
            backend.getOutputStream().close();
            backend.destroy();
        }
        System.out.printf(Locale.ROOT, "{\"up\":%.3f,\"down\":%.3f}%n", result.get("up"), result.get("down"));
    }
}
