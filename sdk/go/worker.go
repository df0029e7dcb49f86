package autopilot

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// worker is the client's one goroutine. Everything slow (building envelopes, JSON, HTTP, sleeping
// between retries) happens here, never in Emit. Every event taken from the queue ends in exactly one
// place: delivered, or one drop reason.
type worker struct {
	c        *Client
	s        Settings
	http     *http.Client
	ownsHTTP bool // the SDK made http, so it closes its idle connections at the end
	circuit  *circuit
	control  *controlPlane
	sending  bool
	flushReq chan chan struct{}
	stopping chan struct{}
	exited   chan struct{}
	deadline atomic.Int64 // unix nanoseconds; set by Shutdown
	ctx      context.Context
	cancel   context.CancelFunc // cuts an in-flight request at the shutdown deadline
	batch    []taken            // reused from batch to batch
	spare    [][]field          // emptied field slices, handed back to the queue's slots
	fresh    []taken            // the batch's events young enough to send
	// nextHealth is when the next SdkHealth event is due (health.go); zero when HealthInterval is 0.
	nextHealth time.Time
}

func newWorker(c *Client, httpClient *http.Client, ownsHTTP bool) *worker {
	ctx, cancel := context.WithCancel(context.Background())
	w := &worker{c: c, s: c.settings, http: httpClient, ownsHTTP: ownsHTTP, sending: true, flushReq: make(chan chan struct{}),
		stopping: make(chan struct{}), exited: make(chan struct{}), ctx: ctx, cancel: cancel,
		circuit: newCircuit(c.settings.CircuitFailures, c.settings.CircuitReset, time.Now)}
	if c.settings.Producer != "" {
		w.control = &controlPlane{client: httpClient, url: ControlURL(c.settings.Endpoint, c.settings.Producer, c.settings.Env),
			token: c.settings.Token, interval: c.settings.ControlPollInterval, timeout: c.settings.Timeout,
			now: time.Now, problems: c.problems, state: defaultControl()} // next is zero: ask before the first batch
	}
	return w
}

func (w *worker) run() {
	defer close(w.exited)
	if w.ownsHTTP {
		defer w.http.CloseIdleConnections()
	}
	defer func() {
		if r := recover(); r != nil { // the goroutine must end quietly whatever happens; the host goes on
			w.c.logger.Warn("autopilot: worker stopped after an unexpected error", "panic", r)
			w.c.accepting.Store(false)
		}
	}()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	nextFlush := time.Now().Add(w.s.FlushInterval)
	if w.s.HealthInterval > 0 {
		w.nextHealth = time.Now().Add(w.s.HealthInterval)
	}
	for {
		w.pollControl()
		var flushes []chan struct{}
		stopping := w.isStopping()
		if !stopping && w.c.queue.len() < w.s.BatchSize {
			wait := time.Until(nextFlush)
			if w.control != nil {
				wait = min(wait, w.control.due())
			}
			if !w.nextHealth.IsZero() {
				wait = min(wait, time.Until(w.nextHealth))
			}
			if wait > 0 {
				resetTimer(timer, wait)
				select {
				case <-w.c.wake:
				case <-timer.C:
				case done := <-w.flushReq:
					flushes = append(flushes, done)
				case <-w.stopping:
				}
				stopping = w.isStopping()
			}
		}
		for more := true; more; { // flush requests that came in while this goroutine was busy
			select {
			case done := <-w.flushReq:
				flushes = append(flushes, done)
			default:
				more = false
			}
		}
		now := time.Now()
		if !w.nextHealth.IsZero() && !now.Before(w.nextHealth) && !stopping {
			w.health(now)
			nextFlush = now // the health event goes out in this pass
		}
		// A timer flush sends what was queued when it fired, not what arrives while it sends: under a
		// steady emitter that would turn one flush into a stream of tiny batches, each a full HTTP
		// exchange. Flush and Shutdown drain what was queued when they came (CONTRACT.md, section 4).
		budget := 0
		if !now.Before(nextFlush) {
			budget = w.c.queue.len()
			nextFlush = now.Add(w.s.FlushInterval)
		}
		if len(flushes) > 0 || stopping {
			budget = w.c.queue.len()
		}
		for {
			pending := w.c.queue.len()
			if pending == 0 || (pending < w.s.BatchSize && budget <= 0) {
				break
			}
			batch := w.c.queue.take(w.batch[:0], min(pending, w.s.BatchSize), &w.spare)
			if len(batch) == 0 {
				break // an Emit is still filling the oldest slot; its event goes with the next batch
			}
			budget -= len(batch)
			w.process(batch, stopping)
			w.recycle(batch)
			w.pollControl()
			stopping = stopping || w.isStopping()
		}
		for _, done := range flushes {
			close(done)
		}
		if stopping {
			w.dropRest()
			return
		}
	}
}

