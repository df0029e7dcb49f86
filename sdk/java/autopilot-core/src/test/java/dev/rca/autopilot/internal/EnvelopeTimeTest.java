package dev.rca.autopilot.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

/** The worker's time formatting (the seconds cached) writes what the formatter writes, whatever the instant. */
class EnvelopeTimeTest {
    @Test
    void theCachedSecondsWriteWhatTheFormatterWrites() {
        long[] seconds = {0, 1, 59, 60, 1_767_225_599, 1_767_225_600, 253_402_300_799L, -1, -62_135_596_800L};
        int[] nanos = {0, 1, 999, 1000, 1001, 10_000, 123_456_000, 999_999_999, 500_000};
        for (long second : seconds) {
            for (int nano : nanos) {
                Instant instant = Instant.ofEpochSecond(second, nano);
                assertThat(Envelope.formatTime(instant)).as(instant.toString())
                        .isEqualTo(Envelope.formatSlowly(instant.atOffset(ZoneOffset.UTC)));
            }
        }
        for (long i = 0; i < 5000; i++) { // consecutive events: mostly the cached second
            Instant instant = Instant.ofEpochSecond(1_780_000_000L, 0).plusNanos(i * 777_777L);
            assertThat(Envelope.formatTime(instant)).isEqualTo(Envelope.formatSlowly(instant.atOffset(ZoneOffset.UTC)));
        }
    }
}
