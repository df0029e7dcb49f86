package autopilot

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"
)

// Client sends one producer's evidence to the rca service. Create it with New; a disabled Client (the
// default) has no goroutine, no queue and no socket, and its Emit is one atomic load. A nil *Client is
// a disabled one. All methods are safe for concurrent use.
type Client struct {
	settings  Settings
	logger    *slog.Logger
	accepting atomic.Bool // the only thing Emit reads when off: disabled, killed, or shut down
	killed    atomic.Bool
	closed    atomic.Bool
	clock     func() time.Time // event times, when not time.Now

	// Set only when enabled.
	queue    *queue
	wake     chan struct{}
	counters *counters
	problems *problems
	worker   *worker
	control  atomic.Pointer[ControlState]
	identity identityHeaders
	shutdown sync.Once
	instance string // names this client in its SdkHealth events: counters are per client
}

// New makes a client from AUTOPILOT_* in the environment and the options (which win). It returns a
// usable client whatever the settings: a value that will not parse is logged and replaced by its
// default, and enabled without an endpoint stays disabled (logged once).
func New(opts ...Opt) *Client {
	cfg := config{}
	for _, opt := range opts {
		opt(&cfg)
	}
	if cfg.logger == nil {
		cfg.logger = defaultLogger()
	}
	cfg.settings = loadSettings(cfg.lookup, cfg.logger)
	for _, edit := range cfg.edits {
		edit(&cfg.settings)
	}
	s := cfg.settings
	s.check(cfg.logger)
	c := &Client{settings: s, logger: cfg.logger, clock: cfg.now}
	if s.Enabled && s.Endpoint == "" {
		cfg.logger.Warn("autopilot: AUTOPILOT_ENABLED is true but AUTOPILOT_ENDPOINT is not set; staying off.")
	}
	if !c.Active() {
		return c
	}
	httpClient, owned := cfg.httpClient, false
	if httpClient == nil {
		httpClient, owned = newHTTPClient(s.ConnectTimeout), true
	}
	c.queue = newQueue(s.QueueSize)
	c.wake = make(chan struct{}, 1)
	c.counters = &counters{}
	c.problems = newProblems(cfg.logger)
	initial := defaultControl()
	c.control.Store(&initial)
	c.identity = newIdentity(s)
	c.instance = NewEventID()[:16]
	c.worker = newWorker(c, httpClient, owned)
	c.accepting.Store(true)
	cfg.logger.Info(fmt.Sprintf("autopilot: sending evidence as %s to %s.", s.Producer, s.Endpoint))
	go c.worker.run()
	c.sendStartupEvent()
	return c
}

// Active reports whether the client is enabled with an endpoint (it may still be killed or shut down).
func (c *Client) Active() bool { return c != nil && c.settings.Enabled && c.settings.Endpoint != "" }

// Settings is what the client runs with.
func (c *Client) Settings() Settings {
	if c == nil {
		return DefaultSettings()
	}
	return c.settings
}

