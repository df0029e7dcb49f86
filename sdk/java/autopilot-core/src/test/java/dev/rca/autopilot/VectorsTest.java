package dev.rca.autopilot;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SchemaValidatorsConfig;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import dev.rca.autopilot.internal.Json;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The shared vectors (sdk/spec/vectors), as every SDK runs them: sdk/spec/CONTRACT.md, section 14. */
class VectorsTest extends Fixtures {
    static final ObjectMapper JSON = new ObjectMapper();
    static final Path SPEC = Path.of(System.getProperty("rca.spec.dir", "../../spec"));

    static Stream<JsonNode> valid() throws IOException {
        return vectors("valid.json");
    }

    static Stream<JsonNode> invalid() throws IOException {
        return vectors("invalid.json");
    }

    private static Stream<JsonNode> vectors(String name) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        JSON.readTree(SPEC.resolve("vectors").resolve(name).toFile()).path("vectors").forEach(out::add);
        assertThat(out).isNotEmpty();
        return out.stream();
    }

    static JsonSchema schema() throws IOException {
        JsonNode schema = JSON.readTree(SPEC.resolve("envelope.schema.json").toFile());
        SchemaValidatorsConfig config = SchemaValidatorsConfig.builder().formatAssertionsEnabled(true).build();
        return JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012).getSchema(schema, config);
    }

    /** Build the event from the vector's inputs, as an application would, and compare the whole event. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("valid")
    void theSdkBuildsEachValidVectorExactly(JsonNode vector) throws IOException {
        JsonNode expected = vector.path("event");
        Map<String, Object> data = JSON.convertValue(expected.path("data"), new TypeReference<>() {});
        Event event = Event.of(expected.path("type").asText(), data)
                .id(expected.path("id").asText())
                .time(expected.path("time").asText());
        if (expected.has("subject")) {
            event.subject(expected.path("subject").asText());
        }
        if (expected.has("traceparent")) {
            event.traceparent(expected.path("traceparent").asText());
        }
        Set<String> core = Set.of("specversion", "datacontenttype", "id", "type", "source", "time", "data", "subject",
                "traceparent");
        expected.fieldNames().forEachRemaining(name -> {
            if (!core.contains(name)) {
                event.extension(name, JSON.convertValue(expected.get(name), Object.class));
            }
        });
        Map<String, Object> built = Autopilot.buildEvent(event, expected.path("source").asText(), Clock.systemUTC());
        JsonNode written = JSON.readTree(Json.write(built));
        assertThat(written).isEqualTo(expected);
        assertThat(Autopilot.problem(built)).isNull();
        Set<ValidationMessage> errors = schema().validate(written);
        assertThat(errors).isEmpty();
    }

    /** And the SDK sends it so: the same event through a real client and a real local server. */
    @Test
    void everyValidVectorGoesOverTheWireUnchanged() throws Exception {
        try (Backend backend = new Backend("ok")) {
            AutopilotClient client = client(backend.url);
            List<JsonNode> expected = valid().map(v -> v.path("event")).toList();
            for (JsonNode event : expected) {
                Map<String, Object> data = JSON.convertValue(event.path("data"), new TypeReference<>() {});
                Event built = Event.of(event.path("type").asText(), data).id(event.path("id").asText())
                        .time(event.path("time").asText()).source(event.path("source").asText());
                if (event.has("subject")) {
                    built.subject(event.path("subject").asText());
                }
                if (event.has("traceparent")) {
                    built.traceparent(event.path("traceparent").asText());
                }
                if (event.has("partitionkey")) {
                    built.extension("partitionkey", event.path("partitionkey").asText());
                }
                assertThat(client.emit(built)).isTrue();
            }
            assertThat(client.flush(Duration.ofSeconds(20))).isTrue();
            assertThat(backend.events()).containsExactlyElementsOf(expected);
            JsonSchema schema = schema();
            backend.events().forEach(event -> assertThat(schema.validate(event)).isEmpty());
        }
    }

    /** The SDK's local checks flag at least the unknown/missing type, missing source and missing required data. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("invalid")
    void theLocalChecksFlagWhatTheContractSays(JsonNode vector) {
        Map<String, Object> event = JSON.convertValue(vector.path("event"), new TypeReference<>() {});
        String field = vector.path("error").path("field").asText();
        boolean mustFlag = field.equals("type") || field.equals("source") || field.equals("data")
                || field.startsWith("data.") && vector.path("error").path("message_contains").asText().equals("required");
        if (mustFlag) {
            assertThat(Autopilot.problem(event)).as(vector.path("name").asText()).isNotNull();
        }
    }
}
