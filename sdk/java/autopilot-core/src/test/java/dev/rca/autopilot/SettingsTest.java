package dev.rca.autopilot;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;

class SettingsTest extends Fixtures {

    @Test
    void theDefaultsAreTheContractsAndDisabled() {
        Settings settings = Settings.defaults();
        assertThat(settings.enabled()).isFalse();
        assertThat(settings.active()).isFalse();
        assertThat(settings.queueSize()).isEqualTo(2048);
        assertThat(settings.batchSize()).isEqualTo(512);
        assertThat(settings.flushInterval()).isEqualTo(Duration.ofSeconds(1));
        assertThat(settings.connectTimeout()).isEqualTo(Duration.ofSeconds(1));
        assertThat(settings.timeout()).isEqualTo(Duration.ofSeconds(3));
        assertThat(settings.maxRetries()).isEqualTo(3);
        assertThat(settings.backoffBase()).isEqualTo(Duration.ofMillis(500));
        assertThat(settings.backoffMax()).isEqualTo(Duration.ofSeconds(8));
        assertThat(settings.maxAge()).isEqualTo(Duration.ofSeconds(300));
        assertThat(settings.circuitFailures()).isEqualTo(5);
        assertThat(settings.circuitReset()).isEqualTo(Duration.ofSeconds(30));
        assertThat(settings.controlPollInterval()).isEqualTo(Duration.ofSeconds(30));
        assertThat(settings.shutdownTimeout()).isEqualTo(Duration.ofSeconds(2));
        assertThat(settings.startupEvent()).isTrue();
        assertThat(settings.exportDrops()).isFalse();
        assertThat(settings.healthInterval()).isEqualTo(Duration.ZERO);
        assertThat(Settings.builder().environment(Map.of("AUTOPILOT_HEALTH_INTERVAL", "60"), null).build()
                .healthInterval()).isEqualTo(Duration.ofMinutes(1));
        assertThat(Settings.builder().environment(Map.of("AUTOPILOT_HEALTH_INTERVAL", "-1"), null).build()
                .healthInterval()).isEqualTo(Duration.ZERO);
    }

    @Test
    void environmentVariablesAreReadAndSystemPropertiesWin() {
        Properties properties = new Properties();
        properties.setProperty("autopilot.queue-size", "64");
        Settings settings = Settings.builder().environment(Map.of(
                "AUTOPILOT_ENABLED", "yes",
                "AUTOPILOT_ENDPOINT", "https://rca.internal/",
                "AUTOPILOT_SERVICE", "checkout-service",
                "AUTOPILOT_QUEUE_SIZE", "100",
                "AUTOPILOT_FLUSH_INTERVAL", "0.25"), properties).build();
        assertThat(settings.active()).isTrue();
        assertThat(settings.endpoint()).isEqualTo("https://rca.internal");
        assertThat(settings.producer()).isEqualTo("svc://checkout-service");
        assertThat(settings.queueSize()).isEqualTo(64);
        assertThat(settings.flushInterval()).isEqualTo(Duration.ofMillis(250));
    }

    @Test
    void aValueThatWillNotParseIsLoggedOnceAndReplacedByItsDefault() {
        Settings settings = Settings.builder().environment(Map.of(
                "AUTOPILOT_ENABLED", "perhaps",
                "AUTOPILOT_QUEUE_SIZE", "lots",
                "AUTOPILOT_BATCH_SIZE", "0",
                "AUTOPILOT_TIMEOUT", "NaN",
                "AUTOPILOT_MAX_AGE", "-3"), null).build();
        assertThat(settings.enabled()).isFalse();
        assertThat(settings.queueSize()).isEqualTo(2048);
        assertThat(settings.batchSize()).isEqualTo(512);
        assertThat(settings.timeout()).isEqualTo(Duration.ofSeconds(3));
        assertThat(settings.maxAge()).isEqualTo(Duration.ofSeconds(300));
        assertThat(log.warnings()).hasSize(5).anySatisfy(line -> assertThat(line)
                .contains("AUTOPILOT_QUEUE_SIZE='lots'").contains("default 2048"))
                .anySatisfy(line -> assertThat(line).contains("AUTOPILOT_BATCH_SIZE='0' is outside [1, 10000]"));
    }

    @Test
    void theProducerComesFromTheServiceAndTheServiceFromASvcProducer() {
        assertThat(Settings.builder().service("a").build().producer()).isEqualTo("svc://a");
        assertThat(Settings.builder().producer("svc://b").build().service()).isEqualTo("b");
        assertThat(Settings.builder().producer("job://nightly").build().service()).isNull();
        assertThat(Settings.builder().producer("c").build().producer()).isEqualTo("svc://c");
    }

    @Test
    void enabledWithoutAnEndpointStaysOffAndSaysSo() {
        AutopilotClient client = new AutopilotClient(Settings.builder().enabled(true).service("x").build());
        assertThat(client.isActive()).isFalse();
        assertThat(client.emit("DeploymentEvent", Map.of("service", "x", "version", "1"))).isFalse();
        assertThat(log.warnings()).singleElement().asString().contains("no endpoint");
    }

    @Test
    void theTokenIsHiddenInTheRedactedSettings() {
        Map<String, Object> redacted = Settings.builder().token("s3cret").build().redacted();
        assertThat(redacted).containsEntry("autopilot.token", "***").containsKey("autopilot.queue-size");
        assertThat(redacted.toString()).doesNotContain("s3cret");
    }

    @Test
    void everySettingHasTheContractsNames() {
        assertThat(Setting.QUEUE_SIZE.environmentVariable()).isEqualTo("AUTOPILOT_QUEUE_SIZE");
        assertThat(Setting.CONTROL_POLL_INTERVAL.property()).isEqualTo("autopilot.control-poll-interval");
        assertThat(Setting.values()).hasSize(25);
    }

    @Test
    void theSettingsAreExactlyTheContractsTable() throws java.io.IOException {
        String contract = java.nio.file.Files.readString(VectorsTest.SPEC.resolve("CONTRACT.md"));
        String table = contract.substring(contract.indexOf("## 2. Settings"), contract.indexOf("## 3."));
        java.util.Set<String> named = new java.util.TreeSet<>();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("^\\| (.*?) \\|", java.util.regex.Pattern.MULTILINE)
                .matcher(table);
        while (m.find()) {
            java.util.regex.Matcher variable = java.util.regex.Pattern.compile("AUTOPILOT_[A-Z_]+").matcher(m.group(1));
            while (variable.find()) {
                named.add(variable.group());
            }
        }
        java.util.Set<String> ours = new java.util.TreeSet<>();
        for (Setting setting : Setting.values()) {
            ours.add(setting.environmentVariable());
        }
        assertThat(ours).isEqualTo(named);
    }
}
