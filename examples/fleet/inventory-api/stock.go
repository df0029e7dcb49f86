package main

import (
	"fmt"
	"sync"
)

// Reservation asks for quantity items of one SKU.
type Reservation struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

// StockReserved is the record written for each reservation.
type StockReserved struct {
	SKU       string `json:"sku"`
	Quantity  int    `json:"quantity"`
	Remaining int    `json:"remaining"`
}

// Stock holds the quantity on hand per SKU.
type Stock struct {
	mu     sync.Mutex
	onHand map[string]int
}

// NewStock starts from the given quantities.
func NewStock(onHand map[string]int) *Stock {
	copied := make(map[string]int, len(onHand))
	for sku, n := range onHand {
		copied[sku] = n
	}
	return &Stock{onHand: copied}
}

// Reserve takes the items off the shelf, or says why it cannot.
func (s *Stock) Reserve(r Reservation) (StockReserved, error) {
	if r.Quantity <= 0 {
		return StockReserved{}, fmt.Errorf("quantity must be positive, got %d", r.Quantity)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	have, known := s.onHand[r.SKU]
	if !known {
		return StockReserved{}, fmt.Errorf("unknown sku %q", r.SKU)
	}
	if have < r.Quantity {
		return StockReserved{}, fmt.Errorf("only %d of %s left", have, r.SKU)
	}
	s.onHand[r.SKU] = have - r.Quantity
	return StockReserved{SKU: r.SKU, Quantity: r.Quantity, Remaining: have - r.Quantity}, nil
}
