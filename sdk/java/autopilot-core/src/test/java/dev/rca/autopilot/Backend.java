package dev.rca.autopilot;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.BooleanSupplier;

/**
 * A real local HTTP/1.1 server on a loopback port that behaves like the rca service ("ok"), or badly: "reset"
 * (connections reset after the request is read), "500", "401", "sleep" (answers after {@code sleepMillis}),
 * "trickle" (sends its answer one byte every 100 ms), "stall" (sends the headers and one byte of the body, then
 * nothing for {@code sleepMillis}). Raw sockets, so a reset is a real TCP RST. Independent of
 * the SDK's own code: requests are parsed here and their JSON by Jackson.
 */
final class Backend implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();

    volatile String mode;
    final long sleepMillis;
    final String url;
    final List<List<JsonNode>> batches = new ArrayList<>();
    final List<Map<String, String>> postHeaders = new ArrayList<>();
    final Map<String, Map<String, Object>> control = new HashMap<>();
    final Set<String> rejectIds = new HashSet<>();
    final Set<Integer> peers = new HashSet<>();
    int controlGets;
    /** Each control GET's query string ("env=test"; "" when it had none). */
    final List<String> controlQueries = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final Set<String> seen = new HashSet<>();
    private final ServerSocket server;
    private final ExecutorService pool = Executors.newCachedThreadPool(r -> {
        Thread thread = new Thread(r, "test-backend");
        thread.setDaemon(true);
        return thread;
    });

    Backend(String mode) throws IOException {
        this(mode, 5000);
    }

    Backend(String mode, long sleepMillis) throws IOException {
        this.mode = mode;
        this.sleepMillis = sleepMillis;
        this.server = new ServerSocket(0, 200, InetAddress.getLoopbackAddress());
        this.url = "http://127.0.0.1:" + server.getLocalPort();
        pool.execute(this::acceptLoop);
    }

    /** An address where nothing listens: connecting is refused at once (the backend is down). */
    static String closedPortUrl() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return "http://127.0.0.1:" + socket.getLocalPort();
        }
    }

    synchronized List<JsonNode> events() {
        List<JsonNode> out = new ArrayList<>();
        batches.forEach(out::addAll);
        return out;
    }

    synchronized int batchCount() {
        return batches.size();
    }

    synchronized void setControl(String producer, boolean enabled, boolean killed) {
        Map<String, Object> entry = new LinkedHashMap<>();
        entry.put("enabled", enabled);
        entry.put("killed", killed);
        control.put(producer, entry);
    }

    boolean waitFor(BooleanSupplier condition, long millis) throws InterruptedException {
        long deadline = System.nanoTime() + millis * 1_000_000;
        while (System.nanoTime() < deadline) {
            synchronized (this) {
                if (condition.getAsBoolean()) {
                    return true;
                }
            }
            Thread.sleep(10);
        }
        synchronized (this) {
            return condition.getAsBoolean();
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        pool.shutdownNow();
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket socket = server.accept();
                pool.execute(() -> serve(socket));
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(Socket socket) {
        try (socket) {
            synchronized (this) {
                peers.add(socket.getPort());
            }
            InputStream in = new BufferedInputStream(socket.getInputStream());
            OutputStream out = socket.getOutputStream();
            while (true) {
                String requestLine = line(in);
                if (requestLine == null || requestLine.isEmpty()) {
                    return;
                }
                Map<String, String> headers = new LinkedHashMap<>();
                String header;
                while ((header = line(in)) != null && !header.isEmpty()) {
                    int colon = header.indexOf(':');
                    headers.put(header.substring(0, colon).trim().toLowerCase(Locale.ROOT), header.substring(colon + 1).trim());
                }
                int length = Integer.parseInt(headers.getOrDefault("content-length", "0"));
                byte[] body = in.readNBytes(length);
                String[] parts = requestLine.split(" ");
                if (!answer(socket, out, parts[0], parts[1], headers, body)) {
                    return;
                }
            }
        } catch (IOException | InterruptedException e) {
            // the client went away
        }
    }

    private boolean answer(Socket socket, OutputStream out, String method, String path, Map<String, String> headers,
                           byte[] body) throws IOException, InterruptedException {
        switch (mode) {
            case "reset":
                socket.setSoLinger(true, 0); // close with RST
                return false;
            case "sleep":
                Thread.sleep(sleepMillis);
                break;
            case "500":
                reply(out, 500, "{\"detail\":\"boom\"}");
                return true;
            case "401":
                reply(out, 401, "{\"detail\":\"bad token\"}");
                return true;
            case "trickle":
                trickle(out, "{\"accepted\":1}");
                return false;
            case "stall":
                out.write(("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n{")
                        .getBytes(StandardCharsets.US_ASCII));
                out.flush();
                Thread.sleep(sleepMillis);
                return false;
            default:
                break;
        }
        if ("GET".equals(method) && path.startsWith("/v1/control/")) {
            Map<String, Object> entry;
            String[] pathAndQuery = path.split("\\?", 2);
            String producer = URLDecoder.decode(pathAndQuery[0].substring("/v1/control/".length()), StandardCharsets.UTF_8);
            synchronized (this) {
                controlGets++;
                controlQueries.add(pathAndQuery.length > 1 ? pathAndQuery[1] : "");
                entry = control.get(producer);
            }
            if (entry == null) {
                reply(out, 404, "{\"detail\":\"no entry\"}");
            } else {
                Map<String, Object> answer = new LinkedHashMap<>(entry);
                answer.put("producer", producer);
                answer.put("ring", 0);
                reply(out, 200, JSON.writeValueAsString(answer));
            }
            return true;
        }
        if ("POST".equals(method) && "/v1/events".equals(path)) {
            JsonNode batch = JSON.readTree(body);
            List<Map<String, Object>> results = new ArrayList<>();
            int[] counts = new int[3];
            synchronized (this) {
                List<JsonNode> events = new ArrayList<>();
                batch.forEach(events::add);
                batches.add(events);
                postHeaders.add(headers);
                for (JsonNode event : events) {
                    String id = event.path("id").asText();
                    String key = event.path("source").asText() + " " + id;
                    String status = rejectIds.contains(id) ? "rejected" : seen.add(key) ? "accepted" : "duplicate";
                    counts["accepted".equals(status) ? 0 : "duplicate".equals(status) ? 1 : 2]++;
                    Map<String, Object> item = new LinkedHashMap<>();
                    item.put("id", id);
                    item.put("source", event.path("source").asText());
                    item.put("status", status);
                    if ("rejected".equals(status)) {
                        item.put("error", "data.version is required");
                        item.put("field", "data.version");
                    }
                    results.add(item);
                }
            }
            Map<String, Object> answer = new LinkedHashMap<>();
            answer.put("accepted", counts[0]);
            answer.put("duplicate", counts[1]);
            answer.put("rejected", counts[2]);
            answer.put("results", results);
            reply(out, 200, JSON.writeValueAsString(answer));
            return true;
        }
        reply(out, 404, "{\"detail\":\"not found\"}");
        return true;
    }

    private static void reply(OutputStream out, int status, String json) throws IOException {
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        String head = "HTTP/1.1 " + status + " X\r\nContent-Type: application/json\r\nContent-Length: " + body.length + "\r\n\r\n";
        out.write(head.getBytes(StandardCharsets.US_ASCII));
        out.write(body);
        out.flush();
    }

    private static void trickle(OutputStream out, String json) throws IOException, InterruptedException {
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        String head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + body.length + "\r\n\r\n";
        out.write(head.getBytes(StandardCharsets.US_ASCII));
        out.flush();
        for (byte b : body) {
            Thread.sleep(100);
            out.write(b);
            out.flush();
        }
    }

    private static String line(InputStream in) throws IOException {
        StringBuilder out = new StringBuilder();
        int c;
        while ((c = in.read()) != -1) {
            if (c == '\n') {
                int end = out.length();
                return end > 0 && out.charAt(end - 1) == '\r' ? out.substring(0, end - 1) : out.toString();
            }
            out.append((char) c);
        }
        return out.length() == 0 ? null : out.toString();
    }
}
