// Command controlcheck is the Go side of rca's end-to-end check of the control plane per environment
// (tests/e2e/test_sdk_control_env.py): a client configured from AUTOPILOT_* alone waits for its first control answer
// (asked with its AUTOPILOT_ENV), emits one run, flushes, and prints what it was told and what became of the run.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	autopilot "autopilot-go"
)

func main() {
	client := autopilot.New()
	deadline := time.Now().Add(20 * time.Second)
	for client.Stats().Control.Source != "control-plane" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	taken := client.Emit(context.Background(), autopilot.Event{Type: autopilot.JobRunStarted,
		Data: map[string]any{"run_id": os.Getenv("RUN_ID")}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = client.Flush(ctx)
	_ = client.Shutdown(context.Background())
	stats := client.Stats()
	out, _ := json.Marshal(map[string]any{"taken": taken, "enabled": stats.Control.Enabled,
		"source": stats.Control.Source, "delivered": stats.Delivered, "killed": stats.Dropped.Killed})
	fmt.Println(string(out))
}
