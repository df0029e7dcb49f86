package main

import "testing"

func TestReserve(t *testing.T) {
	tests := []struct {
		name    string
		req     Reservation
		want    StockReserved
		wantErr string
	}{
		{"takes items off the shelf", Reservation{"sku-1", 4}, StockReserved{"sku-1", 4, 6}, ""},
		{"refuses more than is left", Reservation{"sku-2", 4}, StockReserved{}, "only 3 of sku-2 left"},
		{"refuses an unknown sku", Reservation{"sku-9", 1}, StockReserved{}, `unknown sku "sku-9"`},
		{"refuses a zero quantity", Reservation{"sku-1", 0}, StockReserved{}, "quantity must be positive, got 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stock := NewStock(map[string]int{"sku-1": 10, "sku-2": 3})
			got, err := stock.Reserve(tt.req)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Reserve(%v) error = %v, want %q", tt.req, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Reserve(%v) = %v, %v; want %v", tt.req, got, err, tt.want)
			}
		})
	}
}
