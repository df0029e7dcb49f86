package dev.rca.autopilot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TransportTest {
    final JdkHttpTransport transport = new JdkHttpTransport(Duration.ofSeconds(5));

    static Transport.Request post(String url, Duration timeout) {
        return new Transport.Request("POST", url + "/v1/events", Map.of("Content-Type", "application/json"),
                "[]".getBytes(StandardCharsets.UTF_8), Duration.ofMillis(500), timeout);
    }

    @Test
    void aGoodAnswerIsRead() throws Exception {
        try (Backend backend = new Backend("ok")) {
            Transport.Response response = transport.send(post(backend.url, Duration.ofSeconds(20)));
            assertThat(response.status()).isEqualTo(200);
            assertThat(new String(response.body(), StandardCharsets.UTF_8)).contains("\"accepted\":0");
            assertThat(response.header("Content-Type")).isEqualTo("application/json");
        }
    }

    @Test
    void aRefusedConnectionIsAConnectError() throws Exception {
        String url = Backend.closedPortUrl();
        assertThatThrownBy(() -> transport.send(post(url, Duration.ofSeconds(2))))
                .isInstanceOfSatisfying(TransportException.class, e -> assertThat(e.kind()).isEqualTo("connect"));
    }

    @Test
    void aTricklingServerCannotOutlastTheTotalTimeout() throws Exception {
        try (Backend backend = new Backend("trickle")) {
            long began = System.nanoTime();
            // The headers arrive at once, then one byte every 100 ms: 1.4 s in all, against a 0.5 s budget.
            assertThatThrownBy(() -> transport.send(post(backend.url, Duration.ofMillis(500))))
                    .isInstanceOfSatisfying(TransportException.class, e -> assertThat(e.kind()).isEqualTo("timeout"));
            assertThat(System.nanoTime() - began).isBetween(450_000_000L, 900_000_000L);
        }
    }

    @Test
    void aBodyThatStallsAfterTheHeadersCannotOutlastTheTotalTimeout() throws Exception {
        try (Backend backend = new Backend("stall", 5000)) {
            long began = System.nanoTime();
            // Headers and one byte at once, then silence: no later piece of the body comes to be checked, so only
            // the timer can end it.
            assertThatThrownBy(() -> transport.send(post(backend.url, Duration.ofMillis(500))))
                    .isInstanceOfSatisfying(TransportException.class, e -> assertThat(e.kind()).isEqualTo("timeout"));
            assertThat(System.nanoTime() - began).isBetween(450_000_000L, 1_500_000_000L);
        }
    }

    @Test
    void aSleepingServerTimesOut() throws Exception {
        try (Backend backend = new Backend("sleep", 3000)) {
            assertThatThrownBy(() -> transport.send(post(backend.url, Duration.ofMillis(300))))
                    .isInstanceOfSatisfying(TransportException.class, e -> assertThat(e.kind()).isEqualTo("timeout"));
        }
    }

    @Test
    void aResetConnectionIsAnIoError() throws Exception {
        try (Backend backend = new Backend("reset")) {
            assertThatThrownBy(() -> transport.send(post(backend.url, Duration.ofSeconds(20))))
                    .isInstanceOf(TransportException.class);
        }
    }

    @Test
    void theConnectionIsKeptBetweenRequests() throws Exception {
        try (Backend backend = new Backend("ok")) {
            for (int i = 0; i < 5; i++) {
                transport.send(post(backend.url, Duration.ofSeconds(20)));
            }
            assertThat(backend.peers).hasSize(1);
        }
    }

    @Test
    void headerValuesCannotInjectLines() throws Exception {
        try (Backend backend = new Backend("ok")) {
            Transport.Request request = new Transport.Request("GET", backend.url + "/v1/control/x",
                    Map.of("Authorization", "Bearer a\r\nX-Evil: 1"), null, Duration.ofSeconds(1), Duration.ofSeconds(1));
            assertThatThrownBy(() -> transport.send(request)).isInstanceOf(TransportException.class);
        }
    }
}
