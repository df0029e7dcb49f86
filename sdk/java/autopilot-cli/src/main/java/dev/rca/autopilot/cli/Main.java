package dev.rca.autopilot.cli;

import dev.rca.autopilot.Autopilot;
import dev.rca.autopilot.Event;
import dev.rca.autopilot.JdkHttpTransport;
import dev.rca.autopilot.Settings;
import dev.rca.autopilot.Transport;
import dev.rca.autopilot.internal.Delivery;
import dev.rca.autopilot.internal.Deployments;
import dev.rca.autopilot.internal.Json;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * {@code autopilot-cli deploy-event}: deploy evidence from CI. {@code autopilot-cli settings}: what the SDK would use.
 *
 * <pre>
 * java -jar autopilot-cli.jar deploy-event --service checkout-service --version v2.8.1 --commit 3f9c2ab --env prod
 * </pre>
 *
 * The flags and exit codes are the Python CLI's (sdk/spec/CONTRACT.md, section 11): a deploy must never fail
 * because the evidence backend is down, so without {@code --strict} a failure is reported and the exit code is 0;
 * with it, 1. A usage error exits 2.
 */
public final class Main {
    static final int EXIT_OK = 0;
    static final int EXIT_NOT_DELIVERED = 1;
    static final int EXIT_USAGE = 2;
    private static final Set<String> STATUSES = Set.of("succeeded", "failed", "rolled_back");
    private static final Set<String> VALUED = Set.of("--service", "--version", "--commit", "--env", "--domain",
            "--status", "--deploy-ref", "--id", "--endpoint", "--token", "--timeout");
    private static final Set<String> FLAGS = Set.of("--strict", "--dry-run");
    private static final String USAGE = String.join("\n",
            "usage: autopilot-cli deploy-event --service SERVICE --version VERSION [--commit COMMIT] [--env ENV]",
            "                                  [--domain DOMAIN] [--status {succeeded,failed,rolled_back}]",
            "                                  [--deploy-ref REF] [--id ID] [--endpoint URL] [--token TOKEN]",
            "                                  [--timeout SECONDS] [--strict] [--dry-run]",
            "       autopilot-cli settings",
            "",
            "Send a DeploymentEvent (source: ci) for the deploy this CI job just made. Exits 0 when the backend is",
            "down unless --strict (then 1); a usage error exits 2. Defaults: --service AUTOPILOT_SERVICE, --commit",
            "AUTOPILOT_COMMIT or GITHUB_SHA, --env AUTOPILOT_ENV, --domain AUTOPILOT_DOMAIN, --endpoint",
            "AUTOPILOT_ENDPOINT, --token AUTOPILOT_TOKEN, --timeout 15 (total seconds to try for), --status",
            "succeeded, --deploy-ref service@version+commit, --id deploy-<service>-<env>-<version>-<commit>.");

    private final Map<String, String> env;
    private final PrintStream out;
    private final PrintStream err;

    Main(Map<String, String> env, PrintStream out, PrintStream err) {
        this.env = env;
        this.out = out;
        this.err = err;
    }

    public static void main(String[] args) {
        System.exit(new Main(System.getenv(), System.out, System.err).run(List.of(args), null));
    }

    /** Run one command; the exit code. {@code transport} null means the JDK's HTTP client. */
    int run(List<String> args, Transport transport) {
        if (args.isEmpty() || args.contains("-h") || args.contains("--help")) {
            (args.isEmpty() ? err : out).println(USAGE);
            return args.isEmpty() ? EXIT_USAGE : EXIT_OK;
        }
        String command = args.get(0);
        if ("settings".equals(command)) {
            out.println(pretty(Settings.fromEnvironment().redacted()));
            return EXIT_OK;
        }
        if (!"deploy-event".equals(command)) {
            return usage("unknown command '" + command + "' (choose deploy-event or settings)");
        }
        Map<String, String> options = new LinkedHashMap<>();
        for (int i = 1; i < args.size(); i++) {
            String arg = args.get(i);
            String value = null;
            int equals = arg.indexOf('=');
            if (arg.startsWith("--") && equals > 0) {
                value = arg.substring(equals + 1);
                arg = arg.substring(0, equals);
            }
            if (FLAGS.contains(arg) && value == null) {
                options.put(arg, "true");
            } else if (VALUED.contains(arg)) {
                if (value == null) {
                    if (i + 1 >= args.size()) {
                        return usage("argument " + arg + ": expected one argument");
                    }
                    value = args.get(++i);
                }
                options.put(arg, value);
            } else {
                return usage("unrecognized arguments: " + args.get(i));
            }
        }
        String service = option(options, "--service", env.get("AUTOPILOT_SERVICE"));
        String version = options.get("--version");
        if (service == null || version == null) {
            return usage("the following arguments are required: " + (service == null ? "--service" : "--version"));
        }
        String status = option(options, "--status", "succeeded");
        if (!STATUSES.contains(status)) {
            return usage("argument --status: invalid choice: '" + status + "' (choose from succeeded, failed, rolled_back)");
        }
        double timeout;
        try {
            timeout = Double.parseDouble(option(options, "--timeout", "15"));
            if (!(timeout >= 0)) {
                throw new NumberFormatException();
            }
        } catch (NumberFormatException e) {
            return usage("argument --timeout: invalid float value: '" + options.get("--timeout") + "'");
        }
        String commit = option(options, "--commit", env.getOrDefault("AUTOPILOT_COMMIT", env.get("GITHUB_SHA")));
        String environment = option(options, "--env", env.get("AUTOPILOT_ENV"));
        String domain = option(options, "--domain", env.get("AUTOPILOT_DOMAIN"));
        String id = option(options, "--id", Deployments.ciEventId(service, environment, version, commit));
        Map<String, Object> data = Deployments.ciData(service, version, commit, environment, domain, status,
                options.get("--deploy-ref"));
        Map<String, Object> event = Autopilot.buildEvent(Event.of("DeploymentEvent", data).id(id),
                "svc://" + service, Clock.systemUTC());
        boolean strict = options.containsKey("--strict");
        if (options.containsKey("--dry-run")) {
            out.println(pretty(event));
            return EXIT_OK;
        }
        String endpoint = option(options, "--endpoint", env.get("AUTOPILOT_ENDPOINT"));
        if (endpoint == null) {
            return giveUp(strict, "no endpoint (set AUTOPILOT_ENDPOINT or pass --endpoint); nothing sent");
        }
        endpoint = endpoint.replaceAll("/+$", "");
        String token = option(options, "--token", env.get("AUTOPILOT_TOKEN"));
        Transport http = transport != null ? transport : new JdkHttpTransport(Duration.ofSeconds(2));
        return send(http, endpoint, token, event, timeout, strict);
    }

