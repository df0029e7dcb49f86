package dev.rca.autopilot.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

import dev.rca.autopilot.Autopilot;
import dev.rca.autopilot.AutopilotClient;
import dev.rca.autopilot.Settings;
import dev.rca.autopilot.TraceContext;
import dev.rca.autopilot.Transport;
import dev.rca.autopilot.internal.ProcessState;
import dev.rca.autopilot.kafka.AutopilotProducerInterceptor;
import dev.rca.autopilot.testing.FakeTransport;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.kafka.KafkaAutoConfiguration;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.kafka.core.KafkaTemplate;

/** The identity headers on records sent to the real broker of scripts/with-kafka (RCA_TEST_KAFKA_BOOTSTRAP). */
class KafkaInterceptorTest {
    String bootstrap;
    final String topic = "orders.created." + UUID.randomUUID();

    @BeforeEach
    void broker() {
        ProcessState.resetForTests();
        String value = System.getProperty("rca.kafka.bootstrap", "");
        bootstrap = value.startsWith("${") ? "" : value.strip();
        if (bootstrap.isEmpty()) {
            if ("1".equals(System.getProperty("rca.require.kafka"))) {
                fail("RCA_REQUIRE_KAFKA=1 but no broker: run under scripts/with-kafka (RCA_TEST_KAFKA_BOOTSTRAP).");
            }
            Assumptions.abort("no Kafka broker (run under scripts/with-kafka)");
        }
    }

    @AfterEach
    void uninstall() {
        Autopilot.shutdown(Duration.ofMillis(200));
    }

    static Map<String, String> headers(ConsumerRecord<String, String> record) {
        Map<String, String> out = new LinkedHashMap<>();
        for (Header header : record.headers()) {
            out.put(header.key(), new String(header.value(), StandardCharsets.UTF_8));
        }
        return out;
    }

    List<ConsumerRecord<String, String>> consume(int count) {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.GROUP_ID_CONFIG, "test-" + UUID.randomUUID());
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        List<ConsumerRecord<String, String>> out = new ArrayList<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props, new StringDeserializer(),
                new StringDeserializer())) {
            consumer.subscribe(List.of(topic));
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (out.size() < count && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(200)).forEach(out::add);
            }
        }
        return out;
    }

    @Test
    void aPlainKafkaProducerGetsTheIdentityHeadersAndKeepsItsOwn() {
        FakeTransport fake = new FakeTransport();
        Autopilot.install(AutopilotClient.builder(Settings.builder().enabled(true).endpoint("http://rca.test")
                .service("checkout-service").env("prod").version("v2.8.1").startupEvent(false).build()).transport(fake).build());
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ProducerConfig.INTERCEPTOR_CLASSES_CONFIG, AutopilotProducerInterceptor.class.getName());
        TraceContext trace = TraceContext.start();
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(props, new StringSerializer(),
                new StringSerializer())) {
            try (TraceContext.Scope scope = trace.use()) {
                producer.send(new ProducerRecord<>(topic, "o-1", "{\"order_id\":\"o-1\"}"));
            }
            ProducerRecord<String, String> own = new ProducerRecord<>(topic, "o-2", "{\"order_id\":\"o-2\"}");
            own.headers().add("autopilot-env", "canary".getBytes(StandardCharsets.UTF_8));
            own.headers().add("x-app", "kept".getBytes(StandardCharsets.UTF_8));
            producer.send(own);
            producer.flush();
        }
        List<ConsumerRecord<String, String>> records = consume(2);
        assertThat(records).hasSize(2);
        assertThat(headers(records.get(0))).isEqualTo(Map.of(
                "autopilot-producer", "svc://checkout-service", "autopilot-env", "prod", "autopilot-version", "v2.8.1",
                "traceparent", trace.traceparent()));
        assertThat(headers(records.get(1))).containsEntry("autopilot-env", "canary").containsEntry("x-app", "kept")
                .containsEntry("autopilot-producer", "svc://checkout-service").doesNotContainKey("traceparent");
    }

    @Test
    void springKafkaTemplatesGetTheHeadersThroughTheStarterAndNoneOnceKilled() {
        FakeTransport fake = new FakeTransport();
        new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(KafkaAutoConfiguration.class, AutopilotAutoConfiguration.class))
                .withPropertyValues(AutopilotAutoConfigurationTest.enabled("spring.kafka.bootstrap-servers=" + bootstrap,
                        "autopilot.env=prod", "autopilot.startup-event=false"))
                .withBean(Transport.class, () -> fake)
                .run(context -> {
                    @SuppressWarnings("unchecked")
                    KafkaTemplate<Object, Object> template = context.getBean(KafkaTemplate.class);
                    template.send(topic, "o-1", "{\"order_id\":\"o-1\"}").get();
                    fake.setControl(true, true);
                    AutopilotClient client = context.getBean(AutopilotClient.class);
                    long deadline = System.nanoTime() + 5_000_000_000L;
                    while (!client.stats().control().killed() && System.nanoTime() < deadline) {
                        Thread.sleep(20);
                    }
                    assertThat(client.stats().control().killed()).isTrue();
                    template.send(topic, "o-2", "{\"order_id\":\"o-2\"}").get();
                });
        List<ConsumerRecord<String, String>> records = consume(2);
        assertThat(records).hasSize(2);
        assertThat(headers(records.get(0))).containsEntry("autopilot-producer", "svc://checkout-service")
                .containsEntry("autopilot-env", "prod");
        assertThat(headers(records.get(1))).doesNotContainKeys("autopilot-producer", "autopilot-env");
    }
}
