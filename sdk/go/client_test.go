package autopilot_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	autopilot "autopilot-go"
	"autopilot-go/autopilottest"
)

// failingTransport fails the test if the SDK ever opens a connection.
type failingTransport struct{ t *testing.T }

func (f failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	f.t.Error("a disabled client made an HTTP request")
	return nil, errors.New("no")
}

func TestADisabledClientStartsNothingAndEmitCostsNoAllocation(t *testing.T) {
	before := runtime.NumGoroutine()
	c := autopilot.New(autopilot.Environment(noEnv), autopilot.Service("checkout"),
		autopilot.HealthInterval(time.Millisecond), // an SdkHealth interval does not switch anything on either
		autopilot.HTTPClient(&http.Client{Transport: failingTransport{t}}))
	ctx := autopilot.ContextWithTrace(context.Background(), autopilot.StartTrace())
	event := run("r-1")
	allocs := testing.AllocsPerRun(1000, func() {
		if c.Emit(ctx, event) {
			t.Fatal("a disabled client queued an event")
		}
	})
	if allocs != 0 {
		t.Fatalf("Emit on a disabled client allocated %.1f times per call", allocs)
	}
	if headers := c.KafkaHeaders(ctx); headers != nil {
		t.Fatalf("identity headers while disabled: %v", headers)
	}
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Fatalf("%d goroutines before, %d after", before, after)
	}
	if c.Dropped().Total() != 0 || c.Stats().Enabled {
		t.Fatalf("stats %+v", c.Stats())
	}
	var none *autopilot.Client // a nil client is a disabled one: removing the SDK's setup cannot crash a caller
	if none.Emit(ctx, event) || none.KafkaHeaders(ctx) != nil || none.Flush(ctx) != nil || none.Shutdown(ctx) != nil {
		t.Fatal("a nil client must be a no-op")
	}
}

func TestEventsArriveAsEnvelopesWithTheTraceOfTheContext(t *testing.T) {
	srv := server(t)
	fixed := time.Date(2026, 3, 10, 10, 20, 0, 0, time.UTC)
	c := fast(t, srv.URL, autopilot.Token("t0k"), autopilot.Clock(func() time.Time { return fixed }))
	trace := autopilot.StartTrace()
	ctx := autopilot.ContextWithTrace(context.Background(), trace)
	data := map[string]any{"dataset_urn": "ds://orders", "rows_written": 10}
	if !c.Emit(ctx, autopilot.Event{Type: autopilot.DatasetWriteCommitted, Data: data, Subject: "ds://orders"}) {
		t.Fatal("not queued")
	}
	data["rows_written"] = 99 // the caller may reuse its map: the SDK took a copy
	flush(t, c, 2*time.Second)
	events := srv.Events()
	if len(events) != 1 {
		t.Fatalf("%d events", len(events))
	}
	e := events[0]
	if e["source"] != "svc://checkout-service" || e["subject"] != "ds://orders" || e["traceparent"] != trace.String() ||
		e["time"] != "2026-03-10T10:20:00Z" || e["specversion"] != "1.0" || len(e["id"].(string)) != 32 {
		t.Fatalf("event %v", e)
	}
	if rows := e["data"].(map[string]any)["rows_written"]; rows != 10.0 {
		t.Fatalf("rows_written %v: the SDK did not copy the data at Emit", rows)
	}
	if err := schema(t).Validate(e); err != nil {
		t.Fatal(err)
	}
	h := srv.Headers()[0]
	if h.Get("Authorization") != "Bearer t0k" || h.Get("Content-Type") != autopilot.BatchContentType ||
		!strings.HasPrefix(h.Get("User-Agent"), "autopilot-go/") {
		t.Fatalf("headers %v", h)
	}
}

