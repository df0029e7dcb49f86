package com.example.payments;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.math.BigDecimal;
import org.junit.jupiter.api.Test;

class PaymentTest {
    @Test
    void aValidPaymentHasNoProblemAndSerialisesToTheContract() {
        Payment payment = new Payment("p-1", "o-9", new BigDecimal("12.50"), "EUR");
        assertNull(payment.problem());
        assertEquals("{\"payment_id\":\"p-1\",\"order_id\":\"o-9\",\"amount\":12.50,\"currency\":\"EUR\"}",
                payment.toJson());
    }

    @Test
    void anUnknownCurrencyIsRefused() {
        assertEquals("currency must be one of " + Payment.CURRENCIES,
                new Payment("p-2", "o-9", BigDecimal.ONE, "JPY").problem());
    }
}
