package dev.rca.autopilot.bench;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;

/**
 * The "backend up" of the benchmarks: reads each batch without parsing it (the real rca service runs elsewhere, so
 * its CPU must not be charged to the host more than reading costs) and answers as rca does without per-item
 * results. The control plane has no entry (404). "Backend down" is a closed local port.
 */
final class AcceptAllBackend implements AutoCloseable {
    private static final byte[] ACCEPTED = "{\"rejected\":0}".getBytes(StandardCharsets.UTF_8);
    private static final byte[] NO_ENTRY = "{\"detail\":\"no entry\"}".getBytes(StandardCharsets.UTF_8);
    private final HttpServer server;

    AcceptAllBackend() throws IOException {
        // As uvicorn does: without TCP_NODELAY the JDK server's response (headers, then body: two writes) meets the
        // client's delayed ACK, and every batch waits ~40 ms; the worker then delivers ~12k events/s at most and a
        // busy endpoint drops the rest as queue_full, measuring the stand-in rather than the SDK.
        System.setProperty("sun.net.httpserver.nodelay", "true");
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
        server.setExecutor(Executors.newFixedThreadPool(2, r -> {
            Thread thread = new Thread(r, "bench-backend");
            thread.setDaemon(true);
            return thread;
        }));
        server.createContext("/", exchange -> {
            try (InputStream in = exchange.getRequestBody(); OutputStream out = exchange.getResponseBody()) {
                in.transferTo(OutputStream.nullOutputStream());
                byte[] body = "POST".equals(exchange.getRequestMethod()) ? ACCEPTED : NO_ENTRY;
                exchange.getResponseHeaders().add("Content-Type", "application/json");
                exchange.sendResponseHeaders("POST".equals(exchange.getRequestMethod()) ? 200 : 404, body.length);
                out.write(body);
            }
        });
        server.start();
    }

    /** Run alone (for {@link DeliveryCpu}, so the backend's CPU is not the measured process's): prints the URL. */
    public static void main(String[] args) throws Exception {
        AcceptAllBackend backend = new AcceptAllBackend();
        System.out.println(backend.url());
        System.out.flush();
        System.in.transferTo(java.io.OutputStream.nullOutputStream()); // until the parent closes our stdin
        backend.close();
    }

    String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    static String closedPortUrl() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return "http://127.0.0.1:" + socket.getLocalPort();
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
