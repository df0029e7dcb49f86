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
 * <p>Beside wall-clock throughput, each application's CPU time per request (ProcessHandle's total CPU), which load
 * from other processes hardly moves. The backend (taking every batch) runs in this driver's JVM, not in the
 * applications. The last line printed is JSON, for benchmarks/java_sdk_bench.py.
 */
public final class EndpointRounds {
    static final String[] MODES = {"disabled", "disabled-control", "enabled-healthy", "enabled-backend-down"};
    static final int THREADS = 2;
    static final long WARM_UP_REQUESTS = 20_000;

    private EndpointRounds() {}

    /** One application JVM: its process, its port, and what it printed (the SDK's counters come last). */
    static final class App implements AutoCloseable {
        final String mode;
        final Process process;
        final int port;
        final List<String> output = new ArrayList<>(); // kept for the error when it does not start

        App(String mode, String endpoint, int workRounds) throws IOException {
            this.mode = mode;
            this.port = freePort();
            String classpath = System.getProperty("java.class.path");
            List<String> command = new ArrayList<>(List.of(
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
                java.net.http.HttpResponse<String> answer = java.net.http.HttpClient.newHttpClient().send(
                        java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + port
                                + "/autopilot-counters")).timeout(Duration.ofSeconds(30)).build(),
                        java.net.http.HttpResponse.BodyHandlers.ofString());
                return answer.body();
            } catch (IOException | InterruptedException e) {
                return "unknown (" + e + ")";
            }
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
                apps.put(mode, new App(mode, "enabled-healthy".equals(mode) ? backend.url() : closed, workRounds));
            }
            for (App app : apps.values()) {
                app.awaitReady(Duration.ofMinutes(10)); // four Spring applications starting at once on a loaded machine
            }
            // Warm up: the JIT (thousands of requests before C2 has compiled the request path), the connections,
            // the circuit of the down backend open. By count, not time: on a loaded machine a few seconds are a few
            // hundred requests, and the rounds would then measure compilation. Capped, so a starved run still ends.
            for (App app : apps.values()) {
                long done = 0;
                long cap = System.nanoTime() + 60_000_000_000L;
                while (done < WARM_UP_REQUESTS && System.nanoTime() < cap) {
                    done += window(app, 1);
                }
                System.out.printf(Locale.ROOT, "[endpoint warm-up] %s: %d requests%n", app.mode, done);
            }
            Map<String, List<Double>> rates = new LinkedHashMap<>();
            Map<String, List<Double>> ratios = new LinkedHashMap<>();
            Map<String, List<Double>> cpu = new LinkedHashMap<>();
            Map<String, List<Double>> cpuDeltas = new LinkedHashMap<>();
            for (String mode : MODES) {
                rates.put(mode, new ArrayList<>());
                ratios.put(mode, new ArrayList<>());
                cpu.put(mode, new ArrayList<>());
                cpuDeltas.put(mode, new ArrayList<>());
            }
            for (int round = 0; round < rounds; round++) {
                Map<String, Double> rate = new LinkedHashMap<>();
                Map<String, Double> cpuPerRequest = new LinkedHashMap<>();
                for (int k = 0; k < MODES.length; k++) {
                    App app = apps.get(MODES[(round + k) % MODES.length]);
                    long cpuBefore = app.cpuMicros();
                    long done = window(app, seconds);
                    long cpuUsed = app.cpuMicros() - cpuBefore;
                    rate.put(app.mode, done / seconds);
                    cpuPerRequest.put(app.mode, (double) cpuUsed / Math.max(1, done));
                }
                for (String mode : MODES) {
                    rates.get(mode).add(rate.get(mode));
                    ratios.get(mode).add((rate.get(mode) / rate.get("disabled") - 1) * 100);
                    cpu.get(mode).add(cpuPerRequest.get(mode));
                    cpuDeltas.get(mode).add(cpuPerRequest.get(mode) - cpuPerRequest.get("disabled"));
                }
                System.out.printf(Locale.ROOT, "[endpoint round %d] %s%n", round + 1, rate);
            }
            Map<String, String> counters = new LinkedHashMap<>();
            for (App app : apps.values()) {
                counters.put(app.mode, app.counters());
                app.close();
            }
            report(rounds, seconds, workUs, workRounds, loadBefore, counters, rates, ratios, cpu, cpuDeltas);
        } finally {
            for (App app : apps.values()) {
                app.process.destroyForcibly();
            }
        }
    }

    private static void report(int rounds, double seconds, double workUs, int workRounds, double loadBefore,
                               Map<String, String> counters,
                               Map<String, List<Double>> rates, Map<String, List<Double>> ratios,
                               Map<String, List<Double>> cpu, Map<String, List<Double>> cpuDeltas) {
        double loadAfter = java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
        List<Double> control = ratios.get("disabled-control");
        double noise = Math.max(Math.abs(percentile(control, 50)), (percentile(control, 75) - percentile(control, 25)) / 2);
        System.out.printf(Locale.ROOT, "%nHTTP endpoint, %s + one emit() per request, %d paired rounds of %.1f s per"
                + " mode, %d connections (load average %.2f before, %.2f after)%n", workRounds == 0
                ? "no business work" : String.format(Locale.ROOT, "~%.0f us of business CPU work (%d rounds of decode, walk,"
                + " encode)", workUs, workRounds), rounds, seconds, THREADS, loadBefore, loadAfter);
        System.out.printf(Locale.ROOT, "  %-22s %8s %12s %18s %11s %8s%n", "", "req/s", "vs disabled",
                "rounds p25..p75", "CPU us/req", "+CPU us");
        StringBuilder json = new StringBuilder("{\"rounds\":" + rounds + ",\"seconds\":" + seconds + ",\"work_us\":"
                + workUs + ",\"work_rounds\":" + workRounds + ",\"modes\":{");
        for (String mode : MODES) {
            boolean first = "disabled".equals(mode);
            double delta = percentile(ratios.get(mode), 50);
            double p25 = percentile(ratios.get(mode), 25);
            double p75 = percentile(ratios.get(mode), 75);
            double cpuDelta = percentile(cpuDeltas.get(mode), 50);
            System.out.printf(Locale.ROOT, "  %-22s %8.0f %12s %18s %11.1f %8s%n", mode, percentile(rates.get(mode), 50),
                    first ? "-" : String.format(Locale.ROOT, "%+.2f%%", delta),
                    first ? "-" : String.format(Locale.ROOT, "%+.1f..%+.1f%%", p25, p75),
                    percentile(cpu.get(mode), 50), first ? "-" : String.format(Locale.ROOT, "%+.1f", cpuDelta));
            json.append(first ? "" : ",").append(String.format(Locale.ROOT,
                    "\"%s\":{\"req_per_s\":%.1f,\"delta_pct\":%.3f,\"delta_pct_p25\":%.3f,\"delta_pct_p75\":%.3f,"
                            + "\"cpu_us_per_req\":%.2f,\"cpu_delta_us\":%.2f,\"rounds_req_per_s\":%s}",
                    mode, percentile(rates.get(mode), 50), delta, p25, p75, percentile(cpu.get(mode), 50), cpuDelta,
                    Arrays.toString(rates.get(mode).stream().mapToLong(Math::round).toArray())));
        }
        System.out.println("  vs disabled: median of the per-round ratios, and their interquartile range. CPU us/req: the"
                + " application's\n  CPU time per request (robust to load elsewhere); +CPU us: median per-round"
                + " difference from disabled.");
        System.out.printf(Locale.ROOT, "  noise floor (disabled-control vs disabled): %.2f%% (|median| or half the IQR,"
                + " the larger)%n", noise);
        json.append("},\"noise_floor_pct\":").append(String.format(Locale.ROOT, "%.3f", noise)).append(",\"target\":{");
        boolean firstVerdict = true;
        for (String mode : new String[] {"enabled-healthy", "enabled-backend-down"}) {
            double delta = percentile(ratios.get(mode), 50);
            String verdict = noise >= 2 ? "undecided: noise floor not below the 2% margin"
                    : delta >= -2 ? "met" : delta < -2 - noise ? "not met" : "undecided: within the noise of the margin";
            System.out.printf("  target (within 2%% of disabled), %s: %s%n", mode, verdict);
            json.append(firstVerdict ? "" : ",").append('"').append(mode).append("\":\"").append(verdict).append('"');
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
        json.append("},\"load_before\":").append(String.format(Locale.ROOT, "%.2f", loadBefore))
                .append(",\"load_after\":").append(String.format(Locale.ROOT, "%.2f", loadAfter)).append('}');
        System.out.println(json);
    }
}
