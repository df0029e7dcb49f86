package dev.rca.autopilot.spring;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rca.autopilot.AutopilotClient;
import dev.rca.autopilot.TraceContext;
import dev.rca.autopilot.Transport;
import dev.rca.autopilot.internal.ProcessState;
import dev.rca.autopilot.testing.FakeTransport;
import io.micrometer.tracing.Span;
import io.micrometer.tracing.Tracer;
import io.micrometer.tracing.test.simple.SimpleTracer;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.context.Scope;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.mock.http.server.reactive.MockServerHttpRequest;
import org.springframework.mock.web.MockFilterChain;
import org.springframework.mock.web.MockHttpServletRequest;
import org.springframework.mock.web.MockHttpServletResponse;
import org.springframework.mock.web.server.MockServerWebExchange;
import reactor.core.publisher.Mono;

/** The trace in use: a tracer's current span when there is one, else continued or started at the edge. */
class TraceTest {
    static final String CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(AutopilotAutoConfiguration.class))
            .withPropertyValues(AutopilotAutoConfigurationTest.enabled("autopilot.startup-event=false"));

    @BeforeEach
    void freshProcess() {
        ProcessState.resetForTests();
    }

    @Test
    void eventsCarryMicrometerTracingsCurrentSpan() {
        FakeTransport fake = new FakeTransport();
        SimpleTracer tracer = new SimpleTracer();
        runner.withBean(Tracer.class, () -> tracer).withBean(Transport.class, () -> fake).run(context -> {
            assertThat(context).hasSingleBean(AutopilotAutoConfiguration.TraceSourceInstallation.class);
            AutopilotClient client = context.getBean(AutopilotClient.class);
            Span span = tracer.nextSpan().name("checkout").start();
            String expected;
            try (Tracer.SpanInScope scope = tracer.withSpan(span)) {
                expected = TraceSources.traceparent(span.context().traceId(), span.context().spanId(),
                        Boolean.TRUE.equals(span.context().sampled()));
                assertThat(TraceContext.currentTraceparent()).isEqualTo(expected).isNotNull();
                client.emit("JobRunStarted", Map.of("run_id", "r1"));
            } finally {
                span.end();
            }
            client.emit("JobRunStarted", Map.of("run_id", "r2"));
            client.flush(Duration.ofSeconds(2));
            assertThat(fake.events().get(0)).containsEntry("traceparent", expected);
            assertThat(fake.events().get(1)).doesNotContainKey("traceparent");
        });
        assertThat(TraceContext.currentTraceparent()).isNull(); // uninstalled with the context
    }

    @Test
    void withoutMicrometerTracingOpenTelemetrysCurrentSpanIsUsed() {
        runner.withClassLoader(new FilteredClassLoader(Tracer.class)).withBean(Transport.class, FakeTransport::new)
                .run(context -> {
                    assertThat(context).hasSingleBean(AutopilotAutoConfiguration.TraceSourceInstallation.class);
                    SpanContext span = SpanContext.create("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7",
                            TraceFlags.getSampled(), TraceState.getDefault());
                    try (Scope scope = io.opentelemetry.api.trace.Span.wrap(span).makeCurrent()) {
                        assertThat(TraceContext.currentTraceparent()).isEqualTo(CALLER);
                    }
                    assertThat(TraceContext.currentTraceparent()).isNull();
                });
    }

    @Test
    void theServletFilterContinuesTheCallersTraceOrStartsOne() throws Exception {
        AutopilotTraceFilter filter = new AutopilotTraceFilter();
        List<String> seen = new ArrayList<>();
        MockHttpServletRequest request = new MockHttpServletRequest("POST", "/orders");
        request.addHeader("traceparent", CALLER);
        filter.doFilter(request, new MockHttpServletResponse(), new MockFilterChain(new jakarta.servlet.http.HttpServlet() {
            @Override
            protected void service(jakarta.servlet.http.HttpServletRequest req, jakarta.servlet.http.HttpServletResponse res) {
                seen.add(TraceContext.currentTraceparent());
            }
        }));
        filter.doFilter(new MockHttpServletRequest("GET", "/"), new MockHttpServletResponse(),
                (req, res) -> seen.add(TraceContext.currentTraceparent()));
        assertThat(TraceContext.parse(seen.get(0)).traceId()).isEqualTo("4bf92f3577b34da6a3ce929d0e0e4736");
        assertThat(TraceContext.parse(seen.get(0)).spanId()).isNotEqualTo("00f067aa0ba902b7");
        assertThat(TraceContext.parse(seen.get(1))).isNotNull();
        assertThat(TraceContext.parse(seen.get(1)).traceId()).isNotEqualTo("4bf92f3577b34da6a3ce929d0e0e4736");
        assertThat(TraceContext.currentTraceparent()).isNull(); // nothing left behind on the thread
    }

    @Test
    void theServletFilterLeavesATracersSpanAlone() throws Exception {
        TraceContext.Source previous = TraceContext.installSource(() -> CALLER);
        try {
            List<String> seen = new ArrayList<>();
            MockHttpServletRequest request = new MockHttpServletRequest("GET", "/");
            request.addHeader("traceparent", "00-11111111111111111111111111111111-2222222222222222-01");
            new AutopilotTraceFilter().doFilter(request, new MockHttpServletResponse(),
                    (req, res) -> seen.add(TraceContext.currentTraceparent()));
            assertThat(seen).containsExactly(CALLER);
        } finally {
            TraceContext.installSource(previous);
        }
    }

    @Test
    void theWebFluxFilterContinuesTheCallersTraceWhereTheHandlerRuns() {
        MockServerWebExchange exchange = MockServerWebExchange.from(
                MockServerHttpRequest.post("/orders").header("traceparent", CALLER));
        List<String> seen = new ArrayList<>();
        List<Object> inContext = new ArrayList<>();
        new AutopilotTraceWebFilter().filter(exchange, ex -> Mono.deferContextual(context -> {
            seen.add(TraceContext.currentTraceparent());
            inContext.add(context.getOrDefault(AutopilotTraceWebFilter.ATTRIBUTE, null));
            return Mono.empty();
        })).block(Duration.ofSeconds(1));
        assertThat(TraceContext.parse(seen.get(0)).traceId()).isEqualTo("4bf92f3577b34da6a3ce929d0e0e4736");
        assertThat(inContext.get(0)).isEqualTo(exchange.getAttribute(AutopilotTraceWebFilter.ATTRIBUTE));
        assertThat(TraceContext.currentTraceparent()).isNull();
    }
}
