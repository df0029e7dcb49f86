package autopilotkafkago_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	autopilot "autopilot-go"
	"autopilot-go/autopilotkafkago"
	"autopilot-go/autopilottest"
	"autopilot-go/internal/broker"
)

func client(t *testing.T, enabled bool) *autopilot.Client {
	ap, _ := autopilottest.NewClient(t, autopilot.Enabled(enabled), autopilot.Service("orders-api"),
		autopilot.Env("prod"), autopilot.Version("v1.4.0", ""))
	return ap
}

func headers(m kafka.Message) map[string]string {
	out := map[string]string{}
	for _, h := range m.Headers {
		out[h.Key] = string(h.Value)
	}
	return out
}

func TestHeadersAreAddedWithoutTouchingTheCallersMessages(t *testing.T) {
	ap := client(t, true)
	trace := autopilot.StartTrace()
	own := autopilot.StartTrace().String()
	msgs := []kafka.Message{{Value: []byte("a")}, {Value: []byte("b"), Headers: []kafka.Header{{Key: "traceparent", Value: []byte(own)}}}}
	out := autopilotkafkago.WithHeaders(autopilot.ContextWithTrace(context.Background(), trace), ap, msgs)
	if len(msgs[0].Headers) != 0 || len(msgs[1].Headers) != 1 {
		t.Fatal("the caller's messages were modified")
	}
	first, second := headers(out[0]), headers(out[1])
	if first["autopilot-producer"] != "svc://orders-api" || first["autopilot-env"] != "prod" ||
		first["autopilot-version"] != "v1.4.0" || first["traceparent"] != trace.String() || second["traceparent"] != own {
		t.Fatalf("headers %v and %v", first, second)
	}
	off := client(t, false)
	if out := autopilotkafkago.WithHeaders(context.Background(), off, msgs); len(out[0].Headers) != 0 {
		t.Fatalf("headers while disabled: %v", out[0].Headers)
	}
}

// The wrapper against the real broker of scripts/with-kafka (RCA_TEST_KAFKA_BOOTSTRAP).
func TestTheWriterAgainstARealBroker(t *testing.T) {
	bootstrap := broker.Bootstrap(t)
	topic := fmt.Sprintf("autopilot-kafkago-%d", time.Now().UnixNano())
	w := autopilotkafkago.Wrap(&kafka.Writer{Addr: kafka.TCP(bootstrap), Topic: topic, AllowAutoTopicCreation: true,
		BatchTimeout: 10 * time.Millisecond}, client(t, true))
	defer w.Close()
	trace := autopilot.StartTrace()
	ctx := autopilot.ContextWithTrace(context.Background(), trace)
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := w.WriteMessages(ctx, kafka.Message{Value: []byte("order-1")}, kafka.Message{Value: []byte("order-2")})
		if err == nil {
			break
		}
		if time.Now().After(deadline) { // the topic is created by the first write; leaders take a moment
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{bootstrap}, Topic: topic, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	read, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 0; i < 2; i++ {
		m, err := r.ReadMessage(read)
		if err != nil {
			t.Fatal(err)
		}
		if h := headers(m); h["autopilot-producer"] != "svc://orders-api" || h["traceparent"] != trace.String() {
			t.Fatalf("message %s: headers %v", m.Value, h)
		}
	}
}