    private int send(Transport transport, String endpoint, String token, Map<String, Object> event, double timeout,
                     boolean strict) {
        byte[] body = ("[" + Json.write(event) + "]").getBytes(StandardCharsets.UTF_8);
        long deadline = System.nanoTime() + (long) (timeout * 1e9);
        String detail = "";
        int attempt = 0;
        while (true) {
            long remaining = deadline - System.nanoTime();
            if (remaining <= 0) {
                break;
            }
            Delivery.Submission result = Delivery.submit(transport, endpoint, token, body, 1,
                    Duration.ofNanos(Math.min(remaining, 2_000_000_000L)), Duration.ofNanos(Math.min(remaining, 10_000_000_000L)),
                    null);
            if (result.outcome == Delivery.Outcome.DELIVERED && result.rejected == 0) {
                out.println("autopilot: DeploymentEvent " + event.get("id") + " delivered to " + endpoint);
                return EXIT_OK;
            }
            if (result.outcome != Delivery.Outcome.RETRY) {
                String why = result.rejections.isEmpty() ? result.detail : String.join("; ", result.rejections);
                return giveUp(strict, "the service rejected DeploymentEvent " + event.get("id") + ": " + why);
            }
            detail = result.detail;
            attempt++;
            double pause = Math.max(result.retryAfterSeconds == null ? 0 : result.retryAfterSeconds,
                    ThreadLocalRandom.current().nextDouble(Math.min(4.0, 0.5 * Math.pow(2, attempt))));
            long sleep = Math.min((long) (pause * 1e9), deadline - System.nanoTime());
            if (sleep > 0) {
                try {
                    Thread.sleep(sleep / 1_000_000, (int) (sleep % 1_000_000));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        return giveUp(strict, String.format("could not deliver DeploymentEvent %s within %ss (%s)", event.get("id"),
                plain(timeout), detail));
    }

    private int giveUp(boolean strict, String message) {
        if (strict) {
            err.println("autopilot: error: " + message);
            return EXIT_NOT_DELIVERED;
        }
        err.println("autopilot: warning: " + message + "; continuing (pass --strict to fail the step)");
        return EXIT_OK;
    }

    private int usage(String message) {
        err.println(USAGE);
        err.println("autopilot-cli deploy-event: error: " + message);
        return EXIT_USAGE;
    }

    private static String option(Map<String, String> options, String name, String fallback) {
        String value = options.get(name);
        return value != null ? value : fallback == null || fallback.isEmpty() ? null : fallback;
    }

    private static String plain(double value) {
        return value == Math.rint(value) ? Long.toString((long) value) : Double.toString(value);
    }

    /** JSON with two-space indentation, for people reading a dry run. */
    static String pretty(Object value) {
        StringBuilder out = new StringBuilder();
        pretty(out, value, 0);
        return out.toString();
    }

    private static void pretty(StringBuilder out, Object value, int depth) {
        String indent = "  ".repeat(depth + 1);
        if (value instanceof Map && !((Map<?, ?>) value).isEmpty()) {
            out.append("{\n");
            int i = 0;
            for (Map.Entry<?, ?> entry : ((Map<?, ?>) value).entrySet()) {
                out.append(indent).append(Json.write(String.valueOf(entry.getKey()))).append(": ");
                pretty(out, entry.getValue(), depth + 1);
                out.append(++i < ((Map<?, ?>) value).size() ? ",\n" : "\n");
            }
            out.append("  ".repeat(depth)).append('}');
        } else {
            out.append(Json.write(value));
        }
    }
}
