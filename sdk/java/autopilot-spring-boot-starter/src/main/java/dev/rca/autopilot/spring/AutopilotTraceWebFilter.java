package dev.rca.autopilot.spring;

import dev.rca.autopilot.TraceContext;
import org.springframework.core.Ordered;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Mono;
import reactor.core.publisher.MonoOperator;

/**
 * {@link AutopilotTraceFilter} for WebFlux. The trace is in use on the thread that subscribes to the rest of the
 * chain (where an annotated controller runs unless it switches threads), kept as the exchange attribute
 * {@link #ATTRIBUTE} and in the Reactor context under the same key, for code that hops threads.
 */
public class AutopilotTraceWebFilter implements WebFilter, Ordered {
    /** The exchange attribute and Reactor context key holding the request's {@link TraceContext}. */
    public static final String ATTRIBUTE = TraceContext.class.getName();

    @Override
    public Mono<Void> filter(ServerWebExchange exchange, WebFilterChain chain) {
        if (TraceContext.currentTraceparent() != null) {
            return chain.filter(exchange);
        }
        TraceContext trace = TraceContext.continueFrom(exchange.getRequest().getHeaders().getFirst("traceparent"));
        exchange.getAttributes().put(ATTRIBUTE, trace);
        return new TraceScoped(chain.filter(exchange), trace).contextWrite(context -> context.put(ATTRIBUTE, trace));
    }

    @Override
    public int getOrder() {
        return AutopilotTraceFilter.ORDER;
    }

    /** Subscribes to the rest of the chain with the trace in use on the subscribing thread. */
    private static final class TraceScoped extends MonoOperator<Void, Void> {
        private final TraceContext trace;

        TraceScoped(Mono<Void> source, TraceContext trace) {
            super(source);
            this.trace = trace;
        }

        @Override
        public void subscribe(CoreSubscriber<? super Void> actual) {
            try (TraceContext.Scope scope = trace.use()) {
                source.subscribe(actual);
            }
        }
    }
}