func resetTimer(t *time.Timer, d time.Duration) {
	if !t.Stop() {
		select {
		case <-t.C:
		default:
		}
	}
	t.Reset(d)
}

// recycle empties the batch's field slices for the queue's slots to reuse, and keeps the batch slice.
func (w *worker) recycle(batch []taken) {
	for i := range batch {
		if f := batch[i].fields; f != nil {
			clear(f) // drop the references to the host's values
			w.spare = append(w.spare, f[:0])
		}
		batch[i] = taken{}
	}
	w.batch = batch[:0]
}

// dropRest counts as timeout what is still queued when the worker stops (emits racing Shutdown).
func (w *worker) dropRest() {
	for {
		batch := w.c.queue.take(w.batch[:0], w.s.BatchSize, &w.spare)
		if len(batch) == 0 {
			return
		}
		w.c.counters.drop(Timeout, len(batch))
		w.recycle(batch)
	}
}

func (w *worker) isStopping() bool {
	select {
	case <-w.stopping:
		return true
	default:
		return false
	}
}

func (w *worker) pastDeadline() bool {
	return w.isStopping() && time.Now().UnixNano() >= w.deadline.Load()
}

func (w *worker) pollControl() {
	if w.control == nil || w.isStopping() {
		return // while shutting down the last known state holds: no new request may outlive the deadline
	}
	previous := w.control.state
	state := w.control.pollIfDue(w.ctx)
	if state == previous || (state.Sending() == previous.Sending() && state.Source == previous.Source &&
		state.Domain == previous.Domain && sameRing(state.Ring, previous.Ring)) {
		return
	}
	if state.Sending() != w.sending {
		w.sending = state.Sending()
		verb := "stopped"
		if w.sending {
			verb = "resumed"
		}
		w.c.logger.Warn("autopilot: the control plane "+verb+" this producer.",
			"enabled", state.Enabled, "killed", state.Killed)
	}
	w.c.onControl(state)
}

func sameRing(a, b *int) bool { return a == b || (a != nil && b != nil && *a == *b) }

func (w *worker) process(batch []taken, stopping bool) {
	now := time.Now()
	fresh := w.fresh[:0]
	defer func() { w.fresh = fresh[:0] }()
	for i := range batch {
		switch it := &batch[i]; {
		case it.void:
			w.c.counters.drop(Rejected, 1)
		case now.Sub(it.at) > w.s.MaxAge:
			w.c.counters.drop(Timeout, 1)
		default:
			fresh = append(fresh, *it)
		}
	}
	switch {
	case len(fresh) == 0:
		return
	case !w.sending:
		w.c.counters.drop(Killed, len(fresh))
		return
	case stopping && w.pastDeadline():
		w.c.counters.drop(Timeout, len(fresh))
		return
	case !w.circuit.allow(): // before encoding: an open circuit must cost next to nothing
		w.c.counters.drop(CircuitOpen, len(fresh))
		return
	}
	// The envelopes are written straight into the batch's body: no map, no Envelope per event.
	var body bytes.Buffer
	body.Grow(len(fresh) * 400)
	body.WriteByte('[')
	count := 0
	for i := range fresh {
		it := &fresh[i]
		e := &it.event
		source := e.Source
		if source == "" {
			source = w.s.Producer
		}
		if why := problem(e.Type, source, fieldLookup(it.fields)); why != "" {
			w.reject(string(e.Type), why)
			continue
		}
		when := e.Time
		if when.IsZero() {
			when = it.at.Round(0).UTC() // without the monotonic reading, in UTC: written with "Z"
		}
		id := e.ID
		if id == "" {
			id = NewEventID() // once: a retry resends these bytes, so the same ids
		}
		var trace *TraceContext
		if it.hasTrace {
			trace = &it.trace
		}
		mark := body.Len()
		if count > 0 {
			body.WriteByte(',')
		}
		if err := appendEvent(&body, id, e.Type, source, when, it.fields, e.Subject, e.Traceparent, trace, e.Extensions); err != nil {
			body.Truncate(mark)
			w.reject(string(e.Type), "it could not be encoded as JSON ("+err.Error()+")")
			continue
		}
		count++
	}
	body.WriteByte(']')
	if count > 0 {
		w.send(body.Bytes(), count, fresh[0].at, stopping)
	}
}

