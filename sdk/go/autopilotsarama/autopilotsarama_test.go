package autopilotsarama_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"

	autopilot "autopilot-go"
	"autopilot-go/autopilotsarama"
	"autopilot-go/autopilottest"
	"autopilot-go/internal/broker"
)

func client(t *testing.T, enabled bool) *autopilot.Client {
	ap, _ := autopilottest.NewClient(t, autopilot.Enabled(enabled), autopilot.Service("orders-api"),
		autopilot.Env("prod"), autopilot.Version("v1.4.0", ""))
	return ap
}

func headers(hs []*sarama.RecordHeader) map[string]string {
	out := map[string]string{}
	for _, h := range hs {
		out[string(h.Key)] = string(h.Value)
	}
	return out
}

func messageHeaders(m *sarama.ProducerMessage) map[string]string {
	var hs []*sarama.RecordHeader
	for i := range m.Headers {
		hs = append(hs, &m.Headers[i])
	}
	return headers(hs)
}

func TestTheInterceptorAndStampAddTheHeaders(t *testing.T) {
	ap := client(t, true)
	trace := autopilot.StartTrace()
	stamped := &sarama.ProducerMessage{Topic: "t"}
	autopilotsarama.Stamp(autopilot.ContextWithTrace(context.Background(), trace), ap, stamped)
	autopilotsarama.Interceptor(ap).OnSend(stamped) // adds nothing twice
	plain := &sarama.ProducerMessage{Topic: "t"}
	autopilotsarama.Interceptor(ap).OnSend(plain)
	if h := messageHeaders(stamped); len(h) != 4 || h["traceparent"] != trace.String() || h["autopilot-version"] != "v1.4.0" {
		t.Fatalf("stamped: %v", h)
	}
	if h := messageHeaders(plain); len(h) != 3 || h["autopilot-producer"] != "svc://orders-api" {
		t.Fatalf("intercepted: %v", h)
	}
	off := &sarama.ProducerMessage{Topic: "t"}
	autopilotsarama.Interceptor(client(t, false)).OnSend(off)
	autopilotsarama.Stamp(context.Background(), ap, nil)
	if len(off.Headers) != 0 {
		t.Fatalf("headers while disabled: %v", off.Headers)
	}
}

// The interceptor against the real broker of scripts/with-kafka (RCA_TEST_KAFKA_BOOTSTRAP).
func TestASyncProducerAgainstARealBroker(t *testing.T) {
	bootstrap := broker.Bootstrap(t)
	ap := client(t, true)
	config := sarama.NewConfig()
	config.Version = sarama.V3_6_0_0
	config.Producer.Return.Successes = true
	config.Producer.Interceptors = []sarama.ProducerInterceptor{autopilotsarama.Interceptor(ap)}
	producer, err := sarama.NewSyncProducer([]string{bootstrap}, config)
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	topic := fmt.Sprintf("autopilot-sarama-%d", time.Now().UnixNano())
	trace := autopilot.StartTrace()
	traced := &sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder("traced")}
	autopilotsarama.Stamp(autopilot.ContextWithTrace(context.Background(), trace), ap, traced)
	var partition int32
	for _, msg := range []*sarama.ProducerMessage{traced, {Topic: topic, Value: sarama.StringEncoder("untraced")}} {
		if partition, _, err = producer.SendMessage(msg); err != nil {
			t.Fatal(err)
		}
	}
	consumer, err := sarama.NewConsumer([]string{bootstrap}, config)
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	pc, err := consumer.ConsumePartition(topic, partition, sarama.OffsetOldest)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	want := map[string]string{"traced": trace.String(), "untraced": ""}
	for i := 0; i < 2; i++ {
		select {
		case m := <-pc.Messages():
			h := headers(m.Headers)
			if h["autopilot-producer"] != "svc://orders-api" || h["autopilot-env"] != "prod" || h["traceparent"] != want[string(m.Value)] {
				t.Fatalf("message %s: headers %v", m.Value, h)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no message within 30 s")
		}
	}
}
