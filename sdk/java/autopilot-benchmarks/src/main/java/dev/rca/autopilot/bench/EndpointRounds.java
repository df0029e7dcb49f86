package dev.rca.autopilot.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An HTTP endpoint's throughput (real Tomcat, Spring MVC and Jackson; one evidence event per request) with the starter
 * disabled, enabled with a healthy backend, and enabled with the backend down, compared in paired rounds.
 *
 * <pre>java -cp ... dev.rca.autopilot.bench.EndpointRounds [rounds] [seconds per window] [work us per request]</pre>
 *
 * <p>Each request does about {@code work us} (default 500, as sdk/node/bench/emit.mjs) of a handler's CPU work
 * (CheckoutApplication.Work, calibrated here once and given to every application alike) besides its one emit(); 0
 * measures the near-empty endpoint, whose ~50 us of CPU per request makes any per-event SDK cost look large.
 *
 * <p>Why not JMH: a JMH fork runs one configuration, and on a shared machine the throughput of one and the same
 * configuration drifts by tens of percent between forks started minutes apart, far more than the 2% to be judged.
 * Here every mode is its own long-lived application JVM, started once; each round gives every mode one window of
 * load, in a rotating order, and each mode is compared with the disabled run of its own round. The figure is the
 * median of those per-round ratios. A second disabled application, {@code disabled-control}, is run as a mode of
 * its own: its ratio to {@code disabled} is the noise floor of this run, printed beside the others.
 *
 * <p>Pinned (system property {@code bench.app-cpus}, e.g. {@code 0}, set by benchmarks/java_sdk_bench.py, which puts
 * this JVM on the other CPUs and names them in {@code bench.driver-cpus}): every application JVM is started under
 * {@code taskset -c}, so the application under test has a CPU of its own, and the load generator (this JVM's client
 * threads) and the backend (taking every batch, in this JVM too) cannot take from it, nor it from them. Unpinned, on
 * 2 CPUs, the three shared both and the wall-clock noise floor was 6-7% on a quiet machine. Pinned, the application's
 * CPU is the bottleneck (its share of a CPU is printed per mode: about 100% when it is), so an SDK's cost shows as
 * lost throughput; the SDK's worker and HTTP client threads run on that CPU too, which is the honest setting: they
 * are the host's. Only the application under load is busy; the three idle ones on the same CPU hardly wake.
 *
 * <p>Warm-up: each application is loaded until its JIT compiler is done ({@link #warmUp}: a 1 s window with the
 * compiler nearly idle and level throughput), and those windows are not measured; each measured window's JIT time
 * is printed, so a round that still measured compilation is visible.
 *
 * <p>Beside wall-clock throughput, each application's CPU time per request (ProcessHandle's total CPU), which load
 * from other processes hardly moves; the 2% target is judged on it too (per-round ratios to disabled, the control's
 * ratio as its noise floor). The last line printed is JSON, for benchmarks/java_sdk_bench.py.
 */
public final class EndpointRounds {
    static final String[] MODES = {"disabled", "disabled-control", "enabled-healthy", "enabled-backend-down"};
    /** Kept-alive connections loading the application at once: enough that its one CPU always has a request to work
     * on (with 2, the near-empty endpoint left it idle half the time, waiting on the round trip to the other CPU). */
    static final int THREADS = Integer.getInteger("bench.connections", 4);
    /** Warm-up: at least this many requests and windows, then until WARM_UP_QUIET windows of 1 s in a row find the JIT
     * (nearly) idle and the throughput level with the window before; at most WARM_UP_CAP_SECONDS per application. */
    static final long WARM_UP_REQUESTS = 20_000;
    static final int WARM_UP_MIN_WINDOWS = 8;
    static final long WARM_UP_JIT_MS = 5;
    static final double WARM_UP_LEVEL = 0.03;
    static final int WARM_UP_QUIET = 3;
    static final double WARM_UP_CAP_SECONDS = Double.parseDouble(System.getProperty("bench.warm-up-cap", "120"));
    /** The CPUs the applications are pinned to (taskset -c), from the driver; null: not pinned. */
    static final String APP_CPUS = System.getProperty("bench.app-cpus");
    /** Where the driver pinned this JVM (the load generator and the backend), for the report only. */
    static final String DRIVER_CPUS = System.getProperty("bench.driver-cpus");

    private EndpointRounds() {}

