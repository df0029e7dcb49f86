package dev.rca.autopilot.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * The worker writes each envelope straight into the batch's bytes ({@link Envelope#write}); what it writes must be
 * byte for byte what the map the SDK documents ({@link Envelope#build}) becomes through {@link Json#write}, and
 * that must be the UTF-8 of the text, whatever the data holds.
 */
class EnvelopeWriteTest {
    private static final String[] TEXTS = {"", "plain", "quote \" backslash \\ slash /", "tab\tnew\nline\rret",
        "\u0000\u0001\u0008\u000b\u000c\u001f\u007f", "caf\u00e9 \u00fc\u00df", "\u20ac \u4e2d\u6587", "\u2028\u2029",
        "pair \ud83d\ude00 end", "lone high \ud83d end", "lone low \ude00", "high at end \ud83d"};

    private static Map<String, Object> data(String text) {
        Map<String, Object> data = new LinkedHashMap<>();
        data.put("run_id", "r-" + text);
        data.put(text, text);
        data.put("n", 42);
        data.put("big", 12_345_678_901L);
        data.put("f", 1.5);
        data.put("whole", 3.0);
        data.put("dec", new BigDecimal("1.10"));
        data.put("flag", true);
        data.put("none", null);
        data.put("list", List.of(1, "two", Map.of("three", 3)));
        data.put("array", new Object[] {"a", 2});
        data.put("opt", Optional.of("x"));
        data.put("day", LocalDate.of(2026, 3, 10));
        data.put("uuid", UUID.fromString("00000000-0000-0000-0000-000000000001"));
        return data;
    }

    private static String written(String type, Map<String, Object> data, String source, String id, Object time,
                                  long wallEpochNanos, String subject, String traceparent, Map<String, Object> ext) {
        JsonOut out = new JsonOut(16);
        Envelope.write(out, type, data, source, id, time == null ? null : Envelope.formatTime(time), wallEpochNanos,
                subject, traceparent, ext);
        byte[] bytes = out.toByteArray();
        String text = new String(bytes, StandardCharsets.UTF_8);
        assertThat(text.getBytes(StandardCharsets.UTF_8)).as("valid UTF-8").isEqualTo(bytes);
        return text;
    }

    @Test
    void theDirectWriterWritesWhatTheMapBecomes() {
        List<Map<String, Object>> extensionSets = new ArrayList<>();
        extensionSets.add(null);
        Map<String, Object> colliding = new LinkedHashMap<>();
        colliding.put("partitionkey", "k");
        colliding.put("id", "not-mine");
        colliding.put("data", Map.of());
        colliding.put("subject", "ext-subject");
        colliding.put("traceparent", "ext-trace");
        colliding.put("empty", null);
        extensionSets.add(colliding);
        long[] walls = {0, 1, 999, 1_780_000_000_123_456_789L, 1_780_000_000_000_000_000L, -1};
        int n = 0;
        for (String text : TEXTS) {
            for (Map<String, Object> extensions : extensionSets) {
                for (String subject : Arrays.asList(null, "", "s-" + text)) {
                    for (String trace : Arrays.asList(null, "", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")) {
                        long wall = walls[n++ % walls.length];
                        Map<String, Object> data = data(text);
                        String expected = Json.write(Envelope.build("JobRunStarted", data, "svc://" + text, "id-" + text,
                                Instant.ofEpochSecond(0, wall), subject, trace, extensions));
                        assertThat(written("JobRunStarted", data, "svc://" + text, "id-" + text, null, wall, subject,
                                trace, extensions)).isEqualTo(expected);
                        Instant given = Instant.ofEpochSecond(1_780_000_000L, 5_000);
                        assertThat(written("JobRunStarted", data, "svc://x", "i", given, wall, subject, trace, extensions))
                                .isEqualTo(Json.write(Envelope.build("JobRunStarted", data, "svc://x", "i", given,
                                        subject, trace, extensions)));
                    }
                }
            }
        }
    }

    @Test
    void aJsonParserReadsEveryStringBackAsItsText() throws Exception {
        com.fasterxml.jackson.databind.ObjectMapper jackson = new com.fasterxml.jackson.databind.ObjectMapper();
        List<String> texts = new ArrayList<>(Arrays.asList(TEXTS));
        texts.add("x".repeat(1000) + "\"" + "y".repeat(300) + "\\"); // runs copied in bulk, across buffer growth
        texts.add("\"" + "\u00e9".repeat(200) + "\n");
        for (String text : texts) {
            JsonOut out = new JsonOut(16);
            Json.string(out, text);
            String json = out.toString();
            // A lone surrogate (a code point of its own in a Java regex) becomes U+FFFD; a pair stays one character.
            assertThat(jackson.readValue(json, String.class)).as(json).isEqualTo(text.replaceAll("[\\x{D800}-\\x{DFFF}]",
                    "\ufffd"));
            assertThat(json.chars().filter(c -> c < 0x20 || c == 0x2028 || c == 0x2029)).as(json).isEmpty();
        }
    }

    @Test
    void withoutAnIdEachEventGetsAFreshOneOf32HexDigits() {
        String first = written("JobRunStarted", data("a"), "svc://x", null, null, 0, null, null, null);
        String second = written("JobRunStarted", data("a"), "svc://x", "", null, 0, null, null, null);
        String id1 = first.replaceAll(".*\"id\":\"([^\"]*)\".*", "$1");
        String id2 = second.replaceAll(".*\"id\":\"([^\"]*)\".*", "$1");
        assertThat(id1).matches("[0-9a-f]{32}").isNotEqualTo(id2);
        assertThat(id2).matches("[0-9a-f]{32}");
        assertThat(Envelope.newEventId()).matches("[0-9a-f]{32}");
    }

    @Test
    void anUnencodableValueThrowsAndTheBufferRollsBack() {
        JsonOut out = new JsonOut(16);
        out.put('[');
        int mark = out.size();
        Map<String, Object> data = new LinkedHashMap<>();
        data.put("run_id", "r");
        data.put("bad", Double.NaN);
        assertThatThrownBy(() -> Envelope.write(out, "JobRunStarted", data, "svc://x", "i", null, 0, null, null, null))
                .isInstanceOf(IllegalArgumentException.class);
        out.truncate(mark);
        assertThat(out.toString()).isEqualTo("[");
        out.reset(8);
        assertThat(out.size()).isZero();
    }
}
