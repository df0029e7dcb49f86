package dev.rca.autopilot.spring;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rca.autopilot.Autopilot;
import dev.rca.autopilot.AutopilotClient;
import dev.rca.autopilot.DropReason;
import dev.rca.autopilot.Transport;
import dev.rca.autopilot.internal.ProcessState;
import dev.rca.autopilot.testing.FakeTransport;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.actuate.health.Health;
import org.springframework.boot.actuate.health.Status;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.kafka.DefaultKafkaProducerFactoryCustomizer;
import org.springframework.boot.info.BuildProperties;
import org.springframework.boot.info.GitProperties;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.context.runner.WebApplicationContextRunner;
import org.springframework.core.env.SystemEnvironmentPropertySource;

class AutopilotAutoConfigurationTest {
    static final Class<?>[] STARTER_BEANS = {AutopilotClient.class, AutopilotMetrics.class,
        AutopilotHealthIndicator.class, DefaultKafkaProducerFactoryCustomizer.class, AutopilotTraceFilter.class,
        AutopilotAutoConfiguration.TraceSourceInstallation.class};

    final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(AutopilotAutoConfiguration.class));
    final WebApplicationContextRunner web = new WebApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(AutopilotAutoConfiguration.class));
    final FakeTransport fake = new FakeTransport();
    final Captured log = new Captured();

    static String[] enabled(String... more) {
        String[] base = {"autopilot.enabled=true", "autopilot.endpoint=http://rca.test", "autopilot.service=checkout-service",
            "autopilot.flush-interval=0.05", "autopilot.control-poll-interval=0.2", "autopilot.shutdown-timeout=0.5"};
        String[] all = new String[base.length + more.length];
        System.arraycopy(base, 0, all, 0, base.length);
        System.arraycopy(more, 0, all, base.length, more.length);
        return all;
    }

    static long sdkThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive)
                .filter(t -> t.getName().startsWith("autopilot-worker") || t.getName().startsWith("HttpClient")).count();
    }

    /** The SDK threads left by earlier tests once they have wound down (an HttpClient's selector thread ends some
     *  time after its client is closed), so that a test compares against a count that is no longer falling. */
    static long settledSdkThreads() throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (sdkThreads() > 0 && System.nanoTime() < deadline) {
            System.gc();
            Thread.sleep(50);
        }
        return sdkThreads();
    }

    @BeforeEach
    void freshProcess() {
        ProcessState.resetForTests();
        log.start();
    }

    @AfterEach
    void stopCapturing() {
        log.stop();
    }

    @Test
    void disabledByDefaultCreatesNoBeanAndStartsNoThread() throws InterruptedException {
        long before = settledSdkThreads();
        runner.run(context -> {
            assertThat(context).hasNotFailed();
            for (Class<?> type : STARTER_BEANS) {
                assertThat(context).doesNotHaveBean(type);
            }
            assertThat(sdkThreads()).isLessThanOrEqualTo(before);
        });
        runner.withPropertyValues("autopilot.enabled=false", "autopilot.endpoint=http://rca.test").run(context -> {
            assertThat(context).doesNotHaveBean(AutopilotClient.class);
        });
        web.withPropertyValues("autopilot.enabled=off", "autopilot.endpoint=http://rca.test").run(context -> {
            assertThat(context).doesNotHaveBean(AutopilotTraceFilter.class);
            assertThat(sdkThreads()).isLessThanOrEqualTo(before);
        });
    }

    @Test
    void enabledCreatesTheBeansAndInstallsTheClientUntilTheContextCloses() {
        AutopilotClient[] seen = new AutopilotClient[1];
        web.withPropertyValues(enabled()).withBean(Transport.class, () -> fake).run(context -> {
            assertThat(context).hasSingleBean(AutopilotClient.class).hasSingleBean(AutopilotMetrics.class)
                    .hasSingleBean(AutopilotHealthIndicator.class).hasSingleBean(DefaultKafkaProducerFactoryCustomizer.class)
                    .hasSingleBean(AutopilotTraceFilter.class);
            AutopilotClient client = context.getBean(AutopilotClient.class);
            seen[0] = client;
            assertThat(client.isActive()).isTrue();
            assertThat(Autopilot.client()).isSameAs(client);
            assertThat(Autopilot.emit("DeploymentEvent", Map.of("service", "checkout-service", "version", "v9")))
                    .isTrue();
            assertThat(client.flush(Duration.ofSeconds(2))).isTrue();
        });
        assertThat(fake.events()).extracting(e -> (Object) ((Map<?, ?>) e.get("data")).get("version")).contains("v9");
        // closed with the context: no longer accepting, and no longer the process-wide client
        assertThat(seen[0].emit("DeploymentEvent", Map.of("service", "s", "version", "v10"))).isFalse();
        assertThat(Autopilot.client()).isNotSameAs(seen[0]);
        Autopilot.shutdown(Duration.ZERO);
    }

    @Test
    void theEnvironmentVariablesOfEveryLanguageWorkInAnySpringForm() {
        Map<String, Object> env = Map.of("AUTOPILOT_ENABLED", "1", "AUTOPILOT_ENDPOINT", "http://rca.test",
                "AUTOPILOT_SERVICE", "payments", "AUTOPILOT_QUEUE_SIZE", "64", "AUTOPILOT_FLUSH_INTERVAL", "0.25",
                "AUTOPILOT_STARTUP_EVENT", "false", "AUTOPILOT_HEALTH_INTERVAL", "0.05");
        runner.withInitializer(context -> context.getEnvironment().getPropertySources()
                        .addFirst(new SystemEnvironmentPropertySource("test-env", env)))
                .withBean(Transport.class, () -> fake).run(context -> {
                    AutopilotClient client = context.getBean(AutopilotClient.class);
                    assertThat(client.settings().queueSize()).isEqualTo(64);
                    assertThat(client.settings().flushInterval()).isEqualTo(Duration.ofMillis(250));
                    assertThat(client.settings().producer()).isEqualTo("svc://payments");
                    assertThat(client.settings().startupEvent()).isFalse();
                    assertThat(client.settings().healthInterval()).isEqualTo(Duration.ofMillis(50));
                    // and the worker sends SdkHealth at that interval, from the starter's client as from the core's
                    long deadline = System.nanoTime() + 10_000_000_000L;
                    while (fake.events().stream().noneMatch(e -> "SdkHealth".equals(e.get("type")))
                            && System.nanoTime() < deadline) {
                        Thread.sleep(10);
                    }
                    assertThat(fake.events()).filteredOn(e -> "SdkHealth".equals(e.get("type"))).first()
                            .extracting(e -> ((Map<?, ?>) e.get("data")).get("language")).isEqualTo("java");
                });
    }

    @Test
    void aValueThatWillNotConvertIsLoggedAndDefaultedAndTheApplicationStarts() {
        runner.withPropertyValues(enabled("autopilot.queue-size=lots", "autopilot.batch-size=0", "autopilot.timeout=3s"))
                .withBean(Transport.class, () -> fake).run(context -> {
                    assertThat(context).hasNotFailed();
                    AutopilotClient client = context.getBean(AutopilotClient.class);
                    assertThat(client.settings().queueSize()).isEqualTo(2048);
                    assertThat(client.settings().batchSize()).isEqualTo(512);
                    assertThat(client.settings().timeout()).isEqualTo(Duration.ofSeconds(3));
                });
        assertThat(log.warnings()).anySatisfy(line -> assertThat(line).contains("autopilot.queue-size='lots'")
                        .contains("default 2048"))
                .anySatisfy(line -> assertThat(line).contains("autopilot.batch-size='0' is outside [1, 10000]"))
                .anySatisfy(line -> assertThat(line).contains("autopilot.timeout='3s'"));
    }

    @Test
    void theStartupEventNamesTheApplicationItsBuildVersionAndCommit() {
        Properties build = new Properties();
        build.setProperty("version", "2.8.1");
        Properties git = new Properties();
        git.setProperty("commit.id", "3f9c2ab7d1e0000000000000000000000000000");
        runner.withPropertyValues("autopilot.enabled=true", "autopilot.endpoint=http://rca.test",
                        "spring.application.name=checkout-service", "autopilot.env=prod")
                .withBean(BuildProperties.class, () -> new BuildProperties(build))
                .withBean(GitProperties.class, () -> new GitProperties(git))
                .withBean(Transport.class, () -> fake).run(context -> {
                    context.getBean(AutopilotClient.class).flush(Duration.ofSeconds(2));
                });
        Map<String, Object> event = fake.events().get(0);
        assertThat(event).containsEntry("type", "DeploymentEvent").containsEntry("source", "svc://checkout-service");
        assertThat(event.get("data")).isEqualTo(Map.of("service", "checkout-service", "version", "2.8.1",
                "source", "startup", "env", "prod", "commit", "3f9c2ab", "deploy_ref", "checkout-service@2.8.1+3f9c2ab",
                "status", "succeeded"));
    }

    @Test
    void enabledWithoutAnEndpointHasTheBeansButStaysOffAndSaysSo() throws InterruptedException {
        long before = settledSdkThreads();
        runner.withPropertyValues("autopilot.enabled=true", "autopilot.service=s").run(context -> {
            AutopilotClient client = context.getBean(AutopilotClient.class);
            assertThat(client.isActive()).isFalse();
            assertThat(sdkThreads()).isLessThanOrEqualTo(before);
            Health health = context.getBean(AutopilotHealthIndicator.class).health();
            assertThat(health.getStatus()).isEqualTo(Status.UP);
            assertThat(health.getDetails()).containsEntry("active", false).containsKey("problem");
        });
        assertThat(log.warnings()).anySatisfy(line -> assertThat(line).contains("no endpoint"));
    }

    @Test
    void withoutTheOptionalLibrariesTheirIntegrationsAreLeftOut() {
        runner.withPropertyValues(enabled()).withBean(Transport.class, () -> fake)
                .withClassLoader(new FilteredClassLoader(MeterBinder.class, org.springframework.boot.actuate.health.HealthIndicator.class,
                        org.apache.kafka.clients.producer.ProducerInterceptor.class))
                .run(context -> {
                    assertThat(context).hasNotFailed().hasSingleBean(AutopilotClient.class)
                            .doesNotHaveBean(AutopilotMetrics.class).doesNotHaveBean(AutopilotHealthIndicator.class)
                            .doesNotHaveBean(DefaultKafkaProducerFactoryCustomizer.class);
                });
        runner.withPropertyValues(enabled("management.health.autopilot.enabled=false"))
                .withBean(Transport.class, () -> fake)
                .run(context -> assertThat(context).doesNotHaveBean(AutopilotHealthIndicator.class));
    }

    @Test
    void theMetersReadTheClientsCounters() {
        runner.withPropertyValues(enabled("autopilot.startup-event=false")).withBean(Transport.class, () -> fake).run(context -> {
            MeterRegistry registry = new SimpleMeterRegistry();
            context.getBean(AutopilotMetrics.class).bindTo(registry);
            AutopilotClient client = context.getBean(AutopilotClient.class);
            client.emit("NotAType", Map.of());
            client.emit("JobRunStarted", Map.of("run_id", "r1"));
            client.flush(Duration.ofSeconds(2));
            assertThat(registry.get("autopilot.signals.dropped").tag("reason", "rejected").functionCounter().count())
                    .isEqualTo(1.0);
            assertThat(registry.get("autopilot.signals.dropped").tag("reason", "queue_full").functionCounter().count())
                    .isZero();
            assertThat(registry.get("autopilot.signals.delivered").functionCounter().count()).isEqualTo(1.0);
            assertThat(registry.get("autopilot.queue.depth").gauge().value()).isZero();
            assertThat(registry.get("autopilot.circuit.state").tag("state", "closed").gauge().value()).isEqualTo(1.0);
            assertThat(registry.get("autopilot.circuit.state").tag("state", "open").gauge().value()).isZero();
            assertThat(registry.get("autopilot.control.sending").gauge().value()).isEqualTo(1.0);
            assertThat(registry.find("autopilot.signals.dropped").functionCounters()).hasSize(DropReason.values().length);
        });
    }

    @Test
    void theHealthIsUpWhileTheBackendIsDownAndTheCircuitOpen() throws Exception {
        String dead;
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            dead = "http://127.0.0.1:" + socket.getLocalPort();
        }
        runner.withPropertyValues(enabled("autopilot.endpoint=" + dead, "autopilot.max-retries=0",
                "autopilot.circuit-failures=2", "autopilot.batch-size=1", "autopilot.circuit-reset=60")).run(context -> {
                    AutopilotClient client = context.getBean(AutopilotClient.class);
                    for (int i = 0; i < 5; i++) {
                        client.emit("JobRunStarted", Map.of("run_id", "r" + i));
                    }
                    client.flush(Duration.ofSeconds(3));
                    Health health = context.getBean(AutopilotHealthIndicator.class).health();
                    assertThat(health.getStatus()).isEqualTo(Status.UP);
                    assertThat(health.getDetails()).containsEntry("circuit", "open").containsEntry("active", true)
                            .containsKey("problem");
                    assertThat(((Map<?, ?>) health.getDetails().get("signalsDropped")).get("circuit_open")).isNotEqualTo(0L);
                });
    }

    @Test
    void theKafkaCustomizerAppendsTheInterceptorToThoseConfigured() {
        assertThat(dev.rca.autopilot.kafka.AutopilotProducerInterceptor.withInterceptor("com.acme.A, com.acme.B"))
                .containsExactly("com.acme.A", "com.acme.B", dev.rca.autopilot.kafka.AutopilotProducerInterceptor.class);
        assertThat(dev.rca.autopilot.kafka.AutopilotProducerInterceptor.withInterceptor(
                java.util.List.of(dev.rca.autopilot.kafka.AutopilotProducerInterceptor.class.getName())))
                .hasSize(1);
        assertThat(dev.rca.autopilot.kafka.AutopilotProducerInterceptor.withInterceptor(null)).hasSize(1);
    }

    /** The autopilot logger's warnings (java.util.logging, where System.Logger goes without Spring's logging). */
    static final class Captured extends Handler {
        private final java.util.List<String> warnings = new java.util.concurrent.CopyOnWriteArrayList<>();
        private final Logger logger = Logger.getLogger("autopilot");

        void start() {
            logger.addHandler(this);
        }

        void stop() {
            logger.removeHandler(this);
        }

        java.util.List<String> warnings() {
            return warnings;
        }

        @Override
        public void publish(LogRecord record) {
            if (record.getLevel().intValue() >= Level.WARNING.intValue()) {
                warnings.add(record.getMessage());
            }
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
    }
}
