package kautopilot_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	autopilot "autopilot-go"
	"autopilot-go/autopilottest"
	"autopilot-go/internal/broker"
	"autopilot-go/kautopilot"
)

func noEnv(string) (string, bool) { return "", false }

func enabled(t *testing.T, endpoint string, opts ...autopilot.Opt) *autopilot.Client {
	t.Helper()
	ap, _ := autopilottest.NewClient(t, append([]autopilot.Opt{autopilot.Endpoint(endpoint), autopilot.Service("orders-api"),
		autopilot.Env("prod"), autopilot.Version("v1.4.0", "9d1e2f3"), autopilot.ControlPollInterval(50 * time.Millisecond)},
		opts...)...)
	return ap
}

func rcaServer(t testing.TB) *autopilottest.Server {
	srv := autopilottest.NewServer()
	t.Cleanup(srv.Close)
	return srv
}

func fakeCluster(t testing.TB, topic string) []string {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	return cluster.ListenAddrs()
}

func client(t *testing.T, brokers []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.AllowAutoTopicCreation()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// consume reads n records of topic from the start and returns their headers as maps.
func consume(t *testing.T, brokers []string, topic string, n int) []map[string]string {
	t.Helper()
	cl := client(t, brokers, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []map[string]string
	for len(out) < n {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d records: %v", len(out), n, err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			headers := map[string]string{"value": string(r.Value)}
			for _, h := range r.Headers {
				headers[h.Key] = string(h.Value)
			}
			out = append(out, headers)
		})
	}
	return out
}

func produce(t *testing.T, produce func(context.Context, *kgo.Record) error, topic string, ctx context.Context, value string, headers ...kgo.RecordHeader) {
	t.Helper()
	if err := produce(ctx, &kgo.Record{Topic: topic, Value: []byte(value), Headers: headers}); err != nil {
		t.Fatal(err)
	}
}

func syncProduce(cl interface {
	ProduceSync(context.Context, ...*kgo.Record) kgo.ProduceResults
}) func(context.Context, *kgo.Record) error {
	return func(ctx context.Context, r *kgo.Record) error { return cl.ProduceSync(ctx, r).FirstErr() }
}

func checkIdentity(t *testing.T, got []map[string]string, traces []string) {
	t.Helper()
	for i, h := range got {
		if h["autopilot-producer"] != "svc://orders-api" || h["autopilot-env"] != "prod" || h["autopilot-version"] != "v1.4.0" {
			t.Errorf("record %d (%s): headers %v", i, h["value"], h)
		}
		if h["traceparent"] != traces[i] {
			t.Errorf("record %d (%s): traceparent %q, want %q", i, h["value"], h["traceparent"], traces[i])
		}
	}
}

func TestTheHookAddsIdentityHeadersAndTheTraceOfTheContext(t *testing.T) {
	brokers := fakeCluster(t, "orders")
	ap := enabled(t, rcaServer(t).URL)
	cl := client(t, brokers, kautopilot.WithIdentity(ap))
	trace := autopilot.StartTrace()
	traced := autopilot.ContextWithTrace(context.Background(), trace)
	own := autopilot.StartTrace().String()
	produce(t, syncProduce(cl), "orders", traced, "traced")
	produce(t, syncProduce(cl), "orders", context.Background(), "untraced")
	produce(t, syncProduce(cl), "orders", traced, "own-trace", kgo.RecordHeader{Key: "traceparent", Value: []byte(own)})
	checkIdentity(t, consume(t, brokers, "orders", 3), []string{trace.String(), "", own})
}

func TestTheWrapperAddsTheHeadersOnEveryProduceCall(t *testing.T) {
	brokers := fakeCluster(t, "orders")
	ap := enabled(t, rcaServer(t).URL)
	p := kautopilot.Wrap(client(t, brokers), ap)
	trace := autopilot.StartTrace()
	ctx := autopilot.ContextWithTrace(context.Background(), trace)
	produce(t, syncProduce(p), "orders", ctx, "sync")
	done := make(chan error, 2)
	p.Produce(ctx, &kgo.Record{Topic: "orders", Value: []byte("async")}, func(_ *kgo.Record, err error) { done <- err })
	p.TryProduce(ctx, &kgo.Record{Topic: "orders", Value: []byte("try")}, func(_ *kgo.Record, err error) { done <- err })
	for i := 0; i < 2; i++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	checkIdentity(t, consume(t, brokers, "orders", 3), []string{trace.String(), trace.String(), trace.String()})
}

func TestNoHeadersWhileDisabledOrKilled(t *testing.T) {
	brokers := fakeCluster(t, "orders")
	off := autopilot.New(autopilot.Environment(noEnv), autopilot.Service("orders-api"))
	produce(t, syncProduce(client(t, brokers, kautopilot.WithIdentity(off))), "orders",
		autopilot.ContextWithTrace(context.Background(), autopilot.StartTrace()), "disabled")

	rca := rcaServer(t)
	rca.SetControl("svc://orders-api", true, true)
	killed := enabled(t, rca.URL)
	deadline := time.Now().Add(2 * time.Second)
	for !killed.Stats().Control.Killed && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	produce(t, syncProduce(kautopilot.Wrap(client(t, brokers), killed)), "orders", context.Background(), "killed")
	for _, h := range consume(t, brokers, "orders", 2) {
		if len(h) != 1 {
			t.Errorf("record %s carries headers %v", h["value"], h)
		}
	}
	var nilClient *autopilot.Client
	kautopilot.AddHeaders(nilClient, &kgo.Record{}) // a nil autopilot client is a disabled one
	kautopilot.AddHeaders(killed, nil)
}

// The wrapper against the real broker of scripts/with-kafka (RCA_TEST_KAFKA_BOOTSTRAP).
func TestTheWrapperAgainstARealBroker(t *testing.T) {
	bootstrap := broker.Bootstrap(t)
	brokers := []string{bootstrap}
	topic := fmt.Sprintf("autopilot-go-test-%d", time.Now().UnixNano())
	ap := enabled(t, rcaServer(t).URL)
	p := kautopilot.Wrap(client(t, brokers), ap)
	var traces []string
	for i := 0; i < 20; i++ {
		ctx := context.Background()
		trace := ""
		if i%2 == 0 { // some records come from a traced request, some do not
			tc := autopilot.StartTrace()
			ctx, trace = autopilot.ContextWithTrace(ctx, tc), tc.String()
		}
		traces = append(traces, trace)
		produce(t, syncProduce(p), topic, ctx, fmt.Sprintf("order-%d", i))
	}
	checkIdentity(t, consume(t, brokers, topic, 20), traces)
}
