package dev.rca.autopilot.spring;

import dev.rca.autopilot.Setting;
import dev.rca.autopilot.Settings;
import dev.rca.autopilot.internal.ProblemLog;
import java.util.Map;
import org.springframework.boot.context.properties.bind.AbstractBindHandler;
import org.springframework.boot.context.properties.bind.BindContext;
import org.springframework.boot.context.properties.bind.BindHandler;
import org.springframework.boot.context.properties.bind.Bindable;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.ConfigurationPropertyName;
import org.springframework.boot.info.BuildProperties;
import org.springframework.boot.info.GitProperties;
import org.springframework.core.env.Environment;

/**
 * The SDK's {@link Settings} from the Spring {@link Environment}: {@code autopilot.*} properties in any form Spring
 * accepts ({@code application.yml}, {@code AUTOPILOT_QUEUE_SIZE}, {@code --autopilot.queue-size=64}), then the
 * application's identity where a property is not set: {@code spring.application.name} for the service,
 * {@link BuildProperties} for the version and {@link GitProperties} for the commit.
 */
final class AutopilotSettingsBinder {

    private AutopilotSettingsBinder() {}

    static Settings bind(Environment environment, BuildProperties build, GitProperties git) {
        Binder binder = Binder.get(environment);
        AutopilotProperties properties = binder.bind("autopilot", Bindable.ofInstance(new AutopilotProperties()),
                new LenientBindHandler()).orElseGet(AutopilotProperties::new);
        Settings.Builder settings = Settings.builder();
        for (Map.Entry<Setting, Object> entry : properties.values().entrySet()) {
            settings.set(entry.getKey(), entry.getValue(), entry.getKey().property());
        }
        if (properties.getService() == null && properties.getProducer() == null) {
            settings.service(environment.getProperty("spring.application.name"));
        }
        if (properties.getVersion() == null && build != null) {
            settings.version(build.getVersion());
        }
        if (properties.getCommit() == null && git != null) {
            settings.commit(git.getShortCommitId());
        }
        return settings.build();
    }

    /** Whether {@code autopilot.enabled} says on ({@code true/1/yes/on}, any case), read like every other setting. */
    static boolean enabled(Environment environment) {
        Object raw = Binder.get(environment).bind("autopilot.enabled", String.class).orElse(null);
        return Settings.builder().set(Setting.ENABLED, raw, "autopilot.enabled").build().enabled();
    }

    /** A value that will not convert is logged, naming the property and the default used, and skipped. */
    private static final class LenientBindHandler extends AbstractBindHandler {
        LenientBindHandler() {
            super(BindHandler.DEFAULT);
        }

        @Override
        public Object onFailure(ConfigurationPropertyName name, Bindable<?> target, BindContext context, Exception error)
                throws Exception {
            Object fallback = target.getValue() != null ? target.getValue().get() : null;
            Object raw = context.getConfigurationProperty() != null ? context.getConfigurationProperty().getValue() : "?";
            ProblemLog.warn("autopilot: %s='%s' is not valid (%s); using the default %s.", name, raw,
                    rootCause(error).getMessage(), fallback);
            return fallback;
        }

        private static Throwable rootCause(Throwable error) {
            Throwable cause = error;
            while (cause.getCause() != null && cause.getCause() != cause) {
                cause = cause.getCause();
            }
            return cause;
        }
    }
}