func TestEventsGoInBatches(t *testing.T) {
	srv := server(t)
	c := fast(t, srv.URL, append(patient, autopilot.BatchSize(100), autopilot.QueueSize(5000))...)
	for i := 0; i < 1000; i++ {
		c.Emit(context.Background(), run("r"))
	}
	flush(t, c, 30*time.Second)
	batches := srv.Batches()
	if len(srv.Events()) != 1000 || len(batches) > 12 {
		t.Fatalf("%d events in %d batches", len(srv.Events()), len(batches))
	}
	for _, b := range batches {
		if len(b) > 100 {
			t.Fatalf("a batch of %d events, above BatchSize", len(b))
		}
	}
	if s := c.Stats(); s.Delivered != 1000 || s.Dropped.Total() != 0 || s.Circuit != autopilot.CircuitClosed {
		t.Fatalf("stats %+v", s)
	}
}

func TestATimerFlushSendsWhatWasQueuedNotWhatArrivesWhileItSends(t *testing.T) {
	srv := server(t)
	srv.SetMode(autopilottest.Sleep, 150*time.Millisecond) // each exchange takes a while, as over a real network
	c := fast(t, srv.URL, autopilot.BatchSize(50), autopilot.FlushInterval(100*time.Millisecond),
		autopilot.Timeouts(time.Second, time.Second), autopilot.QueueSize(5000))
	stop := time.Now().Add(900 * time.Millisecond)
	for time.Now().Before(stop) { // a steady emitter: one event a millisecond
		c.Emit(context.Background(), run("r"))
		time.Sleep(time.Millisecond)
	}
	flush(t, c, 30*time.Second)
	batches := srv.Batches()
	small := 0
	for _, b := range batches[:len(batches)-1] {
		if len(b) < 10 {
			small++
		}
	}
	if small > 1 {
		sizes := []int{}
		for _, b := range batches {
			sizes = append(sizes, len(b))
		}
		t.Fatalf("the timer flush kept sending tiny batches: %v", sizes)
	}
}

func TestARetryResendsTheSameIDsAndA4xxIsNotRetried(t *testing.T) {
	srv := server(t)
	srv.SetMode(autopilottest.Fail, 0)
	c := fast(t, srv.URL, autopilot.Retries(5, 20*time.Millisecond, 20*time.Millisecond), autopilot.Circuit(100, time.Second))
	c.Emit(context.Background(), run("r-1"))
	eventually(t, 2*time.Second, "two attempts", func() bool { return len(srv.Attempts()) >= 2 })
	srv.SetMode(autopilottest.OK, 0)
	flush(t, c, 2*time.Second)
	batches := srv.Attempts()
	first, last := batches[0][0]["id"], batches[len(batches)-1][0]["id"]
	if first != last || len(batches) < 3 || len(srv.Events()) != 1 {
		t.Fatalf("%d attempts; ids %v then %v", len(batches), first, last)
	}
	if s := c.Stats(); s.Delivered != 1 || s.Dropped.Total() != 0 {
		t.Fatalf("stats %+v", s)
	}

	denied := server(t)
	denied.SetMode(autopilottest.Deny, 0)
	d := fast(t, denied.URL)
	d.Emit(context.Background(), run("r-2"))
	flush(t, d, 2*time.Second)
	time.Sleep(100 * time.Millisecond)
	if n := len(denied.Attempts()); n != 1 {
		t.Fatalf("a 401 was tried %d times; a 4xx is not retried", n)
	}
	if dropped := d.Dropped(); dropped.Rejected != 1 || dropped.Total() != 1 {
		t.Fatalf("dropped %+v", dropped)
	}
}

func TestRetriesAreBoundedAndCountedAsTimeout(t *testing.T) {
	srv := server(t)
	srv.SetMode(autopilottest.Fail, 0)
	c := fast(t, srv.URL, autopilot.Retries(2, time.Millisecond, time.Millisecond), autopilot.Circuit(100, time.Second))
	c.Emit(context.Background(), run("r"))
	flush(t, c, 2*time.Second)
	if d := c.Dropped(); d.Timeout != 1 || d.Total() != 1 {
		t.Fatalf("dropped %+v", d)
	}
}

