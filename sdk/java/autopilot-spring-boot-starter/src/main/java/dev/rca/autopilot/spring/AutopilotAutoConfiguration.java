package dev.rca.autopilot.spring;

import dev.rca.autopilot.Autopilot;
import dev.rca.autopilot.AutopilotClient;
import dev.rca.autopilot.Settings;
import dev.rca.autopilot.TraceContext;
import dev.rca.autopilot.Transport;
import dev.rca.autopilot.kafka.AutopilotProducerInterceptor;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.Map;
import org.apache.kafka.clients.producer.ProducerConfig;
import io.micrometer.tracing.Tracer;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.actuate.autoconfigure.health.ConditionalOnEnabledHealthIndicator;
import org.springframework.boot.actuate.health.HealthIndicator;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.boot.autoconfigure.info.ProjectInfoAutoConfiguration;
import org.springframework.boot.autoconfigure.kafka.DefaultKafkaProducerFactoryCustomizer;
import org.springframework.boot.info.BuildProperties;
import org.springframework.boot.info.GitProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Conditional;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.Environment;

/**
 * rca evidence for a Spring Boot service. Nothing here is created unless {@code autopilot.enabled=true}
 * ({@code AUTOPILOT_ENABLED=true}): no bean, no thread, no socket.
 *
 * <p>Enabled, it creates the {@link AutopilotClient} (installed as the process-wide one, so {@link Autopilot#emit}
 * and the Kafka interceptor use it), sends the startup DeploymentEvent with the version from build-info and the
 * commit from git.properties, and, each when the application has it: Micrometer meters, an Actuator health
 * contributor that is never DOWN because rca is, the Kafka identity headers on every record spring-kafka sends, and
 * the traceparent of the request in use (from Micrometer Tracing or OpenTelemetry, else started at the edge).
 */
@AutoConfiguration(after = ProjectInfoAutoConfiguration.class, afterName = {
    "org.springframework.boot.actuate.autoconfigure.tracing.MicrometerTracingAutoConfiguration",
    "org.springframework.boot.actuate.autoconfigure.tracing.BraveAutoConfiguration",
    "org.springframework.boot.actuate.autoconfigure.tracing.OpenTelemetryTracingAutoConfiguration"})
@Conditional(OnAutopilotEnabledCondition.class)
public class AutopilotAutoConfiguration {

    @Bean(destroyMethod = "close")
    @ConditionalOnMissingBean
    public AutopilotClient autopilotClient(Environment environment, ObjectProvider<BuildProperties> build,
                                           ObjectProvider<GitProperties> git, ObjectProvider<Transport> transport) {
        Settings settings = AutopilotSettingsBinder.bind(environment, build.getIfAvailable(), git.getIfAvailable());
        // A Transport bean (e.g. dev.rca.autopilot.testing.FakeTransport in a test) replaces the JDK HTTP client.
        return AutopilotClient.builder(settings).transport(transport.getIfAvailable()).build();
    }

    /** Makes the client the process-wide one for as long as the context lives. */
    @Bean
    AutopilotInstallation autopilotInstallation(AutopilotClient client) {
        return new AutopilotInstallation(client);
    }

    static final class AutopilotInstallation implements DisposableBean {
        private final AutopilotClient client;

        AutopilotInstallation(AutopilotClient client) {
            this.client = client;
            Autopilot.install(client);
        }

        @Override
        public void destroy() {
            Autopilot.uninstall(client);
        }
    }

    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(MeterBinder.class)
    static class MetricsConfiguration {
        @Bean
        AutopilotMetrics autopilotMetrics(AutopilotClient client) {
            return new AutopilotMetrics(client);
        }
    }

    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass({HealthIndicator.class, ConditionalOnEnabledHealthIndicator.class})
    @ConditionalOnEnabledHealthIndicator("autopilot")
    static class HealthConfiguration {
        @Bean
        AutopilotHealthIndicator autopilotHealthIndicator(AutopilotClient client) {
            return new AutopilotHealthIndicator(client);
        }
    }

    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(name = {"org.apache.kafka.clients.producer.ProducerInterceptor",
        "org.springframework.kafka.core.DefaultKafkaProducerFactory",
        "org.springframework.boot.autoconfigure.kafka.DefaultKafkaProducerFactoryCustomizer"})
    static class KafkaConfiguration {
        @Bean
        DefaultKafkaProducerFactoryCustomizer autopilotKafkaProducerFactoryCustomizer() {
            return factory -> {
                Object configured = factory.getConfigurationProperties().get(ProducerConfig.INTERCEPTOR_CLASSES_CONFIG);
                factory.updateConfigs(Map.of(ProducerConfig.INTERCEPTOR_CLASSES_CONFIG,
                        AutopilotProducerInterceptor.withInterceptor(configured)));
            };
        }
    }

    /** The trace in use comes from Micrometer Tracing's current span when the application traces. */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(Tracer.class)
    @ConditionalOnBean(Tracer.class)
    static class MicrometerTracingConfiguration {
        @Bean
        TraceSourceInstallation autopilotTraceSource(Tracer tracer) {
            return new TraceSourceInstallation(new TraceSources.Micrometer(tracer));
        }
    }

    /** Else from OpenTelemetry's current span (the OpenTelemetry Java agent, or the OpenTelemetry SDK). */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(name = "io.opentelemetry.api.trace.Span")
    @ConditionalOnMissingBean(type = "io.micrometer.tracing.Tracer")
    static class OpenTelemetryConfiguration {
        @Bean
        TraceSourceInstallation autopilotOpenTelemetryTraceSource() {
            return new TraceSourceInstallation(new TraceSources.OpenTelemetry());
        }
    }

    static final class TraceSourceInstallation implements DisposableBean {
        private final TraceContext.Source previous;

        TraceSourceInstallation(TraceContext.Source source) {
            this.previous = TraceContext.installSource(source);
        }

        @Override
        public void destroy() {
            TraceContext.installSource(previous);
        }
    }

    /** At the edge of a servlet application: continue the caller's traceparent, or start a trace. */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.SERVLET)
    @ConditionalOnClass(name = {"jakarta.servlet.Filter", "org.springframework.web.filter.OncePerRequestFilter"})
    static class ServletTraceConfiguration {
        @Bean
        AutopilotTraceFilter autopilotTraceFilter() {
            return new AutopilotTraceFilter();
        }
    }

    /** At the edge of a WebFlux application. */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.REACTIVE)
    @ConditionalOnClass(name = "org.springframework.web.server.WebFilter")
    static class ReactiveTraceConfiguration {
        @Bean
        AutopilotTraceWebFilter autopilotTraceWebFilter() {
            return new AutopilotTraceWebFilter();
        }
    }
}
