package autopilot_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	autopilot "autopilot-go"
)

func TestParseTraceparent(t *testing.T) {
	tests := []struct {
		name, value string
		ok          bool
	}{
		{"version 00", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true},
		{"not sampled", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", true},
		{"surrounding space", "  00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ", true},
		{"a later version with more fields", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-ever", true},
		{"a later version, exactly 55", "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true},
		{"upper case", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01", false},
		{"version ff", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false},
		{"zero trace id", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", false},
		{"zero parent id", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", false},
		{"version 00 with more", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", false},
		{"a later version glued on", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", false},
		{"short", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1", false},
		{"not hex", "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parsed, ok := autopilot.ParseTraceparent(tt.value)
			if ok != tt.ok {
				t.Fatalf("ParseTraceparent(%q) ok = %v, want %v", tt.value, ok, tt.ok)
			}
			if ok && !strings.HasPrefix(strings.TrimSpace(tt.value)[3:], parsed.String()[3:52]) {
				t.Fatalf("read %s from %s", parsed, tt.value)
			}
		})
	}
}

func TestContinueKeepsTheTraceAndTheSampledFlagAndMakesANewSpan(t *testing.T) {
	incoming := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
	next := autopilot.ContinueTrace(incoming)
	s := next.String()
	if s[:36] != incoming[:36] || s[36:52] == incoming[36:52] || s[53:] != "00" || len(s) != 55 {
		t.Fatalf("continued %s as %s", incoming, s)
	}
	started := autopilot.ContinueTrace("garbage")
	if !started.IsValid() || !started.Sampled() || started.String()[3:35] == incoming[3:35] {
		t.Fatalf("an invalid parent must start a new sampled trace: %s", started)
	}
	if a, b := autopilot.StartTrace(), autopilot.StartTrace(); a.TraceID == b.TraceID {
		t.Fatal("two new traces share an id")
	}
}

func TestTheMiddlewareContinuesOrStartsATraceAndEventsAndHeadersCarryIt(t *testing.T) {
	srv := server(t)
	c := fast(t, srv.URL)
	var seen []string
	handler := autopilot.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		trace, ok := autopilot.TraceFromContext(r.Context())
		if !ok {
			t.Error("no trace in the request's context")
		}
		seen = append(seen, trace.String())
		c.Emit(r.Context(), run("in-request"))
		for _, h := range c.KafkaHeaders(r.Context()) {
			if h.Key == autopilot.HeaderTraceparent && string(h.Value) != trace.String() {
				t.Errorf("header %s, trace %s", h.Value, trace)
			}
		}
	}))
	incoming := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	req := httptest.NewRequest(http.MethodGet, "/orders", nil)
	req.Header.Set("traceparent", incoming)
	handler.ServeHTTP(httptest.NewRecorder(), req)
	handler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/orders", nil))
	if seen[0][:36] != incoming[:36] || seen[1][:36] == incoming[:36] {
		t.Fatalf("traces %v", seen)
	}
	flush(t, c, 2*time.Second)
	events := srv.Events()
	if len(events) != 2 || events[0]["traceparent"] != seen[0] || events[1]["traceparent"] != seen[1] {
		t.Fatalf("events %v, traces %v", events, seen)
	}
	out := http.Header{}
	autopilot.Inject(autopilot.ContextWithTrace(context.Background(), autopilot.ContinueTrace(incoming)), out)
	if got := out.Get("traceparent"); got[:36] != incoming[:36] {
		t.Fatalf("injected %q", got)
	}
}

func TestKafkaHeadersNameTheProducerEnvAndVersion(t *testing.T) {
	srv := server(t)
	c := fast(t, srv.URL, autopilot.Version("v2.8.1", "3f9c2ab"))
	got := map[string]string{}
	for _, h := range c.KafkaHeaders(context.Background()) {
		got[h.Key] = string(h.Value)
	}
	want := map[string]string{"autopilot-producer": "svc://checkout-service", "autopilot-env": "test", "autopilot-version": "v2.8.1"}
	if len(got) != len(want) {
		t.Fatalf("headers %v (no trace in the context: no traceparent)", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("headers %v", got)
		}
	}
}
