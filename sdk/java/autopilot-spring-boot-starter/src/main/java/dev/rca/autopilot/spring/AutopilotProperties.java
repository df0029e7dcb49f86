package dev.rca.autopilot.spring;

import dev.rca.autopilot.Setting;
import java.util.EnumMap;
import java.util.Map;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * The {@code autopilot.*} properties: the settings of sdk/spec/CONTRACT.md, section 2, under their Spring names
 * ({@code autopilot.queue-size}, or the environment variable {@code AUTOPILOT_QUEUE_SIZE}). Durations are seconds,
 * decimals allowed, as in every language's SDK.
 *
 * <p>Bound leniently by {@link AutopilotAutoConfiguration}: a value that will not convert, or lies outside its
 * bounds, is logged once and replaced by its default, never thrown, because a typo in a deployment manifest must not
 * stop the service from starting.
 */
@ConfigurationProperties(prefix = "autopilot")
public class AutopilotProperties {
    /** Send evidence to rca. Nothing is created, started or opened unless true. */
    private Boolean enabled = false;
    /** Base URL of the rca service, e.g. https://rca.internal. Enabled without it stays off (logged). */
    private String endpoint;
    /** The producer token, sent as "Authorization: Bearer <token>". */
    private String token;
    /** Service name; the producer becomes svc://<service>. Defaults to spring.application.name. */
    private String service;
    /** The producer URN (svc://..., job://...), the events' source. Defaults to svc://<service>. */
    private String producer;
    /** Deployment environment (prod, staging, ...): the autopilot-env Kafka header and deploy events. */
    private String env;
    /** Data domain, carried on deploy events. */
    private String domain;
    /** Version named by the startup deploy event. Defaults to the BuildProperties version (build-info). */
    private String version;
    /** Commit named by the startup deploy event. Defaults to the GitProperties short commit id (git.properties). */
    private String commit;
    /** Events held while waiting for delivery (1 to 1,000,000); beyond it, events are dropped as queue_full. */
    private Integer queueSize = 2048;
    /** Events per POST (1 to 10,000). */
    private Integer batchSize = 512;
    /** Longest a partial batch waits, in seconds (0.01 to 3600). */
    private Double flushInterval = 1.0;
    /** TCP (and TLS) connect timeout, in seconds (0.01 to 60). */
    private Double connectTimeout = 1.0;
    /** Total time for one request, connect to last byte, in seconds (0.01 to 300). */
    private Double timeout = 3.0;
    /** Retries of 408/429/5xx/network failures after the first attempt (0 to 100); other 4xx are never retried. */
    private Integer maxRetries = 3;
    /** First retry waits up to this many seconds (full jitter, doubling per retry). */
    private Double backoffBase = 0.5;
    /** No retry waits longer than this many seconds. */
    private Double backoffMax = 8.0;
    /** An event older than this many seconds (since emit) is dropped as timeout, not sent. */
    private Double maxAge = 300.0;
    /** Consecutive failed attempts that open the circuit breaker (1 to 1000). */
    private Integer circuitFailures = 5;
    /** Seconds the circuit stays open before the first half-open probe. */
    private Double circuitReset = 30.0;
    /** Kill-switch poll period, in seconds. */
    private Double controlPollInterval = 30.0;
    /** The most the application's shutdown waits for delivery, in seconds (0 to 300). */
    private Double shutdownTimeout = 2.0;
    /** Send one DeploymentEvent (source: startup) per process. Set false once a CI step sends deploy events. */
    private Boolean startupEvent = true;
    /** Send the drop counters in an Autopilot-Signals-Dropped header on every POST. */
    private Boolean exportDrops = false;
    /**
     * Seconds between SdkHealth self-telemetry events (counters by reason, queue depth, circuit state), sent by the
     * SDK's worker thread (0 to 86,400). 0 sends none.
     */
    private Double healthInterval = 0.0;

