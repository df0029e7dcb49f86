package dev.rca.autopilot;

import dev.rca.autopilot.internal.ProcessState;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/** Clients with fast settings (as the Python suite's FAST), shut down after each test; the autopilot log captured. */
abstract class Fixtures {
    private final List<AutopilotClient> clients = new ArrayList<>();
    final LogCapture log = new LogCapture();

    static Settings.Builder fast(String endpoint) {
        return Settings.builder()
                .enabled(true)
                .endpoint(endpoint)
                .service("checkout-service")
                .env("test")
                // Generous: a loaded CI machine must not turn a healthy exchange into a timeout. Tests about
                // timeouts set their own.
                .connectTimeout(Duration.ofSeconds(1))
                .timeout(Duration.ofSeconds(2))
                .flushInterval(Duration.ofMillis(50))
                .backoff(Duration.ofMillis(10), Duration.ofMillis(50))
                .maxRetries(2)
                .circuitFailures(3)
                .circuitReset(Duration.ofMillis(500))
                .controlPollInterval(Duration.ofMillis(200))
                .shutdownTimeout(Duration.ofMillis(500))
                .startupEvent(false);
    }

    AutopilotClient client(String endpoint) {
        return client(fast(endpoint), null);
    }

    AutopilotClient client(Settings.Builder settings, Transport transport) {
        AutopilotClient client = AutopilotClient.builder(settings.build()).transport(transport).build();
        clients.add(client);
        return client;
    }

    AutopilotClient client(String endpoint, Consumer<Settings.Builder> tweak) {
        Settings.Builder settings = fast(endpoint);
        tweak.accept(settings);
        return client(settings, null);
    }

    @BeforeEach
    void freshProcess() {
        ProcessState.resetForTests();
        log.start();
    }

    @AfterEach
    void closeClients() {
        clients.forEach(client -> client.shutdown(Duration.ofMillis(200)));
        log.stop();
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    static boolean eventually(java.util.function.BooleanSupplier condition, long millis) {
        long deadline = System.nanoTime() + millis * 1_000_000;
        while (System.nanoTime() < deadline) {
            if (condition.getAsBoolean()) {
                return true;
            }
            sleep(10);
        }
        return condition.getAsBoolean();
    }

    /** The records of the {@code autopilot} logger (java.util.logging, where System.Logger goes by default). */
    static final class LogCapture extends Handler {
        private final List<LogRecord> records = new ArrayList<>();
        private final Logger logger = Logger.getLogger("autopilot");
        private Level previous;

        void start() {
            previous = logger.getLevel();
            logger.setLevel(Level.ALL);
            logger.addHandler(this);
        }

        void stop() {
            logger.removeHandler(this);
            logger.setLevel(previous);
        }

        @Override
        public synchronized void publish(LogRecord record) {
            records.add(record);
        }

        synchronized List<String> warnings() {
            List<String> out = new ArrayList<>();
            for (LogRecord record : records) {
                if (record.getLevel().intValue() >= Level.WARNING.intValue()) {
                    out.add(record.getMessage());
                }
            }
            return out;
        }

        synchronized void clear() {
            records.clear();
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
    }
}
