package dev.rca.autopilot.internal;

import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * What is once per JVM (per class loader, strictly): the startup DeploymentEvent, and the one shutdown hook that
 * flushes every live client within its shutdown timeout at exit.
 */
public final class ProcessState {
    private static final AtomicBoolean STARTUP_SENT = new AtomicBoolean();
    private static final Set<Object> CLIENTS = Collections.synchronizedSet(Collections.newSetFromMap(new WeakHashMap<>()));
    private static final AtomicBoolean HOOK = new AtomicBoolean();

    private ProcessState() {}

    /** True for the one caller that may send the startup event in this process. */
    public static boolean claimStartupEvent() {
        return STARTUP_SENT.compareAndSet(false, true);
    }

    /** Call {@code atExit} for each registered client (held weakly) when the JVM exits. */
    public static <T> void register(T client, Consumer<T> atExit) {
        CLIENTS.add(client);
        if (HOOK.compareAndSet(false, true)) {
            Thread hook = new Thread(() -> {
                List<Object> live;
                synchronized (CLIENTS) {
                    live = List.copyOf(CLIENTS);
                }
                for (Object each : live) {
                    try {
                        @SuppressWarnings("unchecked")
                        T typed = (T) each;
                        atExit.accept(typed);
                    } catch (RuntimeException e) {
                        // exit must go on whatever one client does
                    }
                }
            }, "autopilot-shutdown");
            try {
                Runtime.getRuntime().addShutdownHook(hook);
            } catch (IllegalStateException | SecurityException e) {
                // already shutting down, or not allowed: the worker is a daemon, so exit is not held up either way
            }
        }
    }

    /** For tests: behave as a fresh process would (the startup event not yet sent). */
    public static void resetForTests() {
        STARTUP_SENT.set(false);
    }
}
