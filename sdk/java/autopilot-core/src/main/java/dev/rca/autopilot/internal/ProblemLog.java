package dev.rca.autopilot.internal;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Log a problem once, not once per event: a host with a dead backend must not drown in our logs (contract, section
 * 13). The first report of a problem is a warning; repeats are debug until it clears; the recovery is one info line.
 *
 * <p>The one logger is {@code autopilot}, a {@link System.Logger}: the JDK routes it to java.util.logging, and
 * Spring Boot's logging (or slf4j-jdk-platform-logging) to the application's own.
 */
public final class ProblemLog {
    private static final Logger LOGGER = System.getLogger("autopilot");

    private final Map<String, String> active = new LinkedHashMap<>();

    public static Logger logger() {
        return LOGGER;
    }

    public void report(String key, String format, Object... args) {
        String message = String.format(Locale.ROOT, format, args);
        boolean first;
        synchronized (active) {
            first = active.put(key, message) == null;
        }
        Level level = first ? Level.WARNING : Level.DEBUG;
        if (LOGGER.isLoggable(level)) {
            LOGGER.log(level, message);
        }
    }

    public void clear(String key, String message) {
        boolean was;
        synchronized (active) {
            was = active.remove(key) != null;
        }
        if (was && message != null) {
            LOGGER.log(Level.INFO, message);
        }
    }

    /** The most recent problem still being reported, or null when all is well. */
    public String current() {
        synchronized (active) {
            String last = null;
            for (String message : active.values()) {
                last = message;
            }
            return last;
        }
    }

    public static void info(String format, Object... args) {
        if (LOGGER.isLoggable(Level.INFO)) {
            LOGGER.log(Level.INFO, String.format(Locale.ROOT, format, args));
        }
    }

    public static void warn(String format, Object... args) {
        LOGGER.log(Level.WARNING, String.format(Locale.ROOT, format, args));
    }
}
