package dev.rca.autopilot;

import java.time.Duration;
import java.util.Map;

/**
 * The one seam to the rca service: one HTTP exchange. {@link JdkHttpTransport} is the default;
 * {@link dev.rca.autopilot.testing.FakeTransport} answers like the service, for tests.
 */
public interface Transport extends AutoCloseable {

    /** Send one request and return its answer; throw {@link TransportException} when there is no answer. */
    Response send(Request request) throws TransportException;

    @Override
    default void close() {}

    /**
     * One request. {@code timeout} bounds the whole exchange, connect to last byte; {@code connectTimeout} the
     * handshake.
     */
    record Request(String method, String url, Map<String, String> headers, byte[] body, Duration connectTimeout,
                   Duration timeout) {}

    /** One answer; header names in lower case. */
    record Response(int status, Map<String, String> headers, byte[] body) {
        public String header(String name) {
            return headers.get(name.toLowerCase(java.util.Locale.ROOT));
        }
    }
}
