// Package autopilotkafkago puts autopilot's identity headers on the messages a segmentio/kafka-go Writer
// writes: autopilot-producer, autopilot-env, autopilot-version and traceparent (the trace of the context
// given to WriteMessages). While the autopilot client is disabled, killed or shut down, messages are
// written as they are. It is its own module, so kafka-go is downloaded only by those who use it.
//
//	ap := autopilot.New()
//	w := autopilotkafkago.Wrap(&kafka.Writer{Addr: kafka.TCP(brokers...), Topic: "orders.created"}, ap)
//	err := w.WriteMessages(ctx, kafka.Message{Key: k, Value: v})
package autopilotkafkago

import (
	"context"

	"github.com/segmentio/kafka-go"

	autopilot "autopilot-go"
)

// Writer is a *kafka.Writer whose WriteMessages adds the identity headers first.
type Writer struct {
	*kafka.Writer
	ap *autopilot.Client
}

// Wrap returns w with the identity headers added on every WriteMessages call.
func Wrap(w *kafka.Writer, ap *autopilot.Client) *Writer { return &Writer{Writer: w, ap: ap} }

// WriteMessages adds the identity headers to each message that lacks them, then writes the messages as
// kafka.Writer.WriteMessages does. The caller's slice is never modified.
func (w *Writer) WriteMessages(ctx context.Context, msgs ...kafka.Message) error {
	return w.Writer.WriteMessages(ctx, WithHeaders(ctx, w.ap, msgs)...)
}

// WithHeaders returns msgs with the identity headers added where missing (a header the message already
// carries, such as its own traceparent, is kept). With the client off it returns msgs itself. It never
// panics.
func WithHeaders(ctx context.Context, ap *autopilot.Client, msgs []kafka.Message) (out []kafka.Message) {
	defer func() {
		if recover() != nil { // a producer's send path must never fail because of evidence
			out = msgs
		}
	}()
	identity := ap.KafkaHeaders(ctx)
	if len(identity) == 0 {
		return msgs
	}
	out = make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		headers := append([]kafka.Header(nil), m.Headers...)
		for _, h := range identity {
			if !has(headers, h.Key) {
				headers = append(headers, kafka.Header{Key: h.Key, Value: h.Value})
			}
		}
		m.Headers = headers
		out[i] = m
	}
	return out
}

func has(headers []kafka.Header, key string) bool {
	for _, h := range headers {
		if h.Key == key {
			return true
		}
	}
	return false
}
