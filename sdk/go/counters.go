package autopilot

import (
	"fmt"
	"sync/atomic"
)

// DropReason says why an event handed to Emit was given up on (sdk/spec/CONTRACT.md, section 7).
type DropReason int

const (
	QueueFull   DropReason = iota // Emit found the queue at capacity
	Timeout                       // retries exhausted, older than MaxAge, or undelivered at the shutdown deadline
	CircuitOpen                   // its batch came due while the circuit was open
	Killed                        // the control plane killed or disabled the producer
	Rejected                      // a 4xx, an item rejected in a 200, an unknown type, a missing field, unencodable
	numReasons
)

var reasonKeys = [numReasons]string{"queue_full", "timeout", "circuit_open", "killed", "rejected"}

// String is the reason's counter key: queue_full, timeout, circuit_open, killed, rejected.
func (r DropReason) String() string {
	if r < 0 || r >= numReasons {
		return fmt.Sprintf("DropReason(%d)", int(r))
	}
	return reasonKeys[r]
}

// Drops counts dropped events by reason.
type Drops struct {
	QueueFull, Timeout, CircuitOpen, Killed, Rejected uint64
}

// Map is the counters by key, all five keys present (zeros included).
func (d Drops) Map() map[string]uint64 {
	return map[string]uint64{"queue_full": d.QueueFull, "timeout": d.Timeout, "circuit_open": d.CircuitOpen,
		"killed": d.Killed, "rejected": d.Rejected}
}

// Total is the sum over all reasons.
func (d Drops) Total() uint64 { return d.QueueFull + d.Timeout + d.CircuitOpen + d.Killed + d.Rejected }

// header is the Autopilot-Signals-Dropped value: queue_full=0,timeout=2,circuit_open=0,killed=0,rejected=0.
func (d Drops) header() string {
	return fmt.Sprintf("queue_full=%d,timeout=%d,circuit_open=%d,killed=%d,rejected=%d",
		d.QueueFull, d.Timeout, d.CircuitOpen, d.Killed, d.Rejected)
}

type counters struct {
	dropped   [numReasons]atomic.Uint64
	delivered atomic.Uint64
}

func (c *counters) drop(reason DropReason, n int) {
	if n > 0 {
		c.dropped[reason].Add(uint64(n))
	}
}

func (c *counters) snapshot() Drops {
	return Drops{
		QueueFull: c.dropped[QueueFull].Load(), Timeout: c.dropped[Timeout].Load(),
		CircuitOpen: c.dropped[CircuitOpen].Load(), Killed: c.dropped[Killed].Load(),
		Rejected: c.dropped[Rejected].Load(),
	}
}
