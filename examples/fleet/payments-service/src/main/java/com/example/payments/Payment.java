package com.example.payments;

import java.math.BigDecimal;
import java.util.Set;

/** One captured payment, as the payments.captured contract describes it. */
public record Payment(String paymentId, String orderId, BigDecimal amount, String currency) {
    static final Set<String> CURRENCIES = Set.of("USD", "EUR", "GBP");

    /** Why this payment cannot be captured, or null when it can. */
    public String problem() {
        if (paymentId == null || paymentId.isBlank()) {
            return "paymentId is required";
        }
        if (amount == null || amount.signum() <= 0) {
            return "amount must be positive";
        }
        if (!CURRENCIES.contains(currency)) {
            return "currency must be one of " + CURRENCIES;
        }
        return null;
    }

    public String toJson() {
        return "{\"payment_id\":\"" + paymentId + "\",\"order_id\":\"" + orderId + "\",\"amount\":" + amount
                + ",\"currency\":\"" + currency + "\"}";
    }
}
