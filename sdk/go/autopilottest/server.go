// Package autopilottest is a fake rca service for tests of code that uses autopilot-go: a real local
// HTTP server (net/http/httptest) that answers POST /v1/events and GET /v1/control/{producer} as rca
// does, records what it got, and can be told to fail.
//
//	srv := autopilottest.NewServer()
//	defer srv.Close()
//	ap := autopilot.New(autopilot.Enabled(true), autopilot.Endpoint(srv.URL), autopilot.Service("checkout"))
//	ap.Emit(ctx, autopilot.Event{Type: autopilot.DeploymentEvent, Data: map[string]any{"service": "checkout", "version": "1.2.3"}})
//	_ = ap.Flush(ctx)
//	events := srv.Events()  // what rca would have stored, as JSON objects
package autopilottest

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	autopilot "autopilot-go"
)

// Mode is how the fake answers POST /v1/events (and the control plane, for the failure modes).
type Mode string

const (
	OK    Mode = "ok"    // accepts; a repeated (source, id) is a duplicate; RejectIDs are rejected per item
	Fail  Mode = "500"   // HTTP 500
	Reset Mode = "reset" // closes the connection without an answer
	Sleep Mode = "sleep" // answers after SleepFor (a backend that hangs)
	Deny  Mode = "401"   // HTTP 401
)

// Server is the fake rca service; its methods are safe to call while clients send to it.
type Server struct {
	*httptest.Server
	mu        sync.Mutex
	mode      Mode
	sleepFor  time.Duration
	batches   [][]map[string]any
	attempts  [][]map[string]any
	headers   []http.Header
	control   map[string]map[string]any
	flags     map[string]map[string]bool // producer -> environment -> on
	controls  int
	envs      []string // the env query of each control request ("" when absent)
	rejectIDs map[string]bool
	seen      map[string]bool
}

// NewServer starts a fake in OK mode on a loopback port.
func NewServer() *Server {
	s := &Server{mode: OK, sleepFor: 5 * time.Second, control: map[string]map[string]any{},
		flags: map[string]map[string]bool{}, rejectIDs: map[string]bool{}, seen: map[string]bool{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.handle))
	return s
}

// SetMode changes how the fake answers; sleep is how long Sleep waits.
func (s *Server) SetMode(mode Mode, sleep time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode, s.sleepFor = mode, sleep
}

// SetControl sets the control-plane entry of a producer URN (svc://checkout), e.g. killed=true.
func (s *Server) SetControl(producer string, enabled, killed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.control[producer] = map[string]any{"enabled": enabled, "killed": killed}
}

// SetEnvironmentFlag sets a producer's rollout flag in one environment, as a ring's promotion does: a control request
// naming its env (?env=prod) is then enabled only where that producer's flag is on (an unlisted environment is off),
// like the rca service. Requests without env keep getting the producer switch of SetControl.
func (s *Server) SetEnvironmentFlag(producer, env string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.flags[producer] == nil {
		s.flags[producer] = map[string]bool{}
	}
	s.flags[producer][env] = on
}

// ControlEnvs is the env query parameter of each GET /v1/control/... request, in order ("" when it had none).
func (s *Server) ControlEnvs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.envs...)
}

// RejectID makes the fake reject the event with this id in its per-item results.
func (s *Server) RejectID(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejectIDs[id] = true
}

// Events are every event of the batches the fake accepted, in order (a retry after a lost answer included).
func (s *Server) Events() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, batch := range s.batches {
		out = append(out, batch...)
	}
	return out
}

// Batches are the batches the fake accepted (answered 200).
func (s *Server) Batches() [][]map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]map[string]any(nil), s.batches...)
}

// Headers are the request headers of each accepted batch, in order.
func (s *Server) Headers() []http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]http.Header(nil), s.headers...)
}

// ControlRequests counts GET /v1/control/... requests, answered or not.
func (s *Server) ControlRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.controls
}

