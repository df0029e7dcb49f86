package dev.rca.autopilot;

import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The default transport: the JDK's {@link HttpClient}, HTTP/1.1, connections kept alive, no redirects followed.
 *
 * <p>The client's connect timeout bounds the handshake. The request's total timeout bounds the whole exchange:
 * {@link HttpRequest#timeout} covers it up to the response headers, and the body is read against what is left of
 * it ({@link BoundedBody}: a server that trickles or stalls its body is cut off at the deadline, the exchange
 * cancelled). Replies are read up to 1 MiB: the service answers a few KiB.
 *
 * <p>{@link HttpClient#send}, not {@code sendAsync}: the JDK's {@code sendAsync} hands its result on through
 * CompletableFuture's default executor, which on a host with 2 CPUs or fewer (the common pool's parallelism is then
 * 1) starts a new thread for every request: a thread per batch, about a sixth of the delivery's CPU there.
 */
public final class JdkHttpTransport implements Transport {
    static final int MAX_RESPONSE_BYTES = 1 << 20;

    private final HttpClient client;

    public JdkHttpTransport(Duration connectTimeout) {
        this.client = HttpClient.newBuilder()
                .connectTimeout(connectTimeout)
                .version(HttpClient.Version.HTTP_1_1)
                .followRedirects(HttpClient.Redirect.NEVER)
                // The client's own callbacks run on its selector thread instead of hopping to a pool thread and
                // back for every step of an exchange: about half its CPU per batch. They never block (BoundedBody
                // only copies), and the worker waits in send(), so nothing else of ours runs on that thread.
                .executor(Runnable::run)
                .build();
    }

    @Override
    public Response send(Request request) throws TransportException {
        long deadline = System.nanoTime() + request.timeout().toNanos();
        HttpRequest built;
        try {
            HttpRequest.Builder builder = HttpRequest.newBuilder(URI.create(request.url())).timeout(request.timeout());
            request.headers().forEach(builder::header);
            builder.method(request.method(), request.body() != null ? new WholeBody(request.body())
                    : HttpRequest.BodyPublishers.noBody());
            built = builder.build();
        } catch (IllegalArgumentException e) {
            throw new TransportException("io", request.method() + " " + request.url() + ": " + e.getMessage(), e);
        }
        BoundedBody body = new BoundedBody(MAX_RESPONSE_BYTES, deadline);
        try {
            HttpResponse<byte[]> response = client.send(built, info -> body);
            Map<String, String> headers = new HashMap<>();
            response.headers().map().forEach((name, values) -> {
                if (!values.isEmpty()) {
                    headers.put(name.toLowerCase(Locale.ROOT), values.get(0));
                }
            });
            return new Response(response.statusCode(), headers, response.body());
        } catch (IOException e) {
            String kind = body.timedOut() ? "timeout" : kind(e);
            throw new TransportException(kind, request.method() + " " + request.url()
                    + ("timeout".equals(kind) ? " timed out" : " failed: " + e), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TransportException("io", request.method() + " " + request.url() + " interrupted", e);
        } catch (RuntimeException e) {
            throw new TransportException("io", request.method() + " " + request.url() + " failed: " + e, e);
        }
    }

    private static String kind(Throwable cause) {
        if (cause instanceof HttpConnectTimeoutException || cause instanceof ConnectException) {
            return cause instanceof HttpConnectTimeoutException ? "timeout" : "connect";
        }
        if (cause instanceof HttpTimeoutException) {
            return "timeout";
        }
        return cause instanceof IOException ? "io" : "io";
    }

    /**
     * A request body sent from the caller's array as it is: {@code BodyPublishers.ofByteArray} copies it into fresh
     * 16 KiB buffers on every send first. The array is never changed after the request is made (the worker encodes
     * each batch into an array of its own).
     */
    private static final class WholeBody implements HttpRequest.BodyPublisher {
        private final byte[] body;

        WholeBody(byte[] body) {
            this.body = body;
        }

        @Override
        public long contentLength() {
            return body.length;
        }

        @Override
        public void subscribe(Flow.Subscriber<? super ByteBuffer> subscriber) {
            subscriber.onSubscribe(new Flow.Subscription() {
                private boolean done;

                @Override
                public synchronized void request(long n) {
                    if (done) {
                        return;
                    }
                    done = true;
                    if (n <= 0) {
                        subscriber.onError(new IllegalArgumentException("request(" + n + "): must be positive"));
                        return;
                    }
                    if (body.length > 0) {
                        subscriber.onNext(ByteBuffer.wrap(body));
                    }
                    subscriber.onComplete();
                }

                @Override
                public synchronized void cancel() {
                    done = true;
                }
            });
        }
    }

    /**
     * A response body kept up to a limit (the rest is read and thrown away), read by a deadline: past it, the body
     * fails (the exchange is cancelled, its connection closed) and {@link #timedOut} says so. Whether the body
     * trickles (checked as each piece arrives) or stalls (a timer on CompletableFuture's shared delay thread, set
     * only when the body is not complete once subscribed).
     */
    private static final class BoundedBody implements HttpResponse.BodySubscriber<byte[]> {
        private final CompletableFuture<byte[]> result = new CompletableFuture<>();
        private final int limit;
        private final long deadline;
        private volatile boolean timedOut;
        private byte[] buffer = new byte[512];
        private int size;

        BoundedBody(int limit, long deadline) {
            this.limit = limit;
            this.deadline = deadline;
        }

        boolean timedOut() {
            return timedOut;
        }

        @Override
        public CompletionStage<byte[]> getBody() {
            return result;
        }

        @Override
        public void onSubscribe(Flow.Subscription subscription) {
            result.whenComplete((body, error) -> {
                if (error instanceof TimeoutException) {
                    timedOut = true;
                    subscription.cancel();
                }
            });
            subscription.request(Long.MAX_VALUE);
            // The service's few bytes have mostly arrived with the headers and are taken by now; only a body still
            // on its way needs the timer (scheduling and cancelling it on every request woke its thread twice).
            if (!result.isDone()) {
                result.orTimeout(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            }
        }

        @Override
        public void onNext(List<ByteBuffer> items) {
            if (deadline - System.nanoTime() <= 0) {
                result.completeExceptionally(new TimeoutException("the answer's body was not read in time"));
                return;
            }
            for (ByteBuffer item : items) {
                int take = Math.min(item.remaining(), limit - size);
                if (take > 0) {
                    if (size + take > buffer.length) {
                        buffer = java.util.Arrays.copyOf(buffer, Math.min(limit, Math.max(buffer.length * 2, size + take)));
                    }
                    item.get(buffer, size, take);
                    size += take;
                }
            }
        }

        @Override
        public void onError(Throwable error) {
            result.completeExceptionally(error);
        }

        @Override
        public void onComplete() {
            result.complete(java.util.Arrays.copyOf(buffer, size));
        }
    }
}
