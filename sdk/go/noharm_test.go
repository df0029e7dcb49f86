package autopilot_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sort"
	"testing"
	"time"

	autopilot "autopilot-go"
	"autopilot-go/autopilottest"
)

// No harm, proved against real local servers that are down (connections refused), reset connections, answer
// 500, sleep 5 s, or refuse every batch with 401
// (CONTRACT.md, section 14): the business call's latency matches a baseline measured in the same run
// with the SDK off, no call waits on the backend, memory stays flat once the queue is full, every event
// is accounted for, nothing panics, and the log says so a handful of times rather than once per event.

var badBackends = []autopilottest.Mode{"down", autopilottest.Reset, autopilottest.Fail, autopilottest.Sleep, autopilottest.Deny}

func badEndpoint(t *testing.T, mode autopilottest.Mode) string {
	switch mode {
	case "down":
		return autopilottest.ClosedURL()
	case autopilottest.Deny:
		// A server that keeps nothing: the fake records every batch it is sent, and a service that refuses
		// every batch gets all of them (4xx leaves the circuit closed), which would be the test's memory.
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusUnauthorized)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	srv := server(t)
	srv.SetMode(mode, 5*time.Second)
	return srv.URL
}

var payload = make([]byte, 2048)

// businessCall is some fixed work a request handler might do, plus one event.
func businessCall(c *autopilot.Client, i int) {
	digest := sha256.Sum256(payload)
	for j := 0; j < 20; j++ {
		digest = sha256.Sum256(digest[:])
	}
	c.Emit(context.Background(), autopilot.Event{Type: autopilot.JobRunStarted,
		Data: map[string]any{"run_id": i, "digest": fmt.Sprintf("%x", digest[:4])}})
}

func timedCalls(c *autopilot.Client, count, start int) []time.Duration {
	out := make([]time.Duration, 0, count)
	for i := start; i < start+count; i++ {
		began := time.Now()
		businessCall(c, i)
		out = append(out, time.Since(began))
	}
	return out
}

func median(values []time.Duration) time.Duration {
	sorted := append([]time.Duration(nil), values...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	return sorted[len(sorted)/2]
}

func TestBusinessLatencyIsUnchangedAndNothingWaitsOnTheBackend(t *testing.T) {
	for _, mode := range badBackends {
		t.Run(string(mode), func(t *testing.T) {
			logs := &logRecorder{}
			// The SDK's timeout (1 s) is far above anything a call may take here: a call that waited on the
			// backend would stand out, and against the sleeping server it would wait the whole second.
			c := fast(t, badEndpoint(t, mode), autopilot.Timeouts(time.Second, time.Second), autopilot.QueueSize(256),
				autopilot.Logger(slog.New(logs)))
			disabled := autopilot.New(autopilot.Environment(noEnv))
			var baseline, withSDK []time.Duration
			for round := 0; round < 6; round++ { // interleaved, so machine load hits both sides alike
				baseline = append(baseline, timedCalls(disabled, 150, round*150)...)
				withSDK = append(withSDK, timedCalls(c, 150, round*150)...)
			}
			base, sdk := median(baseline), median(withSDK)
			if sdk > base*3/2+20*time.Microsecond {
				t.Fatalf("median %s with the SDK against %s without", sdk, base)
			}
			slowest := withSDK[0]
			for _, d := range withSDK {
				slowest = max(slowest, d)
			}
			if slowest > 500*time.Millisecond {
				t.Fatalf("a business call took %s: it waited on the backend", slowest)
			}
			if w := logs.at(slog.LevelWarn); len(w) > 5 {
				t.Fatalf("%d warnings (once per problem, not per event): %q", len(w), w)
			}
		})
	}
}

func heap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func TestEveryEventIsAccountedForAndMemoryStaysBounded(t *testing.T) {
	for _, mode := range badBackends {
		t.Run(string(mode), func(t *testing.T) {
			c := fast(t, badEndpoint(t, mode), autopilot.QueueSize(200), autopilot.BatchSize(50))
			for i := 0; i < 2_000; i++ {
				businessCall(c, i)
			}
			early := heap()
			for i := 2_000; i < 20_000; i++ {
				businessCall(c, i)
			}
			late := heap()
			// Kept, the 18,000 extra events would take several MB (each a map with two entries);
			// bounded, the heap moves by noise from the test's servers and the runtime.
			if late > early+1<<20 {
				t.Fatalf("the heap grew by %d KiB after the queue filled", (late-early)/1024)
			}
			if s := c.Stats(); s.Queued > 200 {
				t.Fatalf("%d queued, above QueueSize", s.Queued)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			_ = c.Shutdown(ctx)
			eventually(t, 2*time.Second, "the last attempt reports back", func() bool {
				s := c.Stats()
				return s.Delivered+s.Dropped.Total() == 20_000
			})
			s := c.Stats()
			if s.Delivered != 0 || s.Delivered+s.Dropped.Total() != 20_000 {
				t.Fatalf("delivered %d + dropped %+v != 20,000", s.Delivered, s.Dropped)
			}
			switch {
			case s.Dropped.Killed != 0:
				t.Fatalf("dropped %+v", s.Dropped)
			case mode == autopilottest.Deny && s.Dropped.Rejected == 0: // refused batches are rejected, not retried
				t.Fatalf("dropped %+v", s.Dropped)
			case mode != autopilottest.Deny && (s.Dropped.QueueFull == 0 || s.Dropped.Rejected != 0):
				t.Fatalf("dropped %+v", s.Dropped)
			}
		})
	}
}

func TestAHealthyBackendGetsEveryEventAndTheCircuitStaysClosed(t *testing.T) {
	srv := server(t)
	c := fast(t, srv.URL, append(patient, autopilot.QueueSize(5000), autopilot.BatchSize(100))...)
	for i := 0; i < 2_000; i++ {
		businessCall(c, i)
	}
	flush(t, c, 30*time.Second)
	ids := map[any]bool{}
	for _, e := range srv.Events() {
		ids[e["id"]] = true
	}
	if s := c.Stats(); len(ids) != 2_000 || s.Delivered != 2_000 || s.Circuit != autopilot.CircuitClosed {
		t.Fatalf("%d distinct ids; stats %+v", len(ids), s)
	}
}

func TestTheCircuitOpensAgainstADeadBackendAndStopsTheKnocking(t *testing.T) {
	c := fast(t, autopilottest.ClosedURL(), autopilot.Circuit(3, time.Minute), autopilot.BatchSize(1))
	for i := 0; i < 50; i++ {
		c.Emit(context.Background(), run("r"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = c.Flush(ctx)
	if s := c.Stats(); s.Circuit != autopilot.CircuitOpened || s.Dropped.CircuitOpen == 0 {
		t.Fatalf("stats %+v", s)
	}
}
