// Command sdkhealthcheck is the Go side of rca's end-to-end SdkHealth check (tests/e2e/test_sdk_health_all.py):
// a client configured from AUTOPILOT_* alone emits six events into a queue of four (two queue_full drops), flushes,
// and runs until the worker has delivered two SdkHealth events, so rca can aggregate what the SDK reported.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	autopilot "autopilot-go"
)

func main() {
	client := autopilot.New()
	for i := range 6 {
		client.Emit(context.Background(), autopilot.Event{Type: autopilot.JobRunStarted,
			Data: map[string]any{"run_id": fmt.Sprintf("health-go-%d", i)}})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = client.Flush(ctx)
	deadline := time.Now().Add(20 * time.Second)
	for client.Stats().Delivered < 6 && time.Now().Before(deadline) { // the four runs and two SdkHealth events
		time.Sleep(20 * time.Millisecond)
	}
	_ = client.Shutdown(context.Background())
	stats := client.Stats()
	out, _ := json.Marshal(map[string]any{"delivered": stats.Delivered, "dropped": stats.Dropped.Map()})
	fmt.Println(string(out))
}
