// Command go-orders is a small order service that writes OrdersCreated records to Kafka with franz-go,
// instrumented with autopilot-go the way the onboarding PR does it: the module import, one option on the
// Kafka client (identity headers on every record) and the HTTP middleware (a trace per request).
//
// Orders arrive two ways. Shop requests come over HTTP: the middleware continues the caller's trace or
// starts one, so their records carry a traceparent. Partner orders come from a batch import with no
// request behind it, so theirs do not: tracing is partial, as in most real services.
//
// The two releases of the story live in this one binary: -release v1.5.0 runs the import code of v1.5.0,
// which moved to the partner's v2 feed (the buyer under "buyer.id") and maps it wrong, and so writes
// partner orders without customer_id.
//
//	go-orders -brokers 127.0.0.1:9092 -topic orders.created -release v1.4.0 -shop 20 -partner 10
//
// It prints one JSON line per record written (partition, offset, timestamp, whether it carries a trace
// and a customer_id), then the SDK's counters.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	autopilot "autopilot-go"
	"autopilot-go/kautopilot"
)

// Order is the OrdersCreated record's value.
type Order struct {
	OrderID    string  `json:"order_id"`
	CustomerID string  `json:"customer_id,omitempty"`
	Amount     float64 `json:"amount"`
	Currency   string  `json:"currency"`
}

// written is what the service reports about each record it wrote.
type written struct {
	Path        string `json:"path"` // shop or partner
	OrderID     string `json:"order_id"`
	Partition   int32  `json:"partition"`
	Offset      int64  `json:"offset"`
	TimestampMs int64  `json:"timestamp_ms"`
	Traced      bool   `json:"traced"`
	HasCustomer bool   `json:"has_customer"`
}

type service struct {
	kafka   *kgo.Client
	topic   string
	release string
	mu      sync.Mutex // one record at a time, so the printed order is the topic's order
	out     *json.Encoder
}

func (s *service) write(ctx context.Context, path string, o Order) error {
	value, err := json.Marshal(o)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	record := &kgo.Record{Topic: s.topic, Key: []byte(o.OrderID), Value: value}
	if err := s.kafka.ProduceSync(ctx, record).FirstErr(); err != nil {
		return err
	}
	traced := false
	for _, h := range record.Headers {
		traced = traced || h.Key == "traceparent"
	}
	return s.out.Encode(written{Path: path, OrderID: o.OrderID, Partition: record.Partition, Offset: record.Offset,
		TimestampMs: record.Timestamp.UnixMilli(), Traced: traced, HasCustomer: o.CustomerID != ""})
}

// createOrder is POST /orders: the shop's path, inside the request's trace.
func (s *service) createOrder(w http.ResponseWriter, r *http.Request) {
	var o Order
	if err := json.NewDecoder(r.Body).Decode(&o); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := s.write(r.Context(), "shop", o); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

// importPartnerOrder is the batch import's path: no request, so no trace.
func (s *service) importPartnerOrder(ctx context.Context, feed map[string]any) error {
	o := Order{OrderID: fmt.Sprint(feed["ref"]), Amount: feed["total"].(float64), Currency: fmt.Sprint(feed["ccy"])}
	if s.release == "v1.4.0" { // the partner's v1 feed: {"customer": "c-501"}
		o.CustomerID, _ = feed["customer"].(string)
	} else { // v1.5.0 moved to the v2 feed, {"buyer": {"id": "c-501"}}, and maps it wrong: customer_id is left out
		o.CustomerID, _ = feed["buyer_id"].(string)
	}
	return s.write(ctx, "partner", o)
}

func partnerFeed(release string, i int) map[string]any {
	item := map[string]any{"ref": fmt.Sprintf("p-%s-%03d", release, i), "total": 20 + float64(i%7)*3.5, "ccy": "EUR"}
	if release == "v1.4.0" {
		item["customer"] = fmt.Sprintf("c-%d", 500+i)
	} else {
		item["buyer"] = map[string]any{"id": fmt.Sprintf("c-%d", 500+i)}
	}
	return item
}

func main() {
	brokers := flag.String("brokers", os.Getenv("KAFKA_BROKERS"), "Kafka bootstrap servers, comma-separated")
	topic := flag.String("topic", "orders.created", "the topic OrdersCreated records go to")
	release := flag.String("release", "v1.4.0", "which release's code to run: v1.4.0 or v1.5.0")
	shop := flag.Int("shop", 20, "orders placed through the shop (HTTP, traced)")
	partner := flag.Int("partner", 10, "orders from the partner import (no request, untraced)")
	gap := flag.Duration("gap", 25*time.Millisecond, "pause between orders")
	flag.Parse()

	// 1. The SDK: off unless AUTOPILOT_ENABLED=true; then it sends evidence and fills the identity headers.
	ap := autopilot.New()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = ap.Shutdown(ctx)
	}()
	// 2. The Kafka client, with one more option: identity headers on every record it produces.
	kafka, err := kgo.NewClient(kgo.SeedBrokers(*brokers), kgo.AllowAutoTopicCreation(), kautopilot.WithIdentity(ap))
	if err != nil {
		log.Fatal(err)
	}
	defer kafka.Close()
	svc := &service{kafka: kafka, topic: *topic, release: *release, out: json.NewEncoder(os.Stdout)}

	// 3. The HTTP edge, behind the middleware that continues or starts a trace.
	mux := http.NewServeMux()
	mux.HandleFunc("POST /orders", svc.createOrder)
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	server := &http.Server{Handler: autopilot.Middleware(mux), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = server.Serve(listener) }()
	defer server.Close()

	// The day's traffic: shop orders over HTTP (half from callers that send their own traceparent), and
	// every third order a partner order from the import.
	url := "http://" + listener.Addr().String() + "/orders"
	for i, p := 0, 0; i < *shop || p < *partner; i++ {
		if i < *shop {
			o := Order{OrderID: fmt.Sprintf("o-%s-%03d", *release, i), CustomerID: fmt.Sprintf("c-%d", 100+i%37),
				Amount: 10 + float64(i%11)*2.25, Currency: []string{"USD", "EUR", "GBP"}[i%3]}
			body, _ := json.Marshal(o)
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			if i%2 == 0 {
				req.Header.Set("traceparent", autopilot.StartTrace().String()) // an upstream caller's trace
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				log.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				log.Fatalf("POST /orders: HTTP %d", resp.StatusCode)
			}
			time.Sleep(*gap)
		}
		if p < *partner && (i%3 == 2 || i >= *shop) {
			if err := svc.importPartnerOrder(context.Background(), partnerFeed(*release, p)); err != nil {
				log.Fatal(err)
			}
			p++
			time.Sleep(*gap)
		}
	}
	stats := ap.Stats()
	fmt.Fprintf(os.Stderr, "go-orders %s: autopilot enabled=%t producer=%s delivered=%d dropped=%v control=%s\n",
		*release, stats.Enabled, stats.Producer, stats.Delivered, stats.Dropped.Map(), stats.Control.Source)
}
