//go:build unix

package autopilot_test

import (
	"context"
	"os"
	"sort"
	"testing"
	"time"

	autopilot "autopilot-go"
	"autopilot-go/autopilottest"
)

// What autopilot-go costs its host (`make bench` runs these; `go test -run '^$' -bench . -benchmem`).
//
// The healthy backend runs in another process (autopilottest.StartAcceptAll) and reads each batch
// without parsing it: the real rca service runs elsewhere, so its CPU must not be charged to the host.

func TestMain(m *testing.M) {
	autopilottest.ServeAcceptAllIfAsked()
	os.Exit(m.Run())
}

// benchClient has the contract's defaults, except: no startup event, and a quiet log.
func benchClient(b *testing.B, endpoint string) *autopilot.Client {
	b.Helper()
	if endpoint == "" {
		return autopilot.New(autopilot.Environment(noEnv))
	}
	c := autopilot.New(autopilot.Environment(noEnv), autopilot.Logger(quiet), autopilot.Enabled(true),
		autopilot.Endpoint(endpoint), autopilot.Service("bench"), autopilot.StartupEvent(false))
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = c.Shutdown(ctx)
	})
	return c
}

func backends(b *testing.B) []struct{ name, endpoint string } {
	return []struct{ name, endpoint string }{
		{"disabled", ""}, {"backend-up", autopilottest.StartAcceptAll(b)}, {"backend-down", autopilottest.ClosedURL()},
	}
}

const burst = 1000 // below the queue size (2048): this is the cost of emitting, not of a full queue

// BenchmarkEmit is the cost of one Emit. Every burst of 1,000 the worker drains the queue (not timed).
func BenchmarkEmit(b *testing.B) {
	for _, backend := range backends(b) {
		b.Run(backend.name, func(b *testing.B) {
			c := benchClient(b, backend.endpoint)
			ctx := autopilot.ContextWithTrace(context.Background(), autopilot.StartTrace())
			event := autopilot.Event{Type: autopilot.JobRunStarted,
				Data: map[string]any{"run_id": "r-1", "code_ref": "orders@4f2a9c1", "env": "prod"}}
			b.ReportAllocs()
			b.ResetTimer()
			emitInBursts(b, c, ctx, event, true)
			b.StopTimer()
			if backend.endpoint != "" && c.Dropped().QueueFull > 0 {
				b.Fatalf("the queue filled: %+v", c.Dropped())
			}
		})
	}
}

// BenchmarkEmitLatency times every call and reports the p50 and p99 of one Emit (the clock's own
// cost, timer-floor-ns, is inside both).
func BenchmarkEmitLatency(b *testing.B) {
	for _, backend := range backends(b) {
		b.Run(backend.name, func(b *testing.B) {
			c := benchClient(b, backend.endpoint)
			ctx := context.Background()
			event := autopilot.Event{Type: autopilot.JobRunStarted, Data: map[string]any{"run_id": "r-1"}}
			samples := make([]time.Duration, 0, b.N)
			floor := make([]time.Duration, 0, 1000)
			for i := 0; i < 1000; i++ {
				began := time.Now()
				floor = append(floor, time.Since(began))
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if i%burst == burst-1 {
					b.StopTimer()
					_ = c.Flush(context.Background())
					b.StartTimer()
				}
				began := time.Now()
				c.Emit(ctx, event)
				samples = append(samples, time.Since(began))
			}
			b.StopTimer()
			sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
			b.ReportMetric(float64(samples[len(samples)/2]), "p50-ns")
			b.ReportMetric(float64(samples[min(len(samples)-1, len(samples)*99/100)]), "p99-ns")
			b.ReportMetric(float64(median(floor)), "timer-floor-ns")
		})
	}
}

// BenchmarkSDKCPU is everything one event costs the host's process: Emit, and the worker's share
// (envelope, JSON, HTTP; or the drop while the circuit is open), from getrusage over b.N events. The
// backend's own CPU is another process's. Load elsewhere on the machine hardly moves it.
func BenchmarkSDKCPU(b *testing.B) {
	for _, backend := range backends(b)[1:] {
		b.Run(backend.name, func(b *testing.B) {
			c := benchClient(b, backend.endpoint)
			ctx := autopilot.ContextWithTrace(context.Background(), autopilot.StartTrace())
			event := autopilot.Event{Type: autopilot.JobRunStarted,
				Data: map[string]any{"run_id": "r-1", "code_ref": "orders@4f2a9c1", "env": "prod"}}
			for i := 0; i < 2*burst; i++ { // warm: connection made, slots filled once
				c.Emit(ctx, event)
			}
			_ = c.Flush(context.Background())
			b.ResetTimer()
			began := processCPU()
			emitInBursts(b, c, ctx, event, false)
			_ = c.Flush(context.Background())
			b.ReportMetric(float64((processCPU()-began).Nanoseconds())/float64(b.N), "cpu-ns/event")
			if d := c.Dropped(); backend.name == "backend-up" && d.Total() > 0 {
				b.Fatalf("dropped %+v", d)
			}
		})
	}
}

// emitInBursts emits b.N events, letting the worker drain the queue every burst (untimed when
// stopTimer, as in BenchmarkEmit; timed in BenchmarkSDKCPU, where the worker's CPU is the point).
func emitInBursts(b *testing.B, c *autopilot.Client, ctx context.Context, event autopilot.Event, stopTimer bool) {
	for i := 0; i < b.N; i++ {
		if i%burst == burst-1 {
			if stopTimer {
				b.StopTimer()
			}
			_ = c.Flush(context.Background())
			if stopTimer {
				b.StartTimer()
			}
		}
		c.Emit(ctx, event)
	}
}
