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
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The default transport: the JDK's {@link HttpClient}, HTTP/1.1, connections kept alive, no redirects followed.
 *
 * <p>The client's connect timeout bounds the handshake. The request's total timeout is enforced here, on the
 * whole exchange: {@link HttpRequest#timeout} alone stops at the response headers, so a server that trickles its
 * body could hold the worker far longer; the future is abandoned (and the exchange cancelled) at the deadline.
 * Replies are read up to 1 MiB: the service answers a few KiB.
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
                // only copies), and the worker waits on the future, so nothing of ours runs on that thread.
                .executor(Runnable::run)
                .build();
    }

    @Override
    public Response send(Request request) throws TransportException {
        long deadline = System.nanoTime() + request.timeout().toNanos();
        HttpRequest.Builder builder;
        try {
            builder = HttpRequest.newBuilder(URI.create(request.url())).timeout(request.timeout());
            request.headers().forEach(builder::header);
        } catch (IllegalArgumentException e) {
            throw new TransportException("io", request.method() + " " + request.url() + ": " + e.getMessage(), e);
        }
        if (request.body() != null) {
            builder.method(request.method(), new WholeBody(request.body()));
        } else {
            builder.method(request.method(), HttpRequest.BodyPublishers.noBody());
        }
        CompletableFuture<HttpResponse<byte[]>> future;
        try {
            future = client.sendAsync(builder.build(), info -> new BoundedBody(MAX_RESPONSE_BYTES));
        } catch (RuntimeException e) {
            throw new TransportException("io", request.method() + " " + request.url() + " failed: " + e, e);
        }
        try {
            HttpResponse<byte[]> response = future.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            Map<String, String> headers = new HashMap<>();
            response.headers().map().forEach((name, values) -> {
                if (!values.isEmpty()) {
                    headers.put(name.toLowerCase(Locale.ROOT), values.get(0));
                }
            });
            return new Response(response.statusCode(), headers, response.body());
        } catch (TimeoutException e) {
            future.cancel(true);
            throw new TransportException("timeout", request.method() + " " + request.url() + " timed out", e);
        } catch (InterruptedException e) {
            future.cancel(true);
            Thread.currentThread().interrupt();
            throw new TransportException("io", request.method() + " " + request.url() + " interrupted", e);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            throw new TransportException(kind(cause), request.method() + " " + request.url() + " failed: " + cause, cause);
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

    /** A response body kept up to a limit; the rest is read and thrown away. */
    private static final class BoundedBody implements HttpResponse.BodySubscriber<byte[]> {
        private final CompletableFuture<byte[]> result = new CompletableFuture<>();
        private final int limit;
        private byte[] buffer = new byte[512];
        private int size;

        BoundedBody(int limit) {
            this.limit = limit;
        }

        @Override
        public CompletionStage<byte[]> getBody() {
            return result;
        }

        @Override
        public void onSubscribe(Flow.Subscription subscription) {
            subscription.request(Long.MAX_VALUE);
        }

        @Override
        public void onNext(List<ByteBuffer> items) {
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