// fieldLookup finds a data field by name, for the required-field check.
func fieldLookup(fields []field) func(string) any {
	return func(key string) any {
		for _, f := range fields {
			if f.key == key {
				return f.value
			}
		}
		return nil
	}
}

func (w *worker) reject(eventType, why string) {
	w.c.counters.drop(Rejected, 1)
	w.c.problems.report("invalid", "autopilot: dropped a %s event: %s.", eventType, why)
}

func (w *worker) send(body []byte, count int, oldest time.Time, stopping bool) {
	for attempt := 0; ; {
		if !w.circuit.allow() {
			w.c.counters.drop(CircuitOpen, count)
			return
		}
		timeout := w.s.Timeout
		if stopping {
			remaining := time.Until(time.Unix(0, w.deadline.Load()))
			if remaining <= 0 {
				w.c.counters.drop(Timeout, count)
				return
			}
			timeout = min(timeout, remaining)
		}
		var extra http.Header
		if w.s.ExportDrops {
			extra = http.Header{dropsHeader: {w.c.counters.snapshot().header()}}
		}
		result := submit(w.ctx, w.http, w.s.Endpoint, w.s.Token, body, count, timeout, extra)
		switch result.outcome {
		case delivered:
			w.circuit.success()
			w.c.counters.delivered.Add(uint64(result.delivered))
			w.c.problems.clear("submit", "autopilot: delivering events again.")
			if result.rejected > 0 {
				w.c.counters.drop(Rejected, result.rejected)
				w.c.problems.report("rejected-items", "autopilot: the service rejected %d event(s): %s",
					result.rejected, strings.Join(result.rejections[:min(3, len(result.rejections))], "; "))
			}
			return
		case refused:
			w.circuit.success() // the service is up; resending will not change its mind
			w.c.counters.drop(Rejected, count)
			w.c.problems.report("refused", "autopilot: the service refused a batch of %d event(s) (%s); check "+
				"AUTOPILOT_ENDPOINT and AUTOPILOT_TOKEN.", count, result.detail)
			return
		}
		w.circuit.failure()
		w.c.problems.report("submit", "autopilot: cannot deliver events (%s); will retry.", result.detail)
		attempt++
		delay := w.backoff(attempt, result.retryAfter)
		if attempt > w.s.MaxRetries || stopping || time.Since(oldest)+delay > w.s.MaxAge {
			w.c.counters.drop(Timeout, count)
			return
		}
		if w.sleep(delay) {
			stopping = true // Shutdown cut the backoff short: one last try within its deadline
		}
		w.pollControl()
		if !w.sending {
			w.c.counters.drop(Killed, count)
			return
		}
	}
}

// backoff is exponential with full jitter, so a fleet that failed together does not retry together
// (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/); at least Retry-After,
// capped at BackoffMax.
func (w *worker) backoff(attempt int, retryAfter time.Duration) time.Duration {
	ceiling := min(w.s.BackoffMax, w.s.BackoffBase<<min(attempt-1, 30))
	if ceiling < 0 { // overflow
		ceiling = w.s.BackoffMax
	}
	var delay time.Duration
	if ceiling > 0 {
		delay = time.Duration(rand.Int64N(int64(ceiling) + 1))
	}
	return max(delay, min(retryAfter, w.s.BackoffMax))
}

// sleep waits d, or less when Shutdown comes; it reports whether Shutdown came.
func (w *worker) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return false
	case <-w.stopping:
		return true
	}
}

func (w *worker) flush(ctx context.Context) error {
	done := make(chan struct{})
	select {
	case w.flushReq <- done:
	case <-w.exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-w.exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *worker) stop(deadline time.Time) {
	w.deadline.Store(deadline.UnixNano())
	close(w.stopping)
	// An in-flight request is cut at the deadline; nothing may outlive it.
	time.AfterFunc(time.Until(deadline), w.cancel)
}

// wait gives the worker until the shutdown deadline (and 50 ms for the attempt cut there to report back)
// to finish. A context without a deadline may still be cancelled early.
func (w *worker) wait(ctx context.Context) error {
	deadline := time.Unix(0, w.deadline.Load()).Add(50 * time.Millisecond)
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	var cancelled <-chan struct{}
	if _, ok := ctx.Deadline(); !ok {
		cancelled = ctx.Done()
	}
	select {
	case <-w.exited:
		return nil
	case <-cancelled:
		return ctx.Err()
	case <-t.C:
		return context.DeadlineExceeded
	}
}
