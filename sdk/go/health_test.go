package autopilot_test

import (
	"context"
	"testing"
	"time"

	autopilot "autopilot-go"
	"autopilot-go/autopilottest"
)

// SdkHealth (sdk/spec/CONTRACT.md, section 15): off by default; when on, a periodic event with the client's counters
// by reason, its queue and its circuit, valid against the envelope schema, and never sent while killed.

func healthEvents(srv *autopilottest.Server) []map[string]any {
	var out []map[string]any
	for _, e := range srv.Events() {
		if e["type"] == "SdkHealth" {
			out = append(out, e)
		}
	}
	return out
}

func count(data map[string]any, reason string) float64 {
	dropped, _ := data["dropped"].(map[string]any)
	n, _ := dropped[reason].(float64)
	return n
}

func TestNoSdkHealthUnlessAnIntervalIsSet(t *testing.T) {
	srv := server(t)
	c := fast(t, srv.URL)
	c.Emit(context.Background(), run("r1"))
	time.Sleep(300 * time.Millisecond)
	flush(t, c, 5*time.Second)
	if got := srv.Events(); len(got) != 1 || got[0]["type"] != "JobRunStarted" {
		t.Fatalf("events %v", got)
	}
}

func TestSdkHealthCarriesCountersByReasonQueueAndCircuit(t *testing.T) {
	srv := server(t)
	c := fast(t, srv.URL, append(patient, autopilot.HealthInterval(300*time.Millisecond), autopilot.QueueSize(5),
		autopilot.BatchSize(100), autopilot.FlushInterval(5*time.Second))...)
	queued := 0
	for i := range 8 { // 5 fit the queue, 3 are dropped as queue_full
		if c.Emit(context.Background(), run("r"+string(rune('0'+i)))) {
			queued++
		}
	}
	if queued != 5 {
		t.Fatalf("%d queued", queued)
	}
	flush(t, c, 5*time.Second)
	eventually(t, 5*time.Second, "two SdkHealth events", func() bool { return len(healthEvents(srv)) >= 2 })
	compiled := schema(t)
	found := healthEvents(srv)
	for _, e := range found[:2] {
		if err := compiled.Validate(e); err != nil {
			t.Fatalf("%v: %v", e, err)
		}
		if e["source"] != "svc://checkout-service" {
			t.Fatalf("source %v", e["source"])
		}
	}
	first, _ := found[0]["data"].(map[string]any)
	second, _ := found[1]["data"].(map[string]any)
	agent := srv.Headers()[0].Get("User-Agent")
	if first["language"] != "go" || agent != "autopilot-go/"+first["sdk_version"].(string) || first["env"] != "test" {
		t.Fatalf("identity %v (User-Agent %q)", first, agent)
	}
	want := map[string]float64{"queue_full": 3, "timeout": 0, "circuit_open": 0, "killed": 0, "rejected": 0}
	if dropped, _ := first["dropped"].(map[string]any); len(dropped) != len(want) {
		t.Fatalf("dropped %v", dropped)
	}
	for reason, n := range want {
		if count(first, reason) != n {
			t.Fatalf("dropped %v, want %v", first["dropped"], want)
		}
	}
	if first["queue_capacity"] != 5.0 || first["circuit"] != "closed" || first["interval_s"] != 0.3 {
		t.Fatalf("data %v", first)
	}
	if depth, ok := first["queue_depth"].(float64); !ok || depth < 0 || depth > 5 {
		t.Fatalf("queue_depth %v", first["queue_depth"])
	}
	instance, _ := first["instance"].(string)
	if instance == "" || second["instance"] != instance {
		t.Fatalf("instances %v, %v", first["instance"], second["instance"])
	}
	if delivered, _ := second["delivered"].(float64); delivered < 6 { // the five runs and the first SdkHealth
		t.Fatalf("delivered %v", second["delivered"])
	}
}

func TestSdkHealthIsDroppedWhileTheCircuitIsOpenAndReportsWhatWasLost(t *testing.T) {
	srv := server(t)
	srv.SetMode(autopilottest.Fail, 0)
	c := fast(t, srv.URL, autopilot.HealthInterval(50*time.Millisecond), autopilot.Retries(0, 0, 0),
		autopilot.Circuit(1, 400*time.Millisecond))
	c.Emit(context.Background(), run("r1"))
	eventually(t, 5*time.Second, "SdkHealth dropped as circuit_open", func() bool {
		return c.Dropped().CircuitOpen >= 1
	})
	if c.Dropped().Killed != 0 {
		t.Fatalf("dropped %+v", c.Dropped())
	}
	srv.SetMode(autopilottest.OK, 0)
	eventually(t, 5*time.Second, "an SdkHealth event delivered after recovery", func() bool {
		return len(healthEvents(srv)) >= 1
	})
	data, _ := healthEvents(srv)[0]["data"].(map[string]any)
	// The first one delivered was the probe: built while the circuit was not closed, it tells of the events lost.
	if data["circuit"] == "closed" || count(data, "timeout") < 1 || count(data, "circuit_open") < 1 {
		t.Fatalf("data %v", data)
	}
}

func TestNoSdkHealthWhileKilledAndNoneCountedAsKilled(t *testing.T) {
	srv := server(t)
	srv.SetControl("svc://checkout-service", true, true)
	c := fast(t, srv.URL, autopilot.HealthInterval(20*time.Millisecond))
	eventually(t, 5*time.Second, "the kill seen", func() bool { return c.Stats().Control.Killed })
	time.Sleep(200 * time.Millisecond) // ten intervals
	if got := srv.Attempts(); len(got) != 0 {
		t.Fatalf("posted while killed: %v", got)
	}
	if d := c.Dropped(); d.Total() != 0 {
		t.Fatalf("dropped %+v", d)
	}
	srv.SetControl("svc://checkout-service", true, false)
	eventually(t, 5*time.Second, "SdkHealth again once revived", func() bool { return len(healthEvents(srv)) >= 1 })
	for _, e := range healthEvents(srv) {
		if data, _ := e["data"].(map[string]any); data["circuit"] != "closed" || count(data, "killed") != 0 {
			t.Fatalf("data %v", data)
		}
	}
}