    /** Every setting that was given, by its contract name. */
    Map<Setting, Object> values() {
        Map<Setting, Object> out = new EnumMap<>(Setting.class);
        out.put(Setting.ENABLED, enabled);
        out.put(Setting.ENDPOINT, endpoint);
        out.put(Setting.TOKEN, token);
        out.put(Setting.SERVICE, service);
        out.put(Setting.PRODUCER, producer);
        out.put(Setting.ENV, env);
        out.put(Setting.DOMAIN, domain);
        out.put(Setting.VERSION, version);
        out.put(Setting.COMMIT, commit);
        out.put(Setting.QUEUE_SIZE, queueSize);
        out.put(Setting.BATCH_SIZE, batchSize);
        out.put(Setting.FLUSH_INTERVAL, flushInterval);
        out.put(Setting.CONNECT_TIMEOUT, connectTimeout);
        out.put(Setting.TIMEOUT, timeout);
        out.put(Setting.MAX_RETRIES, maxRetries);
        out.put(Setting.BACKOFF_BASE, backoffBase);
        out.put(Setting.BACKOFF_MAX, backoffMax);
        out.put(Setting.MAX_AGE, maxAge);
        out.put(Setting.CIRCUIT_FAILURES, circuitFailures);
        out.put(Setting.CIRCUIT_RESET, circuitReset);
        out.put(Setting.CONTROL_POLL_INTERVAL, controlPollInterval);
        out.put(Setting.SHUTDOWN_TIMEOUT, shutdownTimeout);
        out.put(Setting.STARTUP_EVENT, startupEvent);
        out.put(Setting.EXPORT_DROPS, exportDrops);
        out.put(Setting.HEALTH_INTERVAL, healthInterval);
        return out;
    }

    public Boolean getEnabled() { return enabled; }
    public void setEnabled(Boolean enabled) { this.enabled = enabled; }
    public String getEndpoint() { return endpoint; }
    public void setEndpoint(String endpoint) { this.endpoint = endpoint; }
    public String getToken() { return token; }
    public void setToken(String token) { this.token = token; }
    public String getService() { return service; }
    public void setService(String service) { this.service = service; }
    public String getProducer() { return producer; }
    public void setProducer(String producer) { this.producer = producer; }
    public String getEnv() { return env; }
    public void setEnv(String env) { this.env = env; }
    public String getDomain() { return domain; }
    public void setDomain(String domain) { this.domain = domain; }
    public String getVersion() { return version; }
    public void setVersion(String version) { this.version = version; }
    public String getCommit() { return commit; }
    public void setCommit(String commit) { this.commit = commit; }
    public Integer getQueueSize() { return queueSize; }
    public void setQueueSize(Integer queueSize) { this.queueSize = queueSize; }
    public Integer getBatchSize() { return batchSize; }
    public void setBatchSize(Integer batchSize) { this.batchSize = batchSize; }
    public Double getFlushInterval() { return flushInterval; }
    public void setFlushInterval(Double flushInterval) { this.flushInterval = flushInterval; }
    public Double getConnectTimeout() { return connectTimeout; }
    public void setConnectTimeout(Double connectTimeout) { this.connectTimeout = connectTimeout; }
    public Double getTimeout() { return timeout; }
    public void setTimeout(Double timeout) { this.timeout = timeout; }
    public Integer getMaxRetries() { return maxRetries; }
    public void setMaxRetries(Integer maxRetries) { this.maxRetries = maxRetries; }
    public Double getBackoffBase() { return backoffBase; }
    public void setBackoffBase(Double backoffBase) { this.backoffBase = backoffBase; }
    public Double getBackoffMax() { return backoffMax; }
    public void setBackoffMax(Double backoffMax) { this.backoffMax = backoffMax; }
    public Double getMaxAge() { return maxAge; }
    public void setMaxAge(Double maxAge) { this.maxAge = maxAge; }
    public Integer getCircuitFailures() { return circuitFailures; }
    public void setCircuitFailures(Integer circuitFailures) { this.circuitFailures = circuitFailures; }
    public Double getCircuitReset() { return circuitReset; }
    public void setCircuitReset(Double circuitReset) { this.circuitReset = circuitReset; }
    public Double getControlPollInterval() { return controlPollInterval; }
    public void setControlPollInterval(Double controlPollInterval) { this.controlPollInterval = controlPollInterval; }
    public Double getShutdownTimeout() { return shutdownTimeout; }
    public void setShutdownTimeout(Double shutdownTimeout) { this.shutdownTimeout = shutdownTimeout; }
    public Boolean getStartupEvent() { return startupEvent; }
    public void setStartupEvent(Boolean startupEvent) { this.startupEvent = startupEvent; }
    public Boolean getExportDrops() { return exportDrops; }
    public void setExportDrops(Boolean exportDrops) { this.exportDrops = exportDrops; }
    public Double getHealthInterval() { return healthInterval; }
    public void setHealthInterval(Double healthInterval) { this.healthInterval = healthInterval; }
}
