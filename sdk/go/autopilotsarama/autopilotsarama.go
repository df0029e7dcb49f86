// Package autopilotsarama puts autopilot's identity headers on the messages an IBM/sarama producer sends:
// autopilot-producer, autopilot-env and autopilot-version on every message, through a producer
// interceptor, and traceparent where the caller stamps the message with its context (a ProducerMessage
// carries no context of its own). While the autopilot client is disabled, killed or shut down, messages
// are sent as they are. It is its own module, so sarama is downloaded only by those who use it.
//
//	ap := autopilot.New()
//	config := sarama.NewConfig()
//	config.Producer.Interceptors = append(config.Producer.Interceptors, autopilotsarama.Interceptor(ap))
//	msg := &sarama.ProducerMessage{Topic: "orders.created", Value: sarama.ByteEncoder(v)}
//	autopilotsarama.Stamp(r.Context(), ap, msg) // the request's trace, when there is one
//	_, _, err := producer.SendMessage(msg)
package autopilotsarama

import (
	"context"

	"github.com/IBM/sarama"

	autopilot "autopilot-go"
)

// Interceptor adds the identity headers to every message the producer sends.
func Interceptor(ap *autopilot.Client) sarama.ProducerInterceptor { return interceptor{ap} }

type interceptor struct{ ap *autopilot.Client }

func (i interceptor) OnSend(msg *sarama.ProducerMessage) { Stamp(context.Background(), i.ap, msg) }

// Stamp adds to msg the identity headers it lacks, traceparent from ctx included (a header the message
// already carries is kept). With the client off it does nothing; it never panics.
func Stamp(ctx context.Context, ap *autopilot.Client, msg *sarama.ProducerMessage) {
	if msg == nil {
		return
	}
	defer func() { _ = recover() }() // a producer's send path must never fail because of evidence
	for _, h := range ap.KafkaHeaders(ctx) {
		if !has(msg.Headers, h.Key) {
			msg.Headers = append(msg.Headers, sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value})
		}
	}
}

func has(headers []sarama.RecordHeader, key string) bool {
	for _, h := range headers {
		if string(h.Key) == key {
			return true
		}
	}
	return false
}
