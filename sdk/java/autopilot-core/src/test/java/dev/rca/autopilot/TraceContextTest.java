package dev.rca.autopilot;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TraceContextTest {
    static final String VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    @Test
    void aValidTraceparentIsRead() {
        TraceContext context = TraceContext.parse(VALID);
        assertThat(context).isEqualTo(new TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 1));
        assertThat(context.sampled()).isTrue();
        assertThat(context.traceparent()).isEqualTo(VALID);
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "", "garbage",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", // version ff is invalid
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01", // all-zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", // all-zero parent id
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", // upper case
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", // version 00 is exactly 55 characters
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", // a later version needs '-' after the four
    })
    void anInvalidTraceparentIsIgnored(String value) {
        assertThat(TraceContext.parse(value)).isNull();
    }

    @Test
    void aLaterVersionIsReadByItsFirstFourFields() {
        assertThat(TraceContext.parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-ever"))
                .isNotNull();
    }

    @Test
    void continuingKeepsTheTraceAndSampledFlagWithANewSpan() {
        TraceContext next = TraceContext.continueFrom("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
        assertThat(next.traceId()).isEqualTo("4bf92f3577b34da6a3ce929d0e0e4736");
        assertThat(next.spanId()).hasSize(16).isNotEqualTo("00f067aa0ba902b7");
        assertThat(next.sampled()).isFalse();
        assertThat(TraceContext.parse(next.traceparent())).isEqualTo(next);
    }

    @Test
    void withoutAValidParentANewSampledTraceStarts() {
        TraceContext started = TraceContext.continueFrom("nonsense");
        assertThat(started.traceId()).hasSize(32).matches("[0-9a-f]+");
        assertThat(started.sampled()).isTrue();
        assertThat(TraceContext.continueFrom((String) null).traceId()).isNotEqualTo(started.traceId());
    }

    @Test
    void headersAreSearchedInAnyCaseWithStringsBytesOrLists() {
        assertThat(TraceContext.continueFromHeaders(Map.of("TraceParent", VALID)).traceId())
                .isEqualTo("4bf92f3577b34da6a3ce929d0e0e4736");
        assertThat(TraceContext.continueFromHeaders(Map.of("traceparent", VALID.getBytes(StandardCharsets.US_ASCII)))
                .traceId()).isEqualTo("4bf92f3577b34da6a3ce929d0e0e4736");
        assertThat(TraceContext.continueFromHeaders(Map.of("traceparent", List.of(VALID))).traceId())
                .isEqualTo("4bf92f3577b34da6a3ce929d0e0e4736");
    }

    @Test
    void theTraceInUseIsThisThreadsThenTheInstalledSource() {
        assertThat(TraceContext.currentTraceparent()).isNull();
        TraceContext.Source previous = TraceContext.installSource(() -> VALID);
        try {
            assertThat(TraceContext.currentTraceparent()).isEqualTo(VALID);
            TraceContext mine = TraceContext.start();
            try (TraceContext.Scope scope = mine.use()) {
                assertThat(TraceContext.currentTraceparent()).isEqualTo(mine.traceparent());
            }
            assertThat(TraceContext.currentTraceparent()).isEqualTo(VALID);
            TraceContext.installSource(() -> {
                throw new IllegalStateException("a broken tracer");
            });
            assertThat(TraceContext.currentTraceparent()).isNull();
        } finally {
            TraceContext.installSource(previous);
        }
    }
}
