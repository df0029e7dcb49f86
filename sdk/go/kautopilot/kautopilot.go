// Package kautopilot puts autopilot's identity headers on the records a franz-go client produces:
// autopilot-producer, autopilot-env, autopilot-version and traceparent (the trace of the context given
// to Produce). While the autopilot client is disabled, killed or shut down, records are left as they are.
//
//	ap := autopilot.New()
//	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kautopilot.WithIdentity(ap))
//	cl.Produce(ctx, &kgo.Record{Topic: "orders", Value: v}, nil)  // ctx from autopilot.Middleware carries the trace
//
// Or, around a client that already exists: p := kautopilot.Wrap(cl, ap); p.Produce(ctx, r, promise).
package kautopilot

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"

	autopilot "autopilot-go"
)

// WithIdentity is a kgo.Opt that adds the identity headers to every record the client buffers for
// producing, through franz-go's HookProduceRecordBuffered (called inside Produce, before it returns).
func WithIdentity(ap *autopilot.Client) kgo.Opt { return kgo.WithHooks(Hook{Client: ap}) }

// Hook is the kgo hook behind WithIdentity, for callers that assemble their own kgo.WithHooks.
type Hook struct{ Client *autopilot.Client }

// OnProduceRecordBuffered adds the identity headers to r.
func (h Hook) OnProduceRecordBuffered(r *kgo.Record) { AddHeaders(h.Client, r) }

// AddHeaders adds the identity headers for r (its Context names the trace) that r does not already carry:
// a traceparent the producer set itself is kept. It never panics; with the client off it does nothing.
func AddHeaders(ap *autopilot.Client, r *kgo.Record) {
	if r == nil {
		return
	}
	defer func() { _ = recover() }() // a producer's send path must never fail because of evidence
	ctx := r.Context
	if ctx == nil {
		ctx = context.Background()
	}
	for _, h := range ap.KafkaHeaders(ctx) {
		if !has(r.Headers, h.Key) {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
	}
}

func has(headers []kgo.RecordHeader, key string) bool {
	for _, h := range headers {
		if h.Key == key {
			return true
		}
	}
	return false
}

// Producer is a *kgo.Client whose Produce, TryProduce and ProduceSync add the identity headers first.
// Everything else (Flush, Close, consuming) is the client's own.
type Producer struct {
	*kgo.Client
	ap *autopilot.Client
}

// Wrap returns cl with the identity headers added on every produce call.
func Wrap(cl *kgo.Client, ap *autopilot.Client) *Producer { return &Producer{Client: cl, ap: ap} }

// Produce adds the identity headers to r, then produces it as kgo.Client.Produce does.
func (p *Producer) Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	p.stamp(ctx, r)
	p.Client.Produce(ctx, r, promise)
}

// TryProduce adds the identity headers to r, then produces it as kgo.Client.TryProduce does.
func (p *Producer) TryProduce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	p.stamp(ctx, r)
	p.Client.TryProduce(ctx, r, promise)
}

// ProduceSync adds the identity headers to every record, then produces them as kgo.Client.ProduceSync does.
func (p *Producer) ProduceSync(ctx context.Context, rs ...*kgo.Record) kgo.ProduceResults {
	for _, r := range rs {
		p.stamp(ctx, r)
	}
	return p.Client.ProduceSync(ctx, rs...)
}

func (p *Producer) stamp(ctx context.Context, r *kgo.Record) {
	if r != nil && r.Context == nil {
		r.Context = ctx // what kgo itself does in Produce; AddHeaders reads the trace from it
	}
	AddHeaders(p.ap, r)
}
