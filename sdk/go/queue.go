package autopilot

import (
	"sync/atomic"
	"time"
)

// queue is the bounded buffer between Emit (any goroutine, must not wait) and the one worker: a
// fixed ring of slots with a sequence number each (Dmitry Vyukov's bounded MPMC queue, used here with
// one consumer). Emit claims a slot with one compare-and-swap and copies the event into it; the copy
// of Data goes into the slot's own field slice, reused from event to event, so a steady Emit does not
// allocate. The worker takes a slot by swapping that slice for an empty one of its own. Nobody waits
// on a lock: a full ring is a queue_full drop.
type queue struct {
	slots []slot
	size  uint64
	tail  atomic.Uint64 // next position to claim (producers)
	head  atomic.Uint64 // next position to take (the worker; atomic only for len)
}

type slot struct {
	seq      atomic.Uint64 // == position: free for it; == position+1: published; position+size: taken
	at       time.Time
	event    Event // Data is nil here: its entries are in fields
	fields   []field
	trace    TraceContext
	hasTrace bool
	void     bool // claimed by an Emit that failed half way: skipped (counted as rejected)
}

type field struct {
	key   string
	value any
}

func newQueue(size int) *queue {
	q := &queue{slots: make([]slot, size), size: uint64(size)}
	for i := range q.slots {
		q.slots[i].seq.Store(uint64(i))
	}
	return q
}

// claim reserves the next slot for one event, or reports the ring full. The caller fills the slot and
// then calls publish(pos), whatever happens.
func (q *queue) claim() (s *slot, pos uint64, ok bool) {
	pos = q.tail.Load()
	for {
		s = &q.slots[pos%q.size]
		seq := s.seq.Load()
		switch diff := int64(seq - pos); {
		case diff == 0:
			if q.tail.CompareAndSwap(pos, pos+1) {
				return s, pos, true
			}
			pos = q.tail.Load()
		case diff < 0: // the slot still holds an event from one lap ago: full
			return nil, 0, false
		default: // another Emit took this position first
			pos = q.tail.Load()
		}
	}
}

func (q *queue) publish(s *slot, pos uint64) { s.seq.Store(pos + 1) }

func (q *queue) len() int {
	n := int64(q.tail.Load() - q.head.Load())
	return int(max(0, min(n, int64(q.size))))
}

// take moves up to n published events into dst (worker only). Each taken slot gets an empty field
// slice from spare in exchange for its filled one. A slot claimed but not yet published (an Emit
// between its claim and its publish, nanoseconds) ends the take; its event waits for the next one.
func (q *queue) take(dst []taken, n int, spare *[][]field) []taken {
	head := q.head.Load()
	for i := 0; i < n; i++ {
		s := &q.slots[head%q.size]
		if s.seq.Load() != head+1 {
			break // empty, or an Emit is filling this slot right now: its event goes with the next take
		}
		var empty []field
		if k := len(*spare); k > 0 {
			empty, *spare = (*spare)[k-1], (*spare)[:k-1]
		}
		dst = append(dst, taken{at: s.at, event: s.event, fields: s.fields, trace: s.trace, hasTrace: s.hasTrace,
			void: s.void})
		s.fields, s.event, s.void = empty, Event{}, false
		s.seq.Store(head + q.size)
		head++
		q.head.Store(head)
	}
	return dst
}

// taken is one event the worker took from the queue.
type taken struct {
	at       time.Time
	event    Event
	fields   []field
	trace    TraceContext
	hasTrace bool
	void     bool
}
