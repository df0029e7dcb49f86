package dev.rca.autopilot;

import dev.rca.autopilot.internal.ProblemLog;
import java.time.Duration;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;

/**
 * Everything the SDK reads at start-up (sdk/spec/CONTRACT.md, section 2), immutable.
 *
 * <p>{@link #fromEnvironment()} reads {@code AUTOPILOT_*} variables, then {@code autopilot.*} JVM system properties
 * (which win). A value that will not parse, or lies outside its bounds, is logged once, naming the setting and the
 * default used, and replaced by that default: never thrown, because a typo in a deployment manifest must not stop
 * the host from starting.
 */
public final class Settings {
    private static final Set<String> TRUE = Set.of("1", "true", "yes", "on");
    private static final Set<String> FALSE = Set.of("0", "false", "no", "off", "");

    private final Map<Setting, Object> values;

    private Settings(Map<Setting, Object> values) {
        this.values = values;
    }

    /** The defaults: disabled. */
    public static Settings defaults() {
        return builder().build();
    }

    /** {@code AUTOPILOT_*} from the process environment, overridden by {@code -Dautopilot.*} system properties. */
    public static Settings fromEnvironment() {
        return builder().environment(System.getenv(), System.getProperties()).build();
    }

    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        Builder builder = new Builder();
        builder.values.putAll(values);
        return builder;
    }

    public boolean enabled() {
        return (Boolean) values.get(Setting.ENABLED);
    }

    public String endpoint() {
        return (String) values.get(Setting.ENDPOINT);
    }

    public String token() {
        return (String) values.get(Setting.TOKEN);
    }

    /** The producer URN ({@code svc://checkout-service}), derived from the service when not given. */
    public String producer() {
        return (String) values.get(Setting.PRODUCER);
    }

    public String service() {
        return (String) values.get(Setting.SERVICE);
    }

    public String env() {
        return (String) values.get(Setting.ENV);
    }

    public String domain() {
        return (String) values.get(Setting.DOMAIN);
    }

    public String version() {
        return (String) values.get(Setting.VERSION);
    }

    public String commit() {
        return (String) values.get(Setting.COMMIT);
    }

    public int queueSize() {
        return (Integer) values.get(Setting.QUEUE_SIZE);
    }

    public int batchSize() {
        return (Integer) values.get(Setting.BATCH_SIZE);
    }

    public Duration flushInterval() {
        return duration(Setting.FLUSH_INTERVAL);
    }

    public Duration connectTimeout() {
        return duration(Setting.CONNECT_TIMEOUT);
    }

    public Duration timeout() {
        return duration(Setting.TIMEOUT);
    }

    public int maxRetries() {
        return (Integer) values.get(Setting.MAX_RETRIES);
    }

    public Duration backoffBase() {
        return duration(Setting.BACKOFF_BASE);
    }

    public Duration backoffMax() {
        return duration(Setting.BACKOFF_MAX);
    }

    public Duration maxAge() {
        return duration(Setting.MAX_AGE);
    }

    public int circuitFailures() {
        return (Integer) values.get(Setting.CIRCUIT_FAILURES);
    }

    public Duration circuitReset() {
        return duration(Setting.CIRCUIT_RESET);
    }

    public Duration controlPollInterval() {
        return duration(Setting.CONTROL_POLL_INTERVAL);
    }

    public Duration shutdownTimeout() {
        return duration(Setting.SHUTDOWN_TIMEOUT);
    }

    public boolean startupEvent() {
        return (Boolean) values.get(Setting.STARTUP_EVENT);
    }

    public boolean exportDrops() {
        return (Boolean) values.get(Setting.EXPORT_DROPS);
    }

    /** Between SdkHealth events (contract, section 15); zero, the default, sends none. */
    public Duration healthInterval() {
        return duration(Setting.HEALTH_INTERVAL);
    }

    /** Seconds, as the contract states durations. */
    public double seconds(Setting setting) {
        return (Double) values.get(setting);
    }

    /** Whether the SDK will run: enabled and given an endpoint. */
    public boolean active() {
        return enabled() && endpoint() != null;
    }

    /** Every setting by its property name, the token hidden: for logs and {@code autopilot-cli settings}. */
    public Map<String, Object> redacted() {
        Map<String, Object> out = new LinkedHashMap<>();
        for (Setting setting : Setting.values()) {
            Object value = values.get(setting);
            out.put(setting.property(), setting == Setting.TOKEN && value != null ? "***" : value);
        }
        return out;
    }

    @Override
    public String toString() {
        return "Settings" + redacted();
    }

    private Duration duration(Setting setting) {
        return Duration.ofNanos(Math.round((Double) values.get(setting) * 1e9));
    }

    /** Settings one at a time; every value is checked as it is set, and a bad one logged and defaulted. */
    public static final class Builder {
        private final Map<Setting, Object> values = new EnumMap<>(Setting.class);

        private Builder() {
            for (Setting setting : Setting.values()) {
                values.put(setting, parseDefault(setting));
            }
        }

        /** {@code AUTOPILOT_*} from {@code environment}, then {@code autopilot.*} from {@code properties}. */
        public Builder environment(Map<String, String> environment, Properties properties) {
            for (Setting setting : Setting.values()) {
                String raw = environment == null ? null : environment.get(setting.environmentVariable());
                if (raw != null) {
                    set(setting, raw, setting.environmentVariable());
                }
                String property = properties == null ? null : properties.getProperty(setting.property());
                if (property != null) {
                    set(setting, property, setting.property());
                }
            }
            return this;
        }

        /**
         * Set one setting from its text (or a Boolean/Number), as found under {@code name}. Blank numbers keep the
         * default; anything that will not parse is logged once and replaced by the default.
         */
        public Builder set(Setting setting, Object raw, String name) {
            values.put(setting, parse(setting, raw, name == null ? setting.property() : name));
            return this;
        }

        public Builder set(Setting setting, Object raw) {
            return set(setting, raw, setting.property());
        }

        public Builder enabled(boolean enabled) {
            return set(Setting.ENABLED, enabled);
        }

        public Builder endpoint(String endpoint) {
            return set(Setting.ENDPOINT, endpoint);
        }

        public Builder token(String token) {
            return set(Setting.TOKEN, token);
        }

        public Builder service(String service) {
            return set(Setting.SERVICE, service);
        }

        public Builder producer(String producer) {
            return set(Setting.PRODUCER, producer);
        }

        public Builder env(String env) {
            return set(Setting.ENV, env);
        }

        public Builder domain(String domain) {
            return set(Setting.DOMAIN, domain);
        }

        public Builder version(String version) {
            return set(Setting.VERSION, version);
        }

        public Builder commit(String commit) {
            return set(Setting.COMMIT, commit);
        }

        public Builder queueSize(int size) {
            return set(Setting.QUEUE_SIZE, size);
        }

        public Builder batchSize(int size) {
            return set(Setting.BATCH_SIZE, size);
        }

        public Builder maxRetries(int retries) {
            return set(Setting.MAX_RETRIES, retries);
        }

        public Builder circuitFailures(int failures) {
            return set(Setting.CIRCUIT_FAILURES, failures);
        }

        public Builder startupEvent(boolean send) {
            return set(Setting.STARTUP_EVENT, send);
        }

        public Builder exportDrops(boolean export) {
            return set(Setting.EXPORT_DROPS, export);
        }

        /** A duration setting ({@link Setting.Kind#SECONDS}), given as a {@link Duration}. */
        public Builder duration(Setting setting, Duration value) {
            return set(setting, value == null ? null : value.toNanos() / 1e9);
        }

        public Builder flushInterval(Duration value) {
            return duration(Setting.FLUSH_INTERVAL, value);
        }

        public Builder connectTimeout(Duration value) {
            return duration(Setting.CONNECT_TIMEOUT, value);
        }

        public Builder timeout(Duration value) {
            return duration(Setting.TIMEOUT, value);
        }

        public Builder backoff(Duration base, Duration max) {
            return duration(Setting.BACKOFF_BASE, base).duration(Setting.BACKOFF_MAX, max);
        }

        public Builder maxAge(Duration value) {
            return duration(Setting.MAX_AGE, value);
        }

        public Builder healthInterval(Duration value) {
            return duration(Setting.HEALTH_INTERVAL, value);
        }

        public Builder circuitReset(Duration value) {
            return duration(Setting.CIRCUIT_RESET, value);
        }

        public Builder controlPollInterval(Duration value) {
            return duration(Setting.CONTROL_POLL_INTERVAL, value);
        }

        public Builder shutdownTimeout(Duration value) {
            return duration(Setting.SHUTDOWN_TIMEOUT, value);
        }

        public Settings build() {
            Map<Setting, Object> out = new EnumMap<>(values);
            // Derived here so that service("x") and AUTOPILOT_SERVICE=x mean the same thing (contract, section 2).
            String producer = (String) out.get(Setting.PRODUCER);
            String service = (String) out.get(Setting.SERVICE);
            if (producer != null && !producer.contains("://")) {
                warn("AUTOPILOT_PRODUCER='%s' has no scheme; using svc://%s.", producer, producer);
                producer = "svc://" + producer;
            }
            if (producer == null && service != null) {
                producer = "svc://" + service;
            }
            if (producer != null && service == null && producer.startsWith("svc://") && producer.length() > 6) {
                service = producer.substring(6);
            }
            out.put(Setting.PRODUCER, producer);
            out.put(Setting.SERVICE, service);
            String endpoint = (String) out.get(Setting.ENDPOINT);
            if (endpoint != null) {
                while (endpoint.endsWith("/")) {
                    endpoint = endpoint.substring(0, endpoint.length() - 1);
                }
                out.put(Setting.ENDPOINT, endpoint.isEmpty() ? null : endpoint);
            }
            return new Settings(out);
        }

        private static Object parseDefault(Setting setting) {
            String text = setting.defaultValue();
            switch (setting.kind()) {
                case BOOLEAN:
                    return Boolean.parseBoolean(text);
                case INTEGER:
                    return Integer.parseInt(text);
                case SECONDS:
                    return Double.parseDouble(text);
                default:
                    return text;
            }
        }

        private static Object parse(Setting setting, Object raw, String name) {
            Object fallback = parseDefault(setting);
            if (raw == null) {
                return setting.kind() == Setting.Kind.TEXT ? null : fallback;
            }
            switch (setting.kind()) {
                case TEXT: {
                    String text = raw.toString().strip();
                    return text.isEmpty() ? null : text;
                }
                case BOOLEAN: {
                    if (raw instanceof Boolean) {
                        return raw;
                    }
                    String text = raw.toString().strip().toLowerCase(Locale.ROOT);
                    if (TRUE.contains(text)) {
                        return true;
                    }
                    if (FALSE.contains(text)) {
                        return false;
                    }
                    warn("%s='%s' is not a boolean (true/false); using %s.", name, raw, fallback);
                    return fallback;
                }
                default:
                    return parseNumber(setting, raw, name, fallback);
            }
        }

        private static Object parseNumber(Setting setting, Object raw, String name, Object fallback) {
            boolean integer = setting.kind() == Setting.Kind.INTEGER;
            String text = raw.toString().strip();
            if (text.isEmpty()) {
                return fallback;
            }
            double value;
            try {
                if (raw instanceof Boolean) {
                    throw new NumberFormatException();
                }
                value = integer ? Long.parseLong(text) : Double.parseDouble(text);
            } catch (NumberFormatException e) {
                warn("%s='%s' is not %s; using the default %s.", name, raw,
                        integer ? "an integer" : "a number of seconds", setting.defaultValue());
                return fallback;
            }
            if (Double.isNaN(value) || value < setting.low() || value > setting.high()) {
                warn("%s='%s' is outside [%s, %s]; using the default %s.", name, raw,
                        plain(setting.low()), plain(setting.high()), setting.defaultValue());
                return fallback;
            }
            return integer ? (Object) (int) value : (Object) value;
        }

        private static String plain(double value) {
            return value == Math.rint(value) ? Long.toString((long) value) : Double.toString(value);
        }

        private static void warn(String pattern, Object... args) {
            ProblemLog.logger().log(System.Logger.Level.WARNING, "autopilot: " + String.format(Locale.ROOT, pattern, args));
        }
    }
}
