package dev.rca.autopilot.kafka;

import dev.rca.autopilot.Autopilot;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.producer.ProducerInterceptor;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.header.Headers;

/**
 * Adds the identity headers the contract gate reads ({@code autopilot-producer}, {@code autopilot-env},
 * {@code autopilot-version}, {@code traceparent} of the trace in use) to every record a Kafka producer sends; a header the application set
 * itself is kept. Nothing is added while the SDK is off or killed. Never throws.
 *
 * <p>The Spring Boot starter adds it to spring-kafka's producer factory; with plain kafka-clients:
 * {@code props.put(ProducerConfig.INTERCEPTOR_CLASSES_CONFIG, AutopilotProducerInterceptor.class.getName())}.
 */
public class AutopilotProducerInterceptor implements ProducerInterceptor<Object, Object> {
    @Override
    public ProducerRecord<Object, Object> onSend(ProducerRecord<Object, Object> record) {
        try {
            Map<String, byte[]> identity = Autopilot.kafkaHeaders();
            if (!identity.isEmpty()) {
                Headers headers = record.headers();
                identity.forEach((name, value) -> {
                    if (headers.lastHeader(name) == null) {
                        headers.add(name, value);
                    }
                });
            }
        } catch (RuntimeException e) {
            // read-only headers or anything else: the record goes out as the application made it
        }
        return record;
    }

    @Override
    public void onAcknowledgement(RecordMetadata metadata, Exception exception) {}

    @Override
    public void close() {}

    @Override
    public void configure(Map<String, ?> configs) {}

    /** {@code interceptor.classes} with this one appended (a String list, a Class, or a List of either). */
    public static List<Object> withInterceptor(Object configured) {
        List<Object> classes = new ArrayList<>();
        if (configured instanceof List) {
            classes.addAll((List<?>) configured);
        } else if (configured instanceof String) {
            for (String name : ((String) configured).split(",")) {
                if (!name.isBlank()) {
                    classes.add(name.strip());
                }
            }
        } else if (configured != null) {
            classes.add(configured);
        }
        boolean present = classes.stream().anyMatch(c -> c == AutopilotProducerInterceptor.class
                || AutopilotProducerInterceptor.class.getName().equals(c));
        if (!present) {
            classes.add(AutopilotProducerInterceptor.class);
        }
        return classes;
    }
}
