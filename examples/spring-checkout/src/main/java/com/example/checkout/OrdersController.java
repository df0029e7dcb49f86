package com.example.checkout;

import java.util.Map;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.springframework.http.HttpStatus;
import org.springframework.kafka.core.KafkaTemplate;
import org.springframework.kafka.support.SendResult;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;

/** POST /orders: publish the order, answer with where it landed. */
@RestController
public class OrdersController {
    static final String TOPIC = "orders.created";

    private final KafkaTemplate<String, String> kafka;
    private final OrderEvents events;

    public OrdersController(KafkaTemplate<String, String> kafka, OrderEvents events) {
        this.kafka = kafka;
        this.events = events;
    }

    /** An order as the web and app front ends post it. */
    public record Order(String orderId, String customerId, double amount, String currency, String channel) {}

    @PostMapping("/orders")
    @ResponseStatus(HttpStatus.CREATED)
    public Map<String, Object> create(@RequestBody Order order) throws Exception {
        ProducerRecord<String, String> record = new ProducerRecord<>(TOPIC, order.orderId(), events.orderCreated(order));
        SendResult<String, String> sent = kafka.send(record).get();
        return Map.of("order_id", order.orderId(), "partition", sent.getRecordMetadata().partition(),
                "offset", sent.getRecordMetadata().offset(), "timestamp", sent.getRecordMetadata().timestamp());
    }
}
