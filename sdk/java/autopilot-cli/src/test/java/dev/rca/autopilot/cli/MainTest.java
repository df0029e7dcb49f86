package dev.rca.autopilot.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.rca.autopilot.Transport;
import dev.rca.autopilot.TransportException;
import dev.rca.autopilot.testing.FakeTransport;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The same flags, defaults and exit codes as the Python CLI (sdk/python/tests/test_cli.py). */
class MainTest {
    final ByteArrayOutputStream out = new ByteArrayOutputStream();
    final ByteArrayOutputStream err = new ByteArrayOutputStream();

    int run(Map<String, String> env, Transport transport, String... args) {
        Main main = new Main(env, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return main.run(List.of(args), transport);
    }

    String err() {
        return err.toString(StandardCharsets.UTF_8);
    }

    @Test
    void aDeployEventIsSentWithTheCiIdAndData() throws Exception {
        FakeTransport fake = new FakeTransport();
        int code = run(Map.of("AUTOPILOT_TOKEN", "tok"), fake, "deploy-event", "--service", "checkout-service",
                "--version", "v2.8.1", "--commit=3f9c2ab", "--env", "prod", "--domain", "orders",
                "--endpoint", "http://rca.test/");
        assertThat(code).isZero();
        Map<String, Object> event = fake.events().get(0);
        assertThat(event).containsEntry("id", "deploy-checkout-service-prod-v2.8.1-3f9c2ab")
                .containsEntry("source", "svc://checkout-service").containsEntry("type", "DeploymentEvent");
        assertThat(event.get("data")).isEqualTo(Map.of("service", "checkout-service", "env", "prod", "version", "v2.8.1",
                "commit", "3f9c2ab", "deploy_ref", "checkout-service@v2.8.1+3f9c2ab", "status", "succeeded",
                "source", "ci", "domain", "orders"));
        assertThat(fake.requests().get(0).headers()).containsEntry("Authorization", "Bearer tok");
        assertThat(fake.requests().get(0).url()).isEqualTo("http://rca.test/v1/events");
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("delivered");
    }

    @Test
    void theEnvironmentGivesTheDefaults() {
        FakeTransport fake = new FakeTransport();
        int code = run(Map.of("AUTOPILOT_SERVICE", "svc-a", "GITHUB_SHA", "abc123", "AUTOPILOT_ENDPOINT", "http://rca.test",
                "AUTOPILOT_ENV", "staging"), fake, "deploy-event", "--version", "1.0.0");
        assertThat(code).isZero();
        assertThat(fake.events().get(0)).containsEntry("id", "deploy-svc-a-staging-1.0.0-abc123");
    }

    @Test
    void aBackendThatIsDownExitsZeroUnlessStrict() throws Exception {
        String url;
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            url = "http://127.0.0.1:" + socket.getLocalPort();
        }
        assertThat(run(Map.of(), null, "deploy-event", "--service", "s", "--version", "1", "--endpoint", url,
                "--timeout", "0.5")).isZero();
        assertThat(err()).contains("warning").contains("could not deliver").contains("--strict");
        assertThat(run(Map.of(), null, "deploy-event", "--service", "s", "--version", "1", "--endpoint", url,
                "--timeout", "0.5", "--strict")).isEqualTo(1);
        assertThat(err()).contains("error: could not deliver");
    }

    @Test
    void aRefusalIsNotRetriedAndFailsOnlyWhenStrict() {
        int[] posts = {0};
        FakeTransport refusing = new FakeTransport(request -> {
            posts[0]++;
            return new Transport.Response(401, Map.of(), "{\"detail\":\"bad token\"}".getBytes(StandardCharsets.UTF_8));
        });
        assertThat(run(Map.of(), refusing, "deploy-event", "--service", "s", "--version", "1", "--endpoint", "http://x"))
                .isZero();
        assertThat(run(Map.of(), refusing, "deploy-event", "--service", "s", "--version", "1", "--endpoint", "http://x",
                "--strict")).isEqualTo(1);
        assertThat(posts[0]).isEqualTo(2);
        assertThat(err()).contains("HTTP 401");
    }

    @Test
    void retryableFailuresAreRetriedWithinTheTimeout() {
        int[] posts = {0};
        FakeTransport flaky = new FakeTransport(request -> {
            if (++posts[0] < 2) {
                throw new TransportException("connect", "refused");
            }
            return new Transport.Response(200, Map.of(), "{\"accepted\":1}".getBytes(StandardCharsets.UTF_8));
        });
        assertThat(run(Map.of(), flaky, "deploy-event", "--service", "s", "--version", "1", "--endpoint", "http://x",
                "--strict")).isZero();
        assertThat(posts[0]).isEqualTo(2);
    }

    @Test
    void usageErrorsExitTwo() {
        assertThat(run(Map.of(), null, "deploy-event", "--version", "1")).isEqualTo(2);
        assertThat(err()).contains("--service");
        assertThat(run(Map.of(), null, "deploy-event", "--service", "s")).isEqualTo(2);
        assertThat(run(Map.of(), null, "deploy-event", "--service", "s", "--version", "1", "--status", "ok")).isEqualTo(2);
        assertThat(run(Map.of(), null, "deploy-event", "--service", "s", "--version", "1", "--timeout", "soon")).isEqualTo(2);
        assertThat(run(Map.of(), null, "deploy-event", "--service", "s", "--version", "1", "--bogus")).isEqualTo(2);
        assertThat(run(Map.of(), null, "deploy")).isEqualTo(2);
        assertThat(run(Map.of(), null)).isEqualTo(2);
        assertThat(run(Map.of(), null, "deploy-event", "--help")).isZero();
    }

    @Test
    void aDryRunPrintsTheEventAndSendsNothing() throws Exception {
        FakeTransport fake = new FakeTransport();
        assertThat(run(Map.of(), fake, "deploy-event", "--service", "s", "--version", "1", "--status", "rolled_back",
                "--deploy-ref", "s@1-rollback", "--id", "my-id", "--dry-run")).isZero();
        JsonNode printed = new ObjectMapper().readTree(out.toString(StandardCharsets.UTF_8));
        assertThat(printed.path("id").asText()).isEqualTo("my-id");
        assertThat(printed.path("data").path("status").asText()).isEqualTo("rolled_back");
        assertThat(printed.path("data").path("deploy_ref").asText()).isEqualTo("s@1-rollback");
        assertThat(fake.requests()).isEmpty();
    }

    @Test
    void withoutAnEndpointNothingIsSentAndTheStepGoesOn() {
        assertThat(run(Map.of(), null, "deploy-event", "--service", "s", "--version", "1")).isZero();
        assertThat(err()).contains("no endpoint");
        assertThat(run(Map.of(), null, "deploy-event", "--service", "s", "--version", "1", "--strict")).isEqualTo(1);
    }
}
