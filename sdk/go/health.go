package autopilot

import (
	"context"
	"time"
)

// SdkHealth (sdk/spec/CONTRACT.md, section 15): with HealthInterval above 0, the worker goroutine queues one
// event about the client itself every HealthInterval: its counters by reason since it started, the queue and the
// circuit. It adds no goroutine and no timer of its own (the worker's wait is shortened to the next one), so it ends
// with the worker, at Shutdown; while disabled nothing of it exists.

// health queues the SdkHealth event when one is due (worker only). It is an ordinary event: a full queue drops it
// as queue_full, an open circuit or a kill drops it with its batch. Building it never panics into the worker.
func (w *worker) health(now time.Time) {
	w.nextHealth = now.Add(w.s.HealthInterval)
	if !w.sending || !w.c.accepting.Load() {
		return // not while killed or shutting down
	}
	defer func() {
		if r := recover(); r != nil {
			w.c.problems.report("health", "autopilot: could not build the SdkHealth event: %v", r)
		}
	}()
	w.c.Emit(context.Background(), Event{Type: SdkHealth, Data: w.c.healthData(w.circuit.current())})
}

// healthData is the SdkHealth event's data: this client's cumulative counters, its queue and its circuit.
func (c *Client) healthData(circuit CircuitState) map[string]any {
	s := c.settings
	data := map[string]any{
		"language":       "go",
		"sdk_version":    sdkVersion,
		"instance":       c.instance,
		"interval_s":     s.HealthInterval.Seconds(),
		"delivered":      c.counters.delivered.Load(),
		"dropped":        c.counters.snapshot().Map(),
		"queue_depth":    c.queue.len(),
		"queue_capacity": s.QueueSize,
		"circuit":        string(circuit),
	}
	if s.Env != "" {
		data["env"] = s.Env
	}
	return data
}
