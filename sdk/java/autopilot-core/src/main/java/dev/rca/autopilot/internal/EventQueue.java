package dev.rca.autopilot.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * The bounded queue between emit() (any thread, must never wait) and the one worker thread.
 *
 * <p>Lock-free: a {@link ConcurrentLinkedQueue} and an atomic count reserved before the append, so the bound is
 * exact and emit() never parks. The worker is woken (unparked) when a full batch is waiting or a flush is asked.
 */
public final class EventQueue {
    private final ConcurrentLinkedQueue<Pending> items = new ConcurrentLinkedQueue<>();
    private final AtomicInteger count = new AtomicInteger();
    private final Object idle = new Object();
    private final int capacity;
    private final int batchSize;
    private volatile Thread worker;
    private volatile boolean busy;
    private volatile int flushRequests;

    public EventQueue(int capacity, int batchSize) {
        this.capacity = capacity;
        this.batchSize = batchSize;
    }

    void attach(Thread worker) {
        this.worker = worker;
    }

    /** False (and nothing kept) when the queue is full. */
    public boolean offer(Pending item) {
        int size = count.incrementAndGet();
        if (size > capacity) {
            count.decrementAndGet();
            return false;
        }
        items.offer(item);
        if (size == batchSize) {
            wake();
        }
        return true;
    }

    public int size() {
        return Math.max(0, count.get());
    }

    public int batchSize() {
        return batchSize;
    }

    public boolean flushRequested() {
        return flushRequests > 0;
    }

    public void wake() {
        Thread thread = worker;
        if (thread != null) {
            LockSupport.unpark(thread);
        }
    }

    /** Up to {@code max} of the oldest events. Called by the worker, between beginBatch and endBatch. */
    List<Pending> take(int max) {
        List<Pending> batch = new ArrayList<>(Math.min(max, size()));
        Pending item;
        while (batch.size() < max && (item = items.poll()) != null) {
            batch.add(item);
        }
        count.addAndGet(-batch.size());
        return batch;
    }

    void beginBatch() {
        busy = true; // before taking: a flush() must never see "empty and idle" while a batch is out
    }

    void endBatch() {
        busy = false;
        if (items.isEmpty()) {
            synchronized (idle) {
                idle.notifyAll();
            }
        }
    }

    /** Wait until every event queued so far is delivered or dropped; false if the timeout ran out first. */
    public boolean awaitIdle(long timeoutNanos) {
        long deadline = System.nanoTime() + timeoutNanos;
        synchronized (idle) {
            flushRequests++;
        }
        try {
            wake();
            synchronized (idle) {
                while (!items.isEmpty() || busy) {
                    long remaining = deadline - System.nanoTime();
                    if (remaining <= 0) {
                        return false;
                    }
                    idle.wait(Math.max(1, Math.min(TimeUnit.NANOSECONDS.toMillis(remaining), 50)));
                }
                return true;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            synchronized (idle) {
                flushRequests--;
            }
        }
    }
}
