package dev.rca.autopilot.spring;

import dev.rca.autopilot.TraceContext;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import org.springframework.core.Ordered;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * The trace in use for the request: when a tracer (Micrometer Tracing, OpenTelemetry) already has a span, that one;
 * else the caller's {@code traceparent} continued with a new span id, or a new trace started here, at the edge.
 * Ordered after Spring's observation filter, so a tracer's span is current when this runs.
 */
public class AutopilotTraceFilter extends OncePerRequestFilter implements Ordered {
    /** After ServerHttpObservationFilter (HIGHEST_PRECEDENCE + 1), before everything an application adds. */
    public static final int ORDER = Ordered.HIGHEST_PRECEDENCE + 10;

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        if (TraceContext.currentTraceparent() != null) {
            chain.doFilter(request, response); // a tracer's span (or an outer scope) is already in use
            return;
        }
        TraceContext trace = TraceContext.continueFrom(request.getHeader("traceparent"));
        try (TraceContext.Scope scope = trace.use()) {
            chain.doFilter(request, response);
        }
    }

    @Override
    protected boolean shouldNotFilterAsyncDispatch() {
        return false; // an async dispatch runs on another thread: it needs the trace too
    }

    @Override
    public int getOrder() {
        return ORDER;
    }
}
