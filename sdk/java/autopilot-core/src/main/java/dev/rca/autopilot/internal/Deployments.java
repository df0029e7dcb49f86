package dev.rca.autopilot.internal;

import dev.rca.autopilot.Settings;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;

/** DeploymentEvent data, from a CI step ({@code autopilot-cli deploy-event}) or, as a fallback, at start-up. */
public final class Deployments {
    private static final Pattern UNSAFE_ID = Pattern.compile("[^A-Za-z0-9._:@+-]+");

    private Deployments() {}

    /** {@code service@version+commit}, the form the service correlates deploys by (sdk/spec/vectors). */
    public static String deployRef(String service, String version, String commit) {
        return commit != null && !commit.isEmpty() ? service + "@" + version + "+" + commit : service + "@" + version;
    }

    /**
     * {@code deploy-<service>-<env>-<version>-<commit>}: deterministic, so re-running the CI step is idempotent. The
     * env is part of it: the same build deployed to staging and then to prod is two deploys.
     */
    public static String ciEventId(String service, String env, String version, String commit) {
        String joined = String.join("-", "deploy", service, blank(env) ? "-" : env, version, blank(commit) ? "-" : commit);
        return UNSAFE_ID.matcher(joined).replaceAll("_");
    }

    /** The data of a CI DeploymentEvent ({@code source: ci}), keys in the order of sdk/spec/vectors. */
    public static Map<String, Object> ciData(String service, String version, String commit, String env, String domain,
                                             String status, String reference) {
        Map<String, Object> data = new LinkedHashMap<>();
        data.put("service", service);
        if (!blank(env)) {
            data.put("env", env);
        }
        data.put("version", version);
        if (!blank(commit)) {
            data.put("commit", commit);
        }
        data.put("deploy_ref", blank(reference) ? deployRef(service, version, commit) : reference);
        data.put("status", status);
        data.put("source", "ci");
        if (!blank(domain)) {
            data.put("domain", domain);
        }
        return data;
    }

    /**
     * The data of the once-per-process fallback DeploymentEvent ({@code source: startup}), or null without a
     * service. Without a version it is "unknown": the event still records that the service (re)started then.
     */
    public static Map<String, Object> startupData(Settings settings) {
        String service = settings.service();
        if (blank(service)) {
            return null;
        }
        String version = blank(settings.version()) ? "unknown" : settings.version();
        Map<String, Object> data = new LinkedHashMap<>();
        data.put("service", service);
        data.put("version", version);
        data.put("source", "startup");
        if (!blank(settings.env())) {
            data.put("env", settings.env());
        }
        if (!blank(settings.commit())) {
            data.put("commit", settings.commit());
        }
        if (!blank(settings.version())) {
            data.put("deploy_ref", deployRef(service, version, settings.commit()));
        }
        data.put("status", "succeeded");
        if (!blank(settings.domain())) {
            data.put("domain", settings.domain());
        }
        return data;
    }

    private static boolean blank(String text) {
        return text == null || text.isEmpty();
    }
}
