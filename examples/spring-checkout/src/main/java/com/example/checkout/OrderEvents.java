package com.example.checkout;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.springframework.stereotype.Component;

/** The OrderCreated record on orders.created, as the contract for ds://orders_v1 describes it. */
@Component
public class OrderEvents {
    private final ObjectMapper json;

    public OrderEvents(ObjectMapper json) {
        this.json = json;
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    record OrderCreated(@JsonProperty("order_id") String orderId, @JsonProperty("customer_id") String customerId,
                        double amount, String currency) {}

    public String orderCreated(OrdersController.Order order) throws JsonProcessingException {
        return json.writeValueAsString(new OrderCreated(order.orderId(), order.customerId(), order.amount(),
                order.currency()));
    }
}
