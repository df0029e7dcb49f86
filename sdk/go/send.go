package autopilot

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// ErrRejected is what a Send error wraps when the service answered and refused the events: a 4xx, or
// an item rejected in a 2xx. Resending the same events will not change its mind.
var ErrRejected = errors.New("rejected by the rca service")

// ErrUndelivered is what a Send error wraps when no attempt got through before the context ended:
// the service was down, answered 5xx, or did not answer in time.
var ErrUndelivered = errors.New("not delivered to the rca service")

// Send delivers events now, in one POST, retrying retryable failures (no answer, 408, 429, 5xx) with
// full-jitter backoff until ctx ends. It is for CI steps and short jobs that must know the outcome
// (`autopilot-go deploy-event`); services use Client.Emit, which never waits. httpClient may be nil.
func Send(ctx context.Context, httpClient *http.Client, endpoint, token string, events ...Envelope) error {
	if httpClient == nil {
		httpClient = newHTTPClient(2 * time.Second)
		defer httpClient.CloseIdleConnections()
	}
	for _, e := range events {
		if why := e.Problem(); why != "" {
			return fmt.Errorf("%w: event %s: %s", ErrRejected, e.ID, why)
		}
	}
	body, bad := EncodeBatch(events)
	if len(bad) > 0 {
		return fmt.Errorf("%w: event %s: its data could not be encoded as JSON", ErrRejected, events[bad[0]].ID)
	}
	endpoint = strings.TrimRight(endpoint, "/")
	detail := "no attempt made"
	for attempt := 1; ; attempt++ {
		timeout := 10 * time.Second
		if deadline, ok := ctx.Deadline(); ok {
			timeout = min(timeout, time.Until(deadline))
		}
		if timeout <= 0 || ctx.Err() != nil {
			break
		}
		result := submit(ctx, httpClient, endpoint, token, body, len(events), timeout, nil)
		switch {
		case result.outcome == delivered && result.rejected == 0:
			return nil
		case result.outcome == delivered:
			return fmt.Errorf("%w: %s", ErrRejected, strings.Join(result.rejections, "; "))
		case result.outcome == refused:
			return fmt.Errorf("%w: %s", ErrRejected, result.detail)
		}
		detail = result.detail
		pause := max(result.retryAfter, time.Duration(rand.Int64N(int64(min(4*time.Second, 500*time.Millisecond<<min(attempt, 10))))))
		t := time.NewTimer(pause)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	return fmt.Errorf("%w (%s)", ErrUndelivered, detail)
}