    /** One application JVM: its process, its port, and what it printed (the SDK's counters come last). */
    static final class App implements AutoCloseable {
        final String mode;
        final Process process;
        final int port;
        final List<String> output = new ArrayList<>(); // kept for the error when it does not start

        App(String mode, String endpoint, int workRounds, String cpus) throws IOException {
            this.mode = mode;
            this.port = freePort();
            String classpath = System.getProperty("java.class.path");
            List<String> command = new ArrayList<>();
            if (cpus != null) {
                command.addAll(List.of("taskset", "-c", cpus)); // every thread of the JVM, from its first
            }
            command.addAll(List.of(
                    javaBinary(), "-Xms256m", "-Xmx256m", "-XX:+UseParallelGC", "-cp", classpath,
                    CheckoutApplication.class.getName(),
                    "--server.port=" + port, "--server.tomcat.max-keep-alive-requests=-1",
                    "--server.tomcat.keep-alive-timeout=-1", "--spring.main.banner-mode=off",
                    "--logging.level.root=warn", "--autopilot.enabled=" + mode.startsWith("enabled"),
                    "--autopilot.endpoint=" + endpoint, "--autopilot.service=checkout-service",
                    "--autopilot.env=bench", "--autopilot.startup-event=false", "--bench.work-rounds=" + workRounds));
            ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
            builder.environment().keySet().removeIf(name -> name.startsWith("AUTOPILOT_"));
            process = builder.start();
            Thread reader = new Thread(() -> {
                try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = in.readLine()) != null) {
                        synchronized (output) {
                            output.add(line);
                        }
                    }
                } catch (IOException ignored) {
                    // the process ended
                }
            }, "output-" + mode);
            reader.setDaemon(true);
            reader.start();
        }

        void awaitReady(Duration timeout) throws Exception {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (true) {
                try (Connection connection = new Connection(port)) {
                    connection.exchange();
                    return;
                } catch (IOException e) {
                    if (!process.isAlive() || System.nanoTime() > deadline) {
                        throw new IllegalStateException(mode + " did not start: " + String.join("\n", lines()), e);
                    }
                    Thread.sleep(200);
                }
            }
        }

        /** The SDK's counters, as the application reports them. */
        String counters() {
            try {
                return get("/autopilot-counters");
            } catch (IOException | InterruptedException e) {
                return "unknown (" + e + ")";
            }
        }

        /** Milliseconds the application's JIT compiler has worked so far. */
        long jitMillis() throws IOException, InterruptedException {
            return Long.parseLong(get("/bench-jit").trim());
        }

        private String get(String path) throws IOException, InterruptedException {
            return CONTROL.send(java.net.http.HttpRequest.newBuilder(
                    java.net.URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(30)).build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString()).body();
        }

        /** CPU time of the application's process so far, in microseconds. */
        long cpuMicros() {
            return process.toHandle().info().totalCpuDuration().map(d -> d.toNanos() / 1000).orElse(-1L);
        }

        List<String> lines() {
            synchronized (output) {
                return new ArrayList<>(output);
            }
        }

        @Override
        public void close() throws Exception {
            process.destroy(); // SIGTERM: Spring closes the context, the app prints its SDK counters
            if (!process.waitFor(20, java.util.concurrent.TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
            Thread.sleep(100); // let the reader take the last lines
        }
    }

    /** For the few requests outside the measured windows (counters, JIT time). */
    private static final java.net.http.HttpClient CONTROL = java.net.http.HttpClient.newHttpClient();

    static String javaBinary() {
        return java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /** A kept-alive connection, written and read by hand, so the client costs next to nothing. */
    static final class Connection implements AutoCloseable {
        private final Socket socket;
        private final java.io.InputStream in;
        private final java.io.OutputStream out;
        private final byte[] request;

        Connection(int port) throws IOException {
            socket = new Socket("127.0.0.1", port);
            socket.setTcpNoDelay(true);
            in = new java.io.BufferedInputStream(socket.getInputStream());
            out = socket.getOutputStream();
            byte[] body = CheckoutApplication.ORDER.getBytes(StandardCharsets.UTF_8);
            request = ("POST /orders HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: "
                    + body.length + "\r\n\r\n" + CheckoutApplication.ORDER).getBytes(StandardCharsets.UTF_8);
        }

        /** Send the order, read the answer (status line, headers, a Content-Length or chunked body). */
        int exchange() throws IOException {
            out.write(request);
            out.flush();
            String status = line();
            int length = -1;
            boolean chunked = false;
            String header;
            while (!(header = line()).isEmpty()) {
                String lower = header.toLowerCase(Locale.ROOT);
                if (lower.startsWith("content-length:")) {
                    length = Integer.parseInt(lower.substring(15).trim());
                } else if (lower.startsWith("transfer-encoding:") && lower.contains("chunked")) {
                    chunked = true;
                }
            }
            if (!status.startsWith("HTTP/1.1 200")) {
                throw new IllegalStateException(status);
            }
            if (!chunked) {
                return in.readNBytes(length).length;
            }
            int total = 0;
            while (true) {
                int size = Integer.parseInt(line().trim(), 16);
                total += in.readNBytes(size).length;
                line();
                if (size == 0) {
                    return total;
                }
            }
        }

        private String line() throws IOException {
            StringBuilder text = new StringBuilder();
            int c;
            while ((c = in.read()) != '\n') {
                if (c < 0) {
                    throw new java.io.EOFException();
                }
                if (c != '\r') {
                    text.append((char) c);
                }
            }
            return text.toString();
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    /** Requests completed against {@code app} by THREADS kept-alive connections within {@code seconds}. */
    static long window(App app, double seconds) throws Exception {
        AtomicLong done = new AtomicLong();
        long deadline = System.nanoTime() + (long) (seconds * 1e9);
        Thread[] threads = new Thread[THREADS];
        Exception[] failure = new Exception[1];
        for (int t = 0; t < THREADS; t++) {
            threads[t] = new Thread(() -> {
                try (Connection connection = new Connection(app.port)) {
                    long count = 0;
                    while (System.nanoTime() < deadline) {
                        connection.exchange();
                        count++;
                    }
                    done.addAndGet(count);
                } catch (Exception e) {
                    failure[0] = e;
                }
            });
            threads[t].start();
        }
        for (Thread thread : threads) {
            thread.join();
        }
        if (failure[0] != null) {
            throw new IllegalStateException(app.mode + ": " + failure[0], failure[0]);
        }
        return done.get();
    }

    /**
     * Load {@code app} in 1 s windows until its JIT is done: at least WARM_UP_REQUESTS requests and WARM_UP_MIN_WINDOWS
     * windows, then until WARM_UP_QUIET windows in a row in which the compiler worked under WARM_UP_JIT_MS, the last
     * with a throughput within WARM_UP_LEVEL of the window before (C2 compiles the request path over tens of thousands
     * of requests, in bursts, and a round measured meanwhile measures compilation, not the SDK); WARM_UP_CAP_SECONDS
     * at most, so a starved run still ends (then said so). What it took, for the report.
     */
    static String warmUp(App app) throws Exception {
        long done = 0;
        int windows = 0;
        int quiet = 0;
        double previous = 0;
        long start = System.nanoTime();
        long jitStart = app.jitMillis();
        while (true) {
            long jitBefore = app.jitMillis();
            long count = window(app, 1);
            long compiled = app.jitMillis() - jitBefore;
            done += count;
            windows++;
            quiet = compiled < WARM_UP_JIT_MS ? quiet + 1 : 0;
            boolean level = previous > 0 && Math.abs(count / previous - 1) < WARM_UP_LEVEL;
            previous = count;
            double elapsed = (System.nanoTime() - start) / 1e9;
            boolean settled = done >= WARM_UP_REQUESTS && windows >= WARM_UP_MIN_WINDOWS && quiet >= WARM_UP_QUIET
                    && level;
            if (settled || elapsed >= WARM_UP_CAP_SECONDS) {
                return String.format(Locale.ROOT, "%d requests in %.0f s, JIT %d ms; last window %d req/s, JIT %d ms%s",
                        done, elapsed, app.jitMillis() - jitStart, count, compiled,
                        settled ? "" : " (NOT settled: stopped at the cap)");
            }
        }
    }

    /** CPU time of this JVM (the load generator and the backend) so far, in microseconds. */
    static long ownCpuMicros() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory
                .getOperatingSystemMXBean()).getProcessCpuTime() / 1000;
    }

    /** Within 2% of disabled, given the cost (a loss in %, positive = worse) and the run's noise floor. */
    static String verdict(double loss, double noise) {
        return noise >= 2 ? "undecided: noise floor not below the 2% margin"
                : loss <= 2 ? "met" : loss > 2 + noise ? "not met" : "undecided: within the noise of the margin";
    }

    static double percentile(List<Double> values, double p) {
        double[] sorted = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        if (sorted.length == 0) {
            return Double.NaN;
        }
        return sorted[Math.min(sorted.length - 1, (int) Math.floor(p / 100 * sorted.length))];
    }

    static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 11;
        double seconds = args.length > 1 ? Double.parseDouble(args[1]) : 2;
        double workUs = args.length > 2 ? Double.parseDouble(args[2]) : 500;
        int workRounds = CheckoutApplication.Work.calibrate(workUs); // before the applications start: a quiet JVM
        double loadBefore = java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
        Map<String, App> apps = new LinkedHashMap<>();
        try (AcceptAllBackend backend = new AcceptAllBackend()) {
            String closed = AcceptAllBackend.closedPortUrl();
            for (String mode : MODES) {
                apps.put(mode, new App(mode, "enabled-healthy".equals(mode) ? backend.url() : closed, workRounds, APP_CPUS));
            }
            for (App app : apps.values()) {
                app.awaitReady(Duration.ofMinutes(10)); // four Spring applications starting at once on a loaded machine
            }
            Map<String, String> warmUps = new LinkedHashMap<>();
            for (App app : apps.values()) {
                warmUps.put(app.mode, warmUp(app));
                System.out.printf(Locale.ROOT, "[endpoint warm-up] %s: %s%n", app.mode, warmUps.get(app.mode));
            }
            Map<String, List<Double>> rates = new LinkedHashMap<>();
            Map<String, List<Double>> ratios = new LinkedHashMap<>();
            Map<String, List<Double>> cpu = new LinkedHashMap<>();
            Map<String, List<Double>> cpuDeltas = new LinkedHashMap<>();
            Map<String, List<Double>> cpuRatios = new LinkedHashMap<>();
            Map<String, List<Double>> busy = new LinkedHashMap<>();
            Map<String, List<Double>> jit = new LinkedHashMap<>();
            for (String mode : MODES) {
                rates.put(mode, new ArrayList<>());
                ratios.put(mode, new ArrayList<>());
                cpu.put(mode, new ArrayList<>());
                cpuDeltas.put(mode, new ArrayList<>());
                cpuRatios.put(mode, new ArrayList<>());
                busy.put(mode, new ArrayList<>());
                jit.put(mode, new ArrayList<>());
            }
            List<Double> driverBusy = new ArrayList<>();
            for (int round = 0; round < rounds; round++) {
                Map<String, Double> rate = new LinkedHashMap<>();
                Map<String, Double> cpuPerRequest = new LinkedHashMap<>();
                for (int k = 0; k < MODES.length; k++) {
                    App app = apps.get(MODES[(round + k) % MODES.length]);
                    long jitBefore = app.jitMillis();
                    long cpuBefore = app.cpuMicros();
                    long driverBefore = ownCpuMicros();
                    long done = window(app, seconds);
                    long cpuUsed = app.cpuMicros() - cpuBefore;
                    driverBusy.add((ownCpuMicros() - driverBefore) / (seconds * 1e6) * 100);
                    busy.get(app.mode).add(cpuUsed / (seconds * 1e6) * 100);
                    jit.get(app.mode).add((double) (app.jitMillis() - jitBefore));
                    rate.put(app.mode, done / seconds);
                    cpuPerRequest.put(app.mode, (double) cpuUsed / Math.max(1, done));
                }
                for (String mode : MODES) {
                    rates.get(mode).add(rate.get(mode));
                    ratios.get(mode).add((rate.get(mode) / rate.get("disabled") - 1) * 100);
                    cpu.get(mode).add(cpuPerRequest.get(mode));
                    cpuDeltas.get(mode).add(cpuPerRequest.get(mode) - cpuPerRequest.get("disabled"));
                    cpuRatios.get(mode).add((cpuPerRequest.get(mode) / cpuPerRequest.get("disabled") - 1) * 100);
                }
                System.out.printf(Locale.ROOT, "[endpoint round %d] %s%n", round + 1, rate);
            }
            Map<String, String> counters = new LinkedHashMap<>();
            for (App app : apps.values()) {
                counters.put(app.mode, app.counters());
                app.close();
            }
            report(rounds, seconds, workUs, workRounds, loadBefore, counters, rates, ratios, cpu, cpuDeltas, cpuRatios,
                    busy, jit, driverBusy, warmUps);
        } finally {
            for (App app : apps.values()) {
                app.process.destroyForcibly();
            }
        }
    }

    private static void report(int rounds, double seconds, double workUs, int workRounds, double loadBefore,
                               Map<String, String> counters,
                               Map<String, List<Double>> rates, Map<String, List<Double>> ratios,
                               Map<String, List<Double>> cpu, Map<String, List<Double>> cpuDeltas,
                               Map<String, List<Double>> cpuRatios,
                               Map<String, List<Double>> busy, Map<String, List<Double>> jit, List<Double> driverBusy,
                               Map<String, String> warmUps) {
        double loadAfter = java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
        List<Double> control = ratios.get("disabled-control");
        double noise = Math.max(Math.abs(percentile(control, 50)), (percentile(control, 75) - percentile(control, 25)) / 2);
        System.out.printf(Locale.ROOT, "%nHTTP endpoint, %s + one emit() per request, %d paired rounds of %.1f s per"
                + " mode, %d connections (load average %.2f before, %.2f after)%n", workRounds == 0
                ? "no business work" : String.format(Locale.ROOT, "~%.0f us of business CPU work (%d rounds of SHA-256"
                + " over the order)", workUs, workRounds), rounds, seconds, THREADS, loadBefore, loadAfter);
        System.out.println(APP_CPUS == null ? "  not pinned: the applications, the load generator and the backend share"
                + " every CPU (wall-clock ratios then carry their contention)" : String.format(Locale.ROOT, "  pinned:"
                + " each application JVM (all its threads: Tomcat, the SDK's worker and HTTP client, GC, JIT) on CPU %s"
                + " (taskset -c); the load generator and the backend on CPU %s. The application's CPU is the bottleneck,"
                + " so what the SDK costs shows as its lost throughput; the load generator (%.0f%% of a CPU, median)"
                + " does not compete with it", APP_CPUS, DRIVER_CPUS == null ? "(the rest)" : DRIVER_CPUS,
                percentile(driverBusy, 50)));
        for (Map.Entry<String, String> entry : warmUps.entrySet()) {
            System.out.printf(Locale.ROOT, "  warm-up (not measured), %s: %s%n", entry.getKey(), entry.getValue());
        }
        System.out.printf(Locale.ROOT, "  %-22s %8s %12s %18s %11s %8s %8s %8s%n", "", "req/s", "vs disabled",
                "rounds p25..p75", "CPU us/req", "+CPU us", "app CPU", "JIT ms");
        StringBuilder json = new StringBuilder("{\"rounds\":" + rounds + ",\"seconds\":" + seconds + ",\"work_us\":"
                + workUs + ",\"work_rounds\":" + workRounds + ",\"modes\":{");
        for (String mode : MODES) {
            boolean first = "disabled".equals(mode);
            double delta = percentile(ratios.get(mode), 50);
            double p25 = percentile(ratios.get(mode), 25);
            double p75 = percentile(ratios.get(mode), 75);
            double cpuDelta = percentile(cpuDeltas.get(mode), 50);
            System.out.printf(Locale.ROOT, "  %-22s %8.0f %12s %18s %11.1f %8s %7.0f%% %8.0f%n", mode,
                    percentile(rates.get(mode), 50), first ? "-" : String.format(Locale.ROOT, "%+.2f%%", delta),
                    first ? "-" : String.format(Locale.ROOT, "%+.1f..%+.1f%%", p25, p75),
                    percentile(cpu.get(mode), 50), first ? "-" : String.format(Locale.ROOT, "%+.1f", cpuDelta),
                    percentile(busy.get(mode), 50), percentile(jit.get(mode), 100));
            json.append(first ? "" : ",").append(String.format(Locale.ROOT,
                    "\"%s\":{\"req_per_s\":%.1f,\"delta_pct\":%.3f,\"delta_pct_p25\":%.3f,\"delta_pct_p75\":%.3f,"
                            + "\"cpu_us_per_req\":%.2f,\"cpu_delta_us\":%.2f,\"app_cpu_pct\":%.1f,\"jit_ms_max\":%.0f,"
                            + "\"rounds_req_per_s\":%s}",
                    mode, percentile(rates.get(mode), 50), delta, p25, p75, percentile(cpu.get(mode), 50), cpuDelta,
                    percentile(busy.get(mode), 50), percentile(jit.get(mode), 100),
                    Arrays.toString(rates.get(mode).stream().mapToLong(Math::round).toArray())));
        }
        System.out.println("  vs disabled: median of the per-round ratios, and their interquartile range. CPU us/req: the"
                + " application's\n  CPU time per request (robust to load elsewhere); +CPU us: median per-round"
                + " difference from disabled;\n  app CPU: the application's CPU time per window (100% = one CPU kept"
                + " busy); JIT ms: the most its compiler worked in one measured window.");
        System.out.printf(Locale.ROOT, "  noise floor (disabled-control vs disabled): %.2f%% (|median| or half the IQR,"
                + " the larger)%n", noise);
        json.append("},\"noise_floor_pct\":").append(String.format(Locale.ROOT, "%.3f", noise)).append(",\"target\":{");
        boolean firstVerdict = true;
        for (String mode : new String[] {"enabled-healthy", "enabled-backend-down"}) {
            String verdict = verdict(-percentile(ratios.get(mode), 50), noise);
            System.out.printf("  target (within 2%% of disabled), %s: %s%n", mode, verdict);
            json.append(firstVerdict ? "" : ",").append('"').append(mode).append("\":\"").append(verdict).append('"');
            firstVerdict = false;
        }
        // The same judgement on the application's CPU per request: the throughput a CPU-bound host gives up, which
        // other processes' load hardly moves (they take the application's CPU time, not its CPU per request).
        List<Double> cpuControl = cpuRatios.get("disabled-control");
        double cpuNoise = Math.max(Math.abs(percentile(cpuControl, 50)),
                (percentile(cpuControl, 75) - percentile(cpuControl, 25)) / 2);
        System.out.printf(Locale.ROOT, "  CPU per request vs disabled (median of the per-round ratios, p25..p75):");
        for (String mode : new String[] {"disabled-control", "enabled-healthy", "enabled-backend-down"}) {
            System.out.printf(Locale.ROOT, " %s %+.2f%% (%+.1f..%+.1f%%)", mode, percentile(cpuRatios.get(mode), 50),
                    percentile(cpuRatios.get(mode), 25), percentile(cpuRatios.get(mode), 75));
        }
        System.out.printf(Locale.ROOT, "%n  CPU noise floor (disabled-control vs disabled): %.2f%%%n", cpuNoise);
        json.append("},\"cpu_noise_floor_pct\":").append(String.format(Locale.ROOT, "%.3f", cpuNoise))
                .append(",\"cpu_target\":{");
        firstVerdict = true;
        for (String mode : new String[] {"enabled-healthy", "enabled-backend-down"}) {
            double delta = percentile(cpuRatios.get(mode), 50);
            String verdict = verdict(delta, cpuNoise);
            System.out.printf(Locale.ROOT, "  target by CPU per request (within 2%% of disabled), %s: %+.2f%%, %s%n", mode,
                    delta, verdict);
            json.append(firstVerdict ? "" : ",").append('"').append(mode).append("\":{\"delta_pct\":")
                    .append(String.format(Locale.ROOT, "%.3f", delta)).append(",\"verdict\":\"").append(verdict)
                    .append("\"}");
            firstVerdict = false;
        }
        json.append("},\"sdk\":{");
        boolean firstSdk = true;
        for (Map.Entry<String, String> entry : counters.entrySet()) {
            System.out.printf("  %s: %s%n", entry.getKey(), entry.getValue());
            json.append(firstSdk ? "" : ",").append('"').append(entry.getKey()).append("\":\"")
                    .append(entry.getValue().replace("\"", "'")).append('"');
            firstSdk = false;
        }
        json.append("},\"pinned\":").append(APP_CPUS == null ? "null" : "{\"app_cpus\":\"" + APP_CPUS
                + "\",\"driver_cpus\":\"" + DRIVER_CPUS + "\"}").append(",\"driver_cpu_pct\":")
                .append(String.format(Locale.ROOT, "%.1f", percentile(driverBusy, 50)));
        json.append(",\"load_before\":").append(String.format(Locale.ROOT, "%.2f", loadBefore))
                .append(",\"load_after\":").append(String.format(Locale.ROOT, "%.2f", loadAfter)).append('}');
        System.out.println(json);
    }
}
