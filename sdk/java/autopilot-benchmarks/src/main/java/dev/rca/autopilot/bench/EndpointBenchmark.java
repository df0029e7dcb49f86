package dev.rca.autopilot.bench;

import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
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
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;
import org.springframework.boot.SpringApplication;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * An HTTP endpoint's throughput (requests/s through real Tomcat, Spring MVC and Jackson, client on a kept-alive
 * connection) with the starter disabled, enabled with a healthy backend, and enabled with the backend down. The
 * endpoint emits one event per request, the worst case. Enabled, the starter's trace filter runs on every request.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 5, time = 2)
@Measurement(iterations = 8, time = 2)
@Fork(value = 1, jvmArgs = {"-Xms512m", "-Xmx512m"})
@Threads(2)
public class EndpointBenchmark {
    static final String ORDER = "{\"orderId\":\"o-1\",\"customerId\":\"c-9\",\"currency\":\"EUR\",\"lines\":["
            + IntStream.range(0, 20).mapToObj(i -> "{\"sku\":\"sku-" + i + "\",\"qty\":" + (i % 5 + 1)
            + ",\"priceCents\":" + (199 + i) + "}").collect(Collectors.joining(",")) + "]}";

    @Param({"disabled", "enabled-healthy", "enabled-backend-down"})
    public String mode;

    private AcceptAllBackend backend;
    private ConfigurableApplicationContext app;
    private int port;

    /** One kept-alive connection per benchmark thread, written and read by hand: the client costs next to nothing. */
    @State(Scope.Thread)
    public static class Connection {
        java.net.Socket socket;
        java.io.InputStream in;
        java.io.OutputStream out;
        byte[] request;

        @Setup(Level.Trial)
        public void open(EndpointBenchmark bench) throws Exception {
            socket = new java.net.Socket("127.0.0.1", bench.port);
            socket.setTcpNoDelay(true);
            in = new java.io.BufferedInputStream(socket.getInputStream());
            out = socket.getOutputStream();
            byte[] body = ORDER.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            request = ("POST /orders HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: "
                    + body.length + "\r\n\r\n" + ORDER).getBytes(java.nio.charset.StandardCharsets.UTF_8);
        }

        @TearDown(Level.Trial)
        public void close() throws Exception {
            socket.close();
        }

        /** Send the order, read the answer (status line, headers, Content-Length body); the body's length. */
        int exchange() throws Exception {
            out.write(request);
            out.flush();
            String status = line();
            int length = -1;
            boolean chunked = false;
            String header;
            while (!(header = line()).isEmpty()) {
                String lower = header.toLowerCase(java.util.Locale.ROOT);
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

        private String line() throws java.io.IOException {
            StringBuilder out = new StringBuilder();
            int c;
            while ((c = in.read()) != '\n') {
                if (c < 0) {
                    throw new java.io.EOFException();
                }
                if (c != '\r') {
                    out.append((char) c);
                }
            }
            return out.toString();
        }
    }

    @Setup(Level.Trial)
    public void start() throws Exception {
        String endpoint;
        if ("enabled-healthy".equals(mode)) {
            backend = new AcceptAllBackend();
            endpoint = backend.url();
        } else {
            endpoint = AcceptAllBackend.closedPortUrl();
        }
        SpringApplication application = new SpringApplication(CheckoutApplication.class);
        application.setLogStartupInfo(false);
        app = application.run("--server.port=0", "--server.tomcat.max-keep-alive-requests=-1", "--server.tomcat.keep-alive-timeout=-1", "--spring.main.banner-mode=off", "--logging.level.root=warn",
                "--autopilot.enabled=" + !"disabled".equals(mode), "--autopilot.endpoint=" + endpoint,
                "--autopilot.service=checkout-service", "--autopilot.env=bench", "--autopilot.startup-event=false");
        port = Integer.parseInt(app.getEnvironment().getProperty("local.server.port"));
    }

    @TearDown(Level.Trial)
    public void stop() {
        dev.rca.autopilot.AutopilotClient client = app.getBeanProvider(dev.rca.autopilot.AutopilotClient.class).getIfAvailable();
        if (client != null) {
            System.out.println("[endpoint " + mode + "] " + client.signalsDropped() + " delivered="
                    + client.stats().delivered() + " circuit=" + client.circuitState());
        }
        app.close();
        if (backend != null) {
            backend.close();
        }
    }

    @Benchmark
    public int order(Connection connection) throws Exception {
        return connection.exchange();
    }
}
