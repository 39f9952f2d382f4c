// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package join // import "github.com/prodscope/prodscope/processor/logtracejoin/internal/join"

import (
	"sync"
	"time"
)

// Outcome says why a held log left the waiting queue.
type Outcome uint8

const (
	// Matched: its span arrived; Context is set.
	Matched Outcome = iota
	// Expired: it waited the full wait time.
	Expired
	// Overflow: it was the oldest when max_waiting_logs was reached.
	Overflow
	// Shutdown: the processor shut down.
	Shutdown
)

// Held is one log record waiting for its span: batch.records.At(index).
type Held struct {
	Outcome Outcome
	Context SpanContext
	// Waited is how long it waited, set when it left the queue.
	Waited time.Duration

	batch *Batch
	index int32
	// sent and mark belong to the release (release.go): sent is set (under
	// batch.mu) once the record was moved out of the batch; mark is
	// scratch space for the one flush that took the record.
	sent bool
	mark int32

	hash       uint64
	prev, next *Held // FIFO by arrival
	keyNext    *Held // next held log with the same key, in arrival order
}

type keyChain struct{ head, tail *Held }

// Evictions counts index entries evicted.
type Evictions struct {
	TTL  int
	Size int
}

// Joiner is the shared join state. All methods are safe for concurrent use.
type Joiner struct {
	mu sync.Mutex

	idx *index

	wait       time.Duration
	maxWaiting int
	head, tail *Held // oldest, newest
	waiting    int
	byKey      hashMap[keyChain]

	ready []*Held
	// entryGen changes whenever a key gets (or keeps) an entry span: Hold
	// looks a log's key up again only if it changed since the log's lookup.
	entryGen uint64
	// closed is set by ReleaseAll: nothing is held after Shutdown.
	closed bool
}

// New returns a Joiner.
func New(wait time.Duration, maxWaiting int, ttl time.Duration, maxIndexEntries int) *Joiner {
	return &Joiner{
		idx:        newIndex(ttl, maxIndexEntries),
		wait:       wait,
		maxWaiting: maxWaiting,
		byKey:      newHashMap[keyChain](0),
		entryGen:   1, // 0 is never current: Hold(…, 0, …) looks every log up
	}
}

// CanHold reports whether logs are ever held (wait and max_waiting_logs > 0).
func (j *Joiner) CanHold() bool { return j.wait > 0 && j.maxWaiting > 0 }

// Lookup returns the span context indexed for the key hash and the rank of
// the span it came from.
func (j *Joiner) Lookup(h uint64, now time.Time) (SpanContext, Rank, bool) {
	j.mu.Lock()
	sc, rank, ok := j.idx.lookup(h, now.UnixNano())
	j.mu.Unlock()
	return sc, rank, ok
}

// Found is the outcome of one lookup of LookupAll.
type Found struct {
	Context SpanContext
	Rank    Rank
	OK      bool
}

// LookupAll looks up every key hash of hs, under one lock, into found
// (grown to len(hs)): Lookup for a batch, one lock instead of one per
// record.
func (j *Joiner) LookupAll(hs []uint64, now time.Time, found []Found) []Found {
	found = append(found[:0], make([]Found, len(hs))...)
	ns := now.UnixNano()
	j.mu.Lock()
	for i, h := range hs {
		f := &found[i]
		f.Context, f.Rank, f.OK = j.idx.lookup(h, ns)
	}
	j.mu.Unlock()
	return found
}

// release moves h to the ready list. A log that leaves without its entry
// span still takes the best span context indexed for its key (a child or
// root span of the same request) and counts as matched.
func (j *Joiner) release(h *Held, outcome Outcome, now time.Time) {
	if outcome != Matched {
		if sc, _, ok := j.idx.lookup(h.hash, now.UnixNano()); ok {
			outcome, h.Context = Matched, sc
		}
	}
	h.Outcome, h.Waited = outcome, now.Sub(h.batch.arrived)
	j.ready = append(j.ready, h)
}

// Span is one span's contribution to the index.
type Span struct {
	Hash    uint64
	Context SpanContext
	Rank    Rank
}

// IndexSpans indexes spans by their correlation key hash. When a key's
// entry span (SERVER/CONSUMER) arrives, the logs waiting for that key move to
// the ready list, matched; lower-ranked spans (children, which end and are
// exported before their parent) are indexed but leave the logs waiting for
// the entry span until their wait is over. It returns the number of entries
// added and evicted.
func (j *Joiner) IndexSpans(spans []Span, now time.Time) (added int, ev Evictions) {
	ns := now.UnixNano()
	j.mu.Lock()
	defer j.mu.Unlock()
	ev.TTL = j.idx.expire(ns)
	for i := range spans {
		sc, rank, a, se := j.idx.upsert(spans[i].Hash, spans[i].Context, spans[i].Rank, ns)
		if a {
			added++
		}
		ev.Size += se
		if rank != RankEntry {
			continue
		}
		j.entryGen++
		if j.byKey.Len() == 0 {
			continue
		}
		if chain, ok := j.byKey.Delete(spans[i].Hash); ok {
			for h := chain.head; h != nil; {
				next := h.keyNext
				j.unlinkFIFO(h)
				h.keyNext = nil
				h.Context = sc
				j.release(h, Matched, now)
				h = next
			}
		}
	}
	return added, ev
}

