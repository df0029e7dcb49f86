// Command inventory-api keeps stock levels: POST /reservations reserves items and writes a
// StockReserved record to the inventory.reserved topic with franz-go.
//
//	PORT=8080 KAFKA_BROKERS=kafka-1:9092,kafka-2:9092 inventory-api
package main

import (
	"encoding/json"
	"log"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	brokers := strings.Split(getenv("KAFKA_BROKERS", "localhost:9092"), ",")
	// The client connects lazily: the service starts, and serves, before the brokers answer.
	client, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.DefaultProduceTopic("inventory.reserved"),
	)
	if err != nil {
		log.Fatalf("inventory-api: kafka client: %v", err)
	}
	defer client.Close()

	stock := NewStock(map[string]int{"sku-1": 10, "sku-2": 3})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("POST /reservations", func(w http.ResponseWriter, r *http.Request) {
		var req Reservation
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, "a reservation is {\"sku\": ..., \"quantity\": ...}", http.StatusBadRequest)
			return
		}
		reserved, err := stock.Reserve(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		value, _ := json.Marshal(reserved)
		client.Produce(r.Context(), &kgo.Record{Key: []byte(req.SKU), Value: value}, nil)
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write(value)
	})

	listener, err := net.Listen("tcp", ":"+getenv("PORT", "8080"))
	if err != nil {
		log.Fatalf("inventory-api: %v", err)
	}
	log.Printf("inventory-api listening on %s", listener.Addr())
	log.Fatal(http.Serve(listener, mux))
}

func getenv(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}
