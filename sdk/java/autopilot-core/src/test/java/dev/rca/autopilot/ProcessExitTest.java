package dev.rca.autopilot;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A real JVM per test: events queued at exit are flushed, and a sleeping backend cannot hold the exit up. */
class ProcessExitTest {

    /** The program the child JVM runs: emit, then return from main without flushing. */
    public static final class Child {
        public static void main(String[] args) {
            int count = Integer.parseInt(args[0]);
            for (int i = 0; i < count; i++) {
                Autopilot.emit("JobRunStarted", Map.of("run_id", "at-exit-" + i));
            }
            if (args.length > 1) {
                System.out.println(ClientTest.autopilotThreads());
            }
        }
    }

    static Process run(Map<String, String> env, String... args) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new java.util.ArrayList<>(List.of(java, "-cp", System.getProperty("java.class.path"),
                Child.class.getName()));
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().keySet().removeIf(name -> name.startsWith("AUTOPILOT_"));
        builder.environment().putAll(env);
        builder.redirectOutput(ProcessBuilder.Redirect.PIPE);
        return builder.start();
    }

    @Test
    void eventsQueuedAtExitAreFlushed() throws Exception {
        try (Backend backend = new Backend("ok")) {
            Process process = run(Map.of("AUTOPILOT_ENABLED", "true", "AUTOPILOT_ENDPOINT", backend.url,
                    "AUTOPILOT_SERVICE", "s", "AUTOPILOT_STARTUP_EVENT", "false", "AUTOPILOT_FLUSH_INTERVAL", "60",
                    "AUTOPILOT_SHUTDOWN_TIMEOUT", "20"), "3"); // only the exit hook can send them; a loaded machine is slow
            assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(process.exitValue()).isZero();
            assertThat(backend.events()).extracting(e -> e.path("data").path("run_id").asText())
                    .containsExactly("at-exit-0", "at-exit-1", "at-exit-2");
        }
    }

    @Test
    void aSleepingBackendCannotHoldUpTheExit() throws Exception {
        try (Backend backend = new Backend("sleep", 5000)) {
            // The same program with the SDK off, in the same run: JVM start-up on a loaded machine is the baseline.
            long began = System.nanoTime();
            Process baseline = run(Map.of("AUTOPILOT_SERVICE", "s"), "100");
            assertThat(baseline.waitFor(60, TimeUnit.SECONDS)).isTrue();
            long off = System.nanoTime() - began;
            began = System.nanoTime();
            Process process = run(Map.of("AUTOPILOT_ENABLED", "true", "AUTOPILOT_ENDPOINT", backend.url,
                    "AUTOPILOT_SERVICE", "s", "AUTOPILOT_TIMEOUT", "10", "AUTOPILOT_SHUTDOWN_TIMEOUT", "0.5"), "100");
            assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(process.exitValue()).isZero();
            // The server sleeps 5 s and the SDK's timeout is 10 s; exit waits 0.5 s at most, so the run takes the
            // baseline plus well under the server's 5 s.
            assertThat(System.nanoTime() - began).as("ns, against %d ns with the SDK off", off)
                    .isLessThan(off + 3_000_000_000L);
        }
    }

    @Test
    void disabledInARealProcessStartsNoThread() throws Exception {
        Process process = run(Map.of("AUTOPILOT_ENDPOINT", "http://127.0.0.1:9", "AUTOPILOT_SERVICE", "s"), "10", "count");
        assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
        String out = new String(process.getInputStream().readAllBytes()).trim();
        assertThat(out).isEqualTo("0");
        assertThat(new File(".")).exists();
    }
}