// Attempts are the batches of every POST /v1/events, answered or not (retries, failures included).
func (s *Server) Attempts() [][]map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]map[string]any(nil), s.attempts...)
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	mode, sleep := s.mode, s.sleepFor
	if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/control/") {
		s.controls++
		s.envs = append(s.envs, r.URL.Query().Get("env"))
	}
	if r.Method == http.MethodPost {
		var attempt []map[string]any
		_ = json.Unmarshal(body, &attempt)
		s.attempts = append(s.attempts, attempt)
	}
	s.mu.Unlock()
	switch mode {
	case Reset:
		if hijacker, ok := w.(http.Hijacker); ok {
			if conn, _, err := hijacker.Hijack(); err == nil {
				if tcp, ok := conn.(*net.TCPConn); ok {
					_ = tcp.SetLinger(0) // RST rather than FIN
				}
				conn.Close()
				return
			}
		}
	case Sleep:
		select {
		case <-time.After(sleep):
		case <-r.Context().Done():
			return
		}
	case Fail:
		reply(w, http.StatusInternalServerError, map[string]any{"detail": "boom"})
		return
	case Deny:
		reply(w, http.StatusUnauthorized, map[string]any{"detail": "bad token"})
		return
	}
	switch {
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.EscapedPath(), "/v1/control/"):
		producer, _ := url.PathUnescape(strings.TrimPrefix(r.URL.EscapedPath(), "/v1/control/"))
		s.mu.Lock()
		entry, ok := s.control[producer]
		flags, env := s.flags[producer], r.URL.Query().Get("env")
		s.mu.Unlock()
		if !ok {
			reply(w, http.StatusNotFound, map[string]any{"detail": "no entry"})
			return
		}
		enabled, _ := entry["enabled"].(bool)
		if env != "" && len(flags) > 0 {
			enabled = enabled && flags[env]
		}
		reply(w, http.StatusOK, map[string]any{"producer": producer, "domain": nil, "ring": 0,
			"enabled": enabled, "killed": entry["killed"]})
	case r.Method == http.MethodPost && r.URL.Path == "/v1/events":
		var batch []map[string]any
		if err := json.Unmarshal(body, &batch); err != nil {
			reply(w, http.StatusBadRequest, map[string]any{"error": "invalid_json", "message": err.Error()})
			return
		}
		counts := map[string]int{"accepted": 0, "duplicate": 0, "rejected": 0}
		var results []map[string]any
		s.mu.Lock()
		s.batches = append(s.batches, batch)
		s.headers = append(s.headers, r.Header.Clone())
		for _, event := range batch {
			id, _ := event["id"].(string)
			source, _ := event["source"].(string)
			key := source + "\x00" + id
			status := "accepted"
			switch {
			case s.rejectIDs[id]:
				status = "rejected"
			case s.seen[key]:
				status = "duplicate"
			default:
				s.seen[key] = true
			}
			counts[status]++
			result := map[string]any{"id": id, "source": source, "status": status}
			if status == "rejected" {
				result["error"], result["field"] = "data.version is required", "data.version"
			}
			results = append(results, result)
		}
		s.mu.Unlock()
		reply(w, http.StatusOK, map[string]any{"accepted": counts["accepted"], "duplicate": counts["duplicate"],
			"rejected": counts["rejected"], "results": results})
	default:
		reply(w, http.StatusNotFound, map[string]any{"detail": "not found"})
	}
}

func reply(w http.ResponseWriter, status int, payload any) {
	body, _ := json.Marshal(payload)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// ClosedURL is an http:// address on which nothing listens: connecting is refused at once.
func ClosedURL() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "http://127.0.0.1:9"
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// NewClient is an enabled client sending to a fresh fake (both closed when the test ends), with the
// environment ignored, no startup event and a quiet log; opts add to or override that.
func NewClient(tb testing.TB, opts ...autopilot.Opt) (*autopilot.Client, *Server) {
	tb.Helper()
	srv := NewServer()
	tb.Cleanup(srv.Close)
	base := []autopilot.Opt{
		autopilot.Environment(func(string) (string, bool) { return "", false }),
		autopilot.Enabled(true), autopilot.Endpoint(srv.URL), autopilot.StartupEvent(false),
		autopilot.Logger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	}
	ap := autopilot.New(append(base, opts...)...)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		_ = ap.Shutdown(ctx)
	})
	return ap, srv
}