func TestItemsTheServiceRejectsAreCounted(t *testing.T) {
	srv := server(t)
	c := fast(t, srv.URL)
	srv.RejectID("bad-1")
	c.Emit(context.Background(), autopilot.Event{Type: autopilot.JobRunStarted, ID: "bad-1", Data: map[string]any{"run_id": "a"}})
	c.Emit(context.Background(), autopilot.Event{Type: autopilot.JobRunStarted, ID: "good-1", Data: map[string]any{"run_id": "b"}})
	flush(t, c, 2*time.Second)
	if s := c.Stats(); s.Delivered != 1 || s.Dropped.Rejected != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestBadEventsAreDroppedAloneAndNothingPanics(t *testing.T) {
	srv := server(t)
	logs := &logRecorder{}
	c := fast(t, srv.URL, autopilot.Logger(slog.New(logs)))
	ctx := context.Background()
	results := []bool{
		c.Emit(ctx, autopilot.Event{Type: "OrderCreated", Data: map[string]any{"run_id": "x"}}),             // unknown type
		c.Emit(ctx, autopilot.Event{Type: autopilot.DeploymentEvent, Data: map[string]any{"service": "s"}}), // no version
		c.Emit(ctx, autopilot.Event{Type: autopilot.JobRunStarted, Data: map[string]any{"run_id": "x", "ch": make(chan int)}}),
		c.Emit(ctx, autopilot.Event{Type: autopilot.JobRunStarted, Data: map[string]any{"run_id": "ok"}}),
	}
	//lint:ignore SA1012 a nil context must be harmless too
	results = append(results, c.Emit(nil, run("nil-context")))
	if results[0] {
		t.Fatal("an unknown type was queued")
	}
	flush(t, c, 2*time.Second)
	if s := c.Stats(); s.Delivered != 2 || s.Dropped.Rejected != 3 {
		t.Fatalf("stats %+v (emit results %v)", s, results)
	}
	if w := logs.at(slog.LevelWarn); len(w) > 3 {
		t.Fatalf("one line per problem, not per event: %q", w)
	}
}

func TestAFullQueueDropsAndCounts(t *testing.T) {
	srv := server(t)
	srv.SetMode(autopilottest.Sleep, 2*time.Second)
	c := fast(t, srv.URL, autopilot.QueueSize(10), autopilot.BatchSize(5), autopilot.Timeouts(time.Second, 3*time.Second))
	queued := 0
	for i := 0; i < 100; i++ {
		if c.Emit(context.Background(), run("r")) {
			queued++
		}
	}
	// 10 in the queue, and at most a batch (5) already taken by the worker.
	if queued > 15 || c.Dropped().QueueFull != uint64(100-queued) {
		t.Fatalf("%d queued, dropped %+v", queued, c.Dropped())
	}
}

func TestAnEventOlderThanMaxAgeIsDropped(t *testing.T) {
	srv := server(t)
	srv.SetMode(autopilottest.Fail, 0)
	c := fast(t, srv.URL, autopilot.MaxAge(150*time.Millisecond), autopilot.Retries(100, 30*time.Millisecond, 30*time.Millisecond),
		autopilot.Circuit(1000, time.Second))
	c.Emit(context.Background(), run("r"))
	flush(t, c, 2*time.Second)
	if d := c.Dropped(); d.Timeout != 1 {
		t.Fatalf("dropped %+v", d)
	}
	if n := len(srv.Attempts()); n < 2 {
		t.Fatalf("%d attempts before the event aged out", n)
	}
}

func TestTheCircuitOpensAndAHalfOpenProbeResumesDelivery(t *testing.T) {
	srv := server(t)
	srv.SetMode(autopilottest.Fail, 0)
	c := fast(t, srv.URL, autopilot.Circuit(2, 300*time.Millisecond), autopilot.Retries(1, time.Millisecond, time.Millisecond))
	c.Emit(context.Background(), run("during"))
	flush(t, c, 2*time.Second)
	if s := c.Stats(); s.Circuit != autopilot.CircuitOpened {
		t.Fatalf("circuit %s after two failures", s.Circuit)
	}
	c.Emit(context.Background(), run("while-open"))
	flush(t, c, 2*time.Second)
	if d := c.Dropped(); d.CircuitOpen != 1 {
		t.Fatalf("dropped %+v", d)
	}
	srv.SetMode(autopilottest.OK, 0)
	time.Sleep(350 * time.Millisecond)
	c.Emit(context.Background(), run("after"))
	flush(t, c, 2*time.Second)
	events := srv.Events()
	if s := c.Stats(); s.Circuit != autopilot.CircuitClosed || len(events) != 1 ||
		events[0]["data"].(map[string]any)["run_id"] != "after" {
		t.Fatalf("circuit %s, events %v", s.Circuit, events)
	}
}

func TestTheKillSwitchStopsEverythingAndARevivalIsSeen(t *testing.T) {
	srv := server(t)
	c := fast(t, srv.URL, autopilot.ControlPollInterval(50*time.Millisecond))
	ctx := autopilot.ContextWithTrace(context.Background(), autopilot.StartTrace())
	srv.SetControl("svc://checkout-service", true, true)
	eventually(t, 2*time.Second, "the kill is obeyed", func() bool { return c.Stats().Control.Killed })
	if c.Emit(ctx, run("killed")) || c.KafkaHeaders(ctx) != nil {
		t.Fatal("a killed client took an event or gave identity headers")
	}
	if d := c.Dropped(); d.Killed != 1 {
		t.Fatalf("dropped %+v", d)
	}
	srv.SetControl("svc://checkout-service", true, false)
	eventually(t, 2*time.Second, "the revival is seen", func() bool { return c.Emit(ctx, run("revived")) })
	flush(t, c, 2*time.Second)
	if events := srv.Events(); len(events) != 1 || events[0]["data"].(map[string]any)["run_id"] != "revived" {
		t.Fatalf("events %v", events)
	}
	srv.SetControl("svc://checkout-service", false, false) // enabled: false kills too
	eventually(t, 2*time.Second, "enabled=false is obeyed", func() bool { return !c.Emit(ctx, run("disabled")) })
}

func TestAnUnreachableControlPlaneKeepsTheLastState(t *testing.T) {
	srv := server(t)
	logs := &logRecorder{}
	c := fast(t, srv.URL, autopilot.ControlPollInterval(30*time.Millisecond), autopilot.Logger(slog.New(logs)))
	srv.SetControl("svc://checkout-service", true, true)
	eventually(t, 2*time.Second, "killed", func() bool { return c.Stats().Control.Killed })
	srv.SetMode(autopilottest.Fail, 0)
	polls := srv.ControlRequests()
	time.Sleep(200 * time.Millisecond)
	if !c.Stats().Control.Killed || c.Emit(context.Background(), run("r")) {
		t.Fatal("an unreachable control plane revived the producer")
	}
	if srv.ControlRequests() < polls+2 {
		t.Fatalf("polling stopped: %d requests, then %d", polls, srv.ControlRequests())
	}
	warnings := 0
	for _, w := range logs.at(slog.LevelWarn) {
		if strings.Contains(w, "control plane answered") {
			warnings++
		}
	}
	if warnings != 1 {
		t.Fatalf("%d warnings about the control plane, want 1: %q", warnings, logs.at(slog.LevelWarn))
	}
}

func TestShutdownIsBoundedAgainstASleepingBackendAndLaterEmitsAreNoOps(t *testing.T) {
	srv := server(t)
	srv.SetMode(autopilottest.Sleep, 5*time.Second)
	c := fast(t, srv.URL, autopilot.Timeouts(time.Second, 5*time.Second))
	for i := 0; i < 10; i++ {
		c.Emit(context.Background(), run("r"))
	}
	time.Sleep(100 * time.Millisecond) // the worker now waits on the sleeping server
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	began := time.Now()
	_ = c.Shutdown(ctx)
	if took := time.Since(began); took > time.Second {
		t.Fatalf("shutdown took %s with a 300 ms deadline", took)
	}
	if c.Emit(context.Background(), run("late")) {
		t.Fatal("an emit after shutdown was queued")
	}
	if err := c.Shutdown(context.Background()); err != nil { // idempotent
		t.Fatal(err)
	}
	if s := c.Stats(); s.Delivered+s.Dropped.Total() != 10 || s.Dropped.Timeout != 10 {
		t.Fatalf("every event is delivered or counted: %+v", s)
	}
}

func TestShutdownDeliversWhatIsQueued(t *testing.T) {
	srv := server(t)
	c := fast(t, srv.URL, autopilot.FlushInterval(time.Hour))
	for i := 0; i < 7; i++ {
		c.Emit(context.Background(), run("r"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Events()); n != 7 {
		t.Fatalf("%d of 7 delivered at shutdown", n)
	}
}

func TestFlushReturnsTheContextsErrorWhenItEndsFirst(t *testing.T) {
	srv := server(t)
	srv.SetMode(autopilottest.Sleep, 2*time.Second)
	c := fast(t, srv.URL, autopilot.Timeouts(time.Second, 3*time.Second))
	c.Emit(context.Background(), run("r"))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := c.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("flush returned %v", err)
	}
}

func TestDropCountersRideOnEveryPostWhenExported(t *testing.T) {
	srv := server(t)
	c := fast(t, srv.URL, autopilot.ExportDrops(true))
	c.Emit(context.Background(), autopilot.Event{Type: "Nope"})
	c.Emit(context.Background(), run("r"))
	flush(t, c, 2*time.Second)
	got := srv.Headers()[0].Get("Autopilot-Signals-Dropped")
	if got != "queue_full=0,timeout=0,circuit_open=0,killed=0,rejected=1" {
		t.Fatalf("header %q", got)
	}
}

func TestTheStartupEventIsSentOncePerProcess(t *testing.T) {
	srv := server(t)
	first := fast(t, srv.URL, autopilot.StartupEvent(true), autopilot.Version("v2.8.1", "3f9c2ab"), autopilot.Domain("orders"))
	second := fast(t, srv.URL, autopilot.StartupEvent(true))
	flush(t, first, 2*time.Second)
	flush(t, second, 2*time.Second)
	var startups []map[string]any
	for _, e := range srv.Events() {
		if data := e["data"].(map[string]any); data["source"] == "startup" {
			startups = append(startups, data)
		}
	}
	// Another test in this process may have sent it already; never more than once.
	if len(startups) > 1 {
		t.Fatalf("%d startup events", len(startups))
	}
	if len(startups) == 1 && (startups[0]["version"] != "v2.8.1" || startups[0]["deploy_ref"] != "checkout-service@v2.8.1+3f9c2ab") {
		t.Fatalf("startup event %v", startups[0])
	}
}

func TestEmitIsSafeFromManyGoroutines(t *testing.T) {
	srv := server(t)
	c := fast(t, srv.URL, append(patient, autopilot.QueueSize(100_000), autopilot.BatchSize(500))...)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				c.Emit(context.Background(), run("r"))
			}
		}()
	}
	wg.Wait()
	flush(t, c, 30*time.Second)
	if s := c.Stats(); s.Delivered != 8000 {
		t.Fatalf("stats %+v", s)
	}
}

func TestAnEnabledEmitDoesNotAllocateOnceItsSlotsAreWarm(t *testing.T) {
	srv := server(t)
	c := fast(t, srv.URL, append(patient, autopilot.QueueSize(1000), autopilot.BatchSize(1000),
		autopilot.FlushInterval(time.Hour), autopilot.ControlPollInterval(time.Hour))...)
	ctx := autopilot.ContextWithTrace(context.Background(), autopilot.StartTrace())
	event := autopilot.Event{Type: autopilot.JobRunStarted, Data: map[string]any{"run_id": "r-1", "env": "prod"}}
	for lap := 0; lap < 3; lap++ { // each slot gets a field slice of its own, then reuses it
		for i := 0; i < 1000; i++ {
			c.Emit(ctx, event)
		}
		flush(t, c, 30*time.Second)
	}
	allocs := testing.AllocsPerRun(500, func() {
		if !c.Emit(ctx, event) {
			t.Fatal("not queued")
		}
	})
	if allocs != 0 {
		t.Fatalf("Emit allocated %.2f times per call on an enabled client", allocs)
	}
}
