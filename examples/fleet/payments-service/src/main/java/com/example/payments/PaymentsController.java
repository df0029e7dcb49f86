package com.example.payments;

import org.springframework.http.ResponseEntity;
import org.springframework.kafka.core.KafkaTemplate;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;

/** POST /payments: validates a payment and writes it to payments.captured, keyed by payment id. */
@RestController
public class PaymentsController {
    static final String TOPIC = "payments.captured";

    private final KafkaTemplate<String, String> kafka;

    public PaymentsController(KafkaTemplate<String, String> kafka) {
        this.kafka = kafka;
    }

    @PostMapping("/payments")
    public ResponseEntity<String> capture(@RequestBody Payment payment) {
        String problem = payment.problem();
        if (problem != null) {
            return ResponseEntity.badRequest().body(problem);
        }
        kafka.send(TOPIC, payment.paymentId(), payment.toJson());
        return ResponseEntity.accepted().body(payment.paymentId());
    }
}