// Emit queues one event and reports whether it was queued. It never blocks, never panics and returns
// no error to handle: an event that cannot be taken (off, killed, queue full, unknown type) is dropped
// and counted. ctx is read only for the trace in use (see Middleware, ContextWithTrace).
func (c *Client) Emit(ctx context.Context, e Event) (queued bool) {
	if c == nil || !c.accepting.Load() {
		if c != nil && c.killed.Load() {
			c.counters.drop(Killed, 1)
		}
		return false
	}
	var claimed *slot
	var pos uint64
	defer func() {
		if r := recover(); r != nil {
			if claimed != nil { // the slot must still be handed on, or the worker would wait for it forever
				claimed.void = true
				c.queue.publish(claimed, pos)
			} else {
				c.counters.drop(Rejected, 1)
			}
			c.problems.report("emit", "autopilot: Emit dropped an event it could not take: %v", r)
			queued = false
		}
	}()
	if !e.Type.Valid() {
		c.counters.drop(Rejected, 1)
		c.problems.report("type", "autopilot: %q is not an envelope v1 type; dropped.", string(e.Type))
		return false
	}
	// Capture only what must be taken now (CONTRACT.md, section 3): the instant, a shallow copy of the
	// data, the attributes and the trace in use. The envelope (id, time text, JSON) is the worker's job.
	s, p, ok := c.queue.claim()
	if !ok {
		c.counters.drop(QueueFull, 1)
		return false
	}
	claimed, pos = s, p
	s.at = time.Now()
	s.event = e
	s.event.Data = nil
	if e.Data != nil {
		fields := s.fields[:0]
		if fields == nil {
			fields = make([]field, 0, len(e.Data))
		}
		for key, value := range e.Data {
			fields = append(fields, field{key, value})
		}
		s.fields = fields
	}
	if e.Extensions != nil {
		s.event.Extensions = maps.Clone(e.Extensions)
	}
	if c.clock != nil && e.Time.IsZero() {
		s.event.Time = c.clock()
	}
	s.trace, s.hasTrace = TraceContext{}, false
	if e.Traceparent == "" {
		s.trace, s.hasTrace = TraceFromContext(ctx)
	}
	c.queue.publish(s, p)
	claimed = nil
	if c.queue.len() >= c.settings.BatchSize {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// Flush waits until everything queued so far is delivered or dropped. It returns ctx's error when ctx
// ends first (the events stay queued and go on being sent).
func (c *Client) Flush(ctx context.Context) error {
	if !c.Active() {
		return nil
	}
	return c.worker.flush(ctx)
}

// Shutdown stops accepting events, makes one last attempt per queued batch (no backoff, every request
// clipped to the deadline), counts what is left as timeout and stops the worker. The deadline is
// ctx's, or ShutdownTimeout from now when ctx has none. Later Emits are no-ops. Idempotent. Go has no
// exit hook: call it (or defer it) in main, or queued events are lost at exit.
func (c *Client) Shutdown(ctx context.Context) error {
	if !c.Active() {
		return nil
	}
	c.shutdown.Do(func() {
		c.closed.Store(true)
		c.accepting.Store(false)
		deadline, ok := ctx.Deadline()
		if !ok {
			deadline = time.Now().Add(c.settings.ShutdownTimeout)
		}
		c.worker.stop(deadline)
	})
	return c.worker.wait(ctx)
}

// Dropped is the count of events given up on, by reason.
func (c *Client) Dropped() Drops {
	if !c.Active() {
		return Drops{}
	}
	return c.counters.snapshot()
}

// Stats is a snapshot for dashboards and debugging.
type Stats struct {
	Enabled   bool
	Producer  string
	Delivered uint64
	Queued    int
	Dropped   Drops
	Circuit   CircuitState
	Control   ControlState
}

// Stats is cheap and safe from any goroutine.
func (c *Client) Stats() Stats {
	if !c.Active() {
		producer := ""
		if c != nil {
			producer = c.settings.Producer
		}
		return Stats{Producer: producer, Circuit: CircuitClosed, Control: defaultControl()}
	}
	return Stats{Enabled: true, Producer: c.settings.Producer, Delivered: c.counters.delivered.Load(),
		Queued: c.queue.len(), Dropped: c.counters.snapshot(), Circuit: c.worker.circuit.current(),
		Control: *c.control.Load()}
}

func (c *Client) onControl(state ControlState) {
	c.control.Store(&state)
	c.killed.Store(!state.Sending())
	c.accepting.Store(state.Sending() && !c.closed.Load())
	if c.closed.Load() { // Shutdown came between the two loads: a revival must not reopen a closed client
		c.accepting.Store(false)
	}
}

var startupSent atomic.Bool // once per process, whichever client sends it (CONTRACT.md, section 11)

func (c *Client) sendStartupEvent() {
	s := c.settings
	if !s.StartupEvent || s.Service == "" || len(s.Producer) < 6 || s.Producer[:6] != "svc://" {
		return
	}
	if !startupSent.CompareAndSwap(false, true) {
		return
	}
	c.Emit(context.Background(), Event{Type: DeploymentEvent, Data: StartupDeployment(s)})
}