// EntryGen returns a value that changes whenever an entry span is indexed;
// pass it, read before the lookups, to Hold.
func (j *Joiner) EntryGen() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.entryGen
}

// Hold queues the records of batches to wait for their span. A log whose
// entry span was indexed since its lookup (entryGen is EntryGen read
// before the lookups, or 0 to look every log up again) goes to the ready
// list matched at once. Over
// max_waiting_logs the oldest waiting logs go to the ready list (Overflow).
func (j *Joiner) Hold(batches []*Batch, entryGen uint64, now time.Time) {
	ns := now.UnixNano()
	j.mu.Lock()
	defer j.mu.Unlock()
	recheck := j.entryGen != entryGen
	for _, b := range batches {
		for i := range b.held {
			h := &b.held[i]
			if j.closed {
				j.release(h, Shutdown, now)
				continue
			}
			if recheck {
				if sc, rank, ok := j.idx.lookup(h.hash, ns); ok && rank == RankEntry {
					h.Context = sc
					j.release(h, Matched, now)
					continue
				}
			}
			for j.waiting >= j.maxWaiting && j.head != nil {
				o := j.head
				j.popKeyHead(o)
				j.unlinkFIFO(o)
				j.release(o, Overflow, now)
			}
			j.push(h)
		}
	}
}

// Expire moves logs that waited the full wait to the ready list and evicts
// index entries past their TTL.
func (j *Joiner) Expire(now time.Time) Evictions {
	j.mu.Lock()
	defer j.mu.Unlock()
	for j.head != nil && now.Sub(j.head.batch.arrived) >= j.wait {
		o := j.head
		j.popKeyHead(o)
		j.unlinkFIFO(o)
		j.release(o, Expired, now)
	}
	return Evictions{TTL: j.idx.expire(now.UnixNano())}
}

// ReleaseAll moves every waiting log to the ready list (Shutdown); logs
// handed to Hold afterwards go to the ready list at once.
func (j *Joiner) ReleaseAll(now time.Time) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.closed = true
	for j.head != nil {
		o := j.head
		j.unlinkFIFO(o)
		o.keyNext = nil
		j.release(o, Shutdown, now)
	}
	j.byKey.Clear()
}

// TakeReady returns the logs released since the last call.
func (j *Joiner) TakeReady() []*Held {
	return j.TakeReadyInto(nil)
}

// maxKeptReady bounds the capacity of the ready list kept between flushes.
const maxKeptReady = 4096

// TakeReadyInto appends the logs released since the last call to dst.
func (j *Joiner) TakeReadyInto(dst []*Held) []*Held {
	j.mu.Lock()
	dst = append(dst, j.ready...)
	if cap(j.ready) > maxKeptReady {
		j.ready = nil
	} else {
		clear(j.ready)
		j.ready = j.ready[:0]
	}
	j.mu.Unlock()
	return dst
}

// Stats is the joiner's size now.
type Stats struct {
	Waiting      int // logs waiting for their span
	IndexEntries int // correlation keys indexed
}

// Stats copies the joiner's size, both numbers under one lock.
func (j *Joiner) Stats() Stats {
	j.mu.Lock()
	defer j.mu.Unlock()
	return Stats{Waiting: j.waiting, IndexEntries: j.idx.n}
}

// Waiting returns the number of waiting logs.
func (j *Joiner) Waiting() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.waiting
}

// IndexEntries returns the number of index entries.
func (j *Joiner) IndexEntries() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.idx.n
}

func (j *Joiner) push(h *Held) {
	h.prev, h.next = j.tail, nil
	if j.tail != nil {
		j.tail.next = h
	} else {
		j.head = h
	}
	j.tail = h
	j.waiting++
	c, _ := j.byKey.Upsert(h.hash)
	if c.tail != nil {
		c.tail.keyNext = h
	} else {
		c.head = h
	}
	c.tail = h
}

func (j *Joiner) unlinkFIFO(h *Held) {
	if h.prev != nil {
		h.prev.next = h.next
	} else {
		j.head = h.next
	}
	if h.next != nil {
		h.next.prev = h.prev
	} else {
		j.tail = h.prev
	}
	h.prev, h.next = nil, nil
	j.waiting--
}

// popKeyHead removes h, the oldest log of its key, from its key chain.
func (j *Joiner) popKeyHead(h *Held) {
	c := j.byKey.Ref(h.hash)
	if c == nil || c.head != h {
		return
	}
	if h.keyNext == nil {
		j.byKey.Delete(h.hash)
	} else {
		c.head = h.keyNext
	}
	h.keyNext = nil
}
