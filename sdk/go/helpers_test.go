package autopilot_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	autopilot "autopilot-go"
	"autopilot-go/autopilottest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// noEnv keeps the machine's AUTOPILOT_* out of a test.
func noEnv(string) (string, bool) { return "", false }

// fast is a client with every wait short, so a dead backend costs milliseconds (as the Python suite's FAST).
func fast(t *testing.T, endpoint string, opts ...autopilot.Opt) *autopilot.Client {
	t.Helper()
	base := []autopilot.Opt{
		autopilot.Environment(noEnv), autopilot.Logger(quiet),
		autopilot.Enabled(true), autopilot.Endpoint(endpoint),
		autopilot.Service("checkout-service"), autopilot.Env("test"),
		autopilot.Timeouts(200*time.Millisecond, 300*time.Millisecond),
		autopilot.FlushInterval(50 * time.Millisecond),
		autopilot.Retries(2, 10*time.Millisecond, 50*time.Millisecond),
		autopilot.Circuit(3, 500*time.Millisecond),
		autopilot.ControlPollInterval(200 * time.Millisecond),
		autopilot.ShutdownTimeout(500 * time.Millisecond),
		autopilot.StartupEvent(false),
	}
	c := autopilot.New(append(base, opts...)...)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_ = c.Shutdown(ctx)
	})
	return c
}

// patient is for tests that count deliveries to a healthy fake: under -race on a loaded machine a batch of
// hundreds of events can take longer than fast's 300 ms, and a timeout there would be a false failure.
var patient = []autopilot.Opt{autopilot.Timeouts(2*time.Second, 10*time.Second), autopilot.Circuit(1000, time.Second),
	autopilot.Retries(5, 10*time.Millisecond, 50*time.Millisecond)}

func server(t *testing.T) *autopilottest.Server {
	t.Helper()
	s := autopilottest.NewServer()
	t.Cleanup(s.Close)
	return s
}

func flush(t *testing.T, c *autopilot.Client, within time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	if err := c.Flush(ctx); err != nil {
		t.Fatalf("flush did not finish within %s: %v", within, err)
	}
}

func run(id string) autopilot.Event {
	return autopilot.Event{Type: autopilot.JobRunStarted, Data: map[string]any{"run_id": id}}
}

func eventually(t *testing.T, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// logRecorder is a slog.Handler that keeps every record, to count the SDK's log lines.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, r)
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

func (l *logRecorder) at(level slog.Level) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.records {
		if r.Level >= level {
			out = append(out, r.Message)
		}
	}
	return out
}

// expired is a context already past its deadline: Shutdown with it stops at once.
func expired() context.Context {
	ctx, cancel := context.WithDeadline(context.Background(), time.Now())
	cancel()
	return ctx
}
