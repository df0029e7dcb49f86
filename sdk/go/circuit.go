package autopilot

import (
	"sync"
	"time"
)

// CircuitState is closed (sending), open (dropping due batches without encoding them), or half_open
// (the next batch is the single probe).
type CircuitState string

const (
	CircuitClosed   CircuitState = "closed"
	CircuitOpened   CircuitState = "open"
	CircuitHalfOpen CircuitState = "half_open"
)

// circuit stops knocking on a door that stays shut (sdk/spec/CONTRACT.md, section 6):
// closed -(failures in a row)-> open -(reset)-> half_open; a probe that succeeds closes it, one that
// fails opens it again for twice as long, capped at 8 x reset. The worker drives it; Stats reads it.
type circuit struct {
	mu        sync.Mutex
	threshold int
	reset     time.Duration
	failures  int
	openedAt  time.Time
	openFor   time.Duration
	state     CircuitState
	now       func() time.Time
}

func newCircuit(threshold int, reset time.Duration, now func() time.Time) *circuit {
	return &circuit{threshold: threshold, reset: reset, openFor: reset, state: CircuitClosed, now: now}
}

func (c *circuit) current() CircuitState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.currentLocked()
}

func (c *circuit) currentLocked() CircuitState {
	if c.state == CircuitOpened && c.now().Sub(c.openedAt) >= c.openFor {
		c.state = CircuitHalfOpen
	}
	return c.state
}

func (c *circuit) allow() bool { return c.current() != CircuitOpened }

func (c *circuit) success() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failures, c.openFor, c.state = 0, c.reset, CircuitClosed
}

func (c *circuit) failure() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.currentLocked() == CircuitHalfOpen {
		c.openFor = min(c.openFor*2, c.reset*8)
		c.trip()
		return
	}
	c.failures++
	if c.failures >= c.threshold {
		c.trip()
	}
}

func (c *circuit) trip() {
	c.state, c.openedAt, c.failures = CircuitOpened, c.now(), 0
}
