package dev.rca.autopilot.spring;

import dev.rca.autopilot.TraceContext;
import io.micrometer.tracing.Span;
import io.micrometer.tracing.Tracer;

/** Where the trace in use comes from when the application already traces (contract, section 10). */
final class TraceSources {

    private TraceSources() {}

    /** The current span of Micrometer Tracing (Brave or OpenTelemetry underneath). */
    static final class Micrometer implements TraceContext.Source {
        private final Tracer tracer;

        Micrometer(Tracer tracer) {
            this.tracer = tracer;
        }

        @Override
        public String currentTraceparent() {
            Span span = tracer.currentSpan();
            if (span == null) {
                return null;
            }
            io.micrometer.tracing.TraceContext context = span.context();
            return traceparent(context.traceId(), context.spanId(), Boolean.TRUE.equals(context.sampled()));
        }
    }

    /** The current span of OpenTelemetry (its API only; the agent or the SDK sets it). */
    static final class OpenTelemetry implements TraceContext.Source {
        @Override
        public String currentTraceparent() {
            io.opentelemetry.api.trace.SpanContext context = io.opentelemetry.api.trace.Span.current().getSpanContext();
            if (!context.isValid()) {
                return null;
            }
            return traceparent(context.getTraceId(), context.getSpanId(), context.isSampled());
        }
    }

    /** A W3C traceparent, or null when the ids are not valid ones (a 64-bit B3 trace id is widened). */
    static String traceparent(String traceId, String spanId, boolean sampled) {
        if (traceId == null || spanId == null) {
            return null;
        }
        String wide = traceId.length() == 16 ? "0".repeat(16) + traceId : traceId;
        String value = "00-" + wide + "-" + spanId + "-" + (sampled ? "01" : "00");
        return TraceContext.parse(value) != null ? value : null;
    }
}
