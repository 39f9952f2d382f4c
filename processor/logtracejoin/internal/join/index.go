// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

// Package join holds the state of the log-to-span join: an index from
// correlation key to the span context of the request's entry span, and the
// logs waiting for their span. Both are bounded by count and by time.
package join // import "github.com/prodscope/prodscope/processor/logtracejoin/internal/join"

import (
	"hash/maphash"
	"time"
)

// SpanContext is what a log takes from its request's span.
type SpanContext struct {
	TraceID [16]byte
	SpanID  [8]byte
	Flags   uint8
}

// Rank orders the spans that carry one correlation key: the entry span of
// the request wins.
type Rank uint8

const (
	// RankOther is any span carrying the key.
	RankOther Rank = iota
	// RankRoot is a span without a parent.
	RankRoot
	// RankEntry is a SERVER or CONSUMER span: the entry span of the request.
	RankEntry
)

// indexSlot is one index entry: 48 bytes. The key is stored as a 64-bit
// hash (collision odds at 1M entries ~3e-8), not as a string, so an entry's
// cost does not grow with the key.
type indexSlot struct {
	hash     uint64
	inserted int64 // unix nanoseconds
	traceID  [16]byte
	spanID   [8]byte
	flags    uint8
	rank     Rank
}

// index maps key hashes to span contexts. Entries live in a ring in
// insertion order, so TTL and size eviction both take the oldest first; the
// map points from hash to the entry's sequence number.
type index struct {
	ttl int64
	max int

	bySeq hashMap[int] // hash → sequence number
	ring  []indexSlot
	head  int // ring position of the oldest entry
	n     int // entries in the ring
	// headSeq is the sequence number of the oldest entry; the entries'
	// sequence numbers are consecutive (they may wrap: only differences,
	// smaller than n, are used)
	headSeq int
}

const initialIndexCap = 1024

func newIndex(ttl time.Duration, maxEntries int) *index {
	c := min(initialIndexCap, maxEntries)
	return &index{
		ttl:   int64(ttl),
		max:   maxEntries,
		bySeq: newHashMap[int](c),
		ring:  make([]indexSlot, c),
	}
}

func (x *index) pos(seq int) int {
	return (x.head + seq - x.headSeq) % len(x.ring)
}

func (x *index) popOldest() {
	s := &x.ring[x.head]
	if cur := x.bySeq.Ref(s.hash); cur != nil && *cur == x.headSeq {
		x.bySeq.Delete(s.hash)
	}
	*s = indexSlot{}
	x.head = (x.head + 1) % len(x.ring)
	x.n--
	x.headSeq++
}

func (x *index) grow() {
	nc := min(2*len(x.ring), x.max)
	ring := make([]indexSlot, nc)
	for i := 0; i < x.n; i++ {
		ring[i] = x.ring[(x.head+i)%len(x.ring)]
	}
	x.ring, x.head = ring, 0
}

// expire evicts entries older than the TTL and returns how many.
func (x *index) expire(now int64) int {
	evicted := 0
	for x.n > 0 && now-x.ring[x.head].inserted >= x.ttl {
		x.popOldest()
		evicted++
	}
	return evicted
}

// upsert indexes the key's span context. An existing entry is replaced only
// by a span of higher rank (the request's entry span). It returns the
// context and rank the key now has, whether a new entry was added and how
// many entries were evicted for size.
func (x *index) upsert(h uint64, sc SpanContext, rank Rank, now int64) (SpanContext, Rank, bool, int) {
	if seq := x.bySeq.Ref(h); seq != nil {
		s := &x.ring[x.pos(*seq)]
		if rank > s.rank {
			s.traceID, s.spanID, s.flags, s.rank = sc.TraceID, sc.SpanID, sc.Flags, rank
		}
		return SpanContext{TraceID: s.traceID, SpanID: s.spanID, Flags: s.flags}, s.rank, false, 0
	}
	sizeEvicted := 0
	if x.n == len(x.ring) {
		if len(x.ring) < x.max {
			x.grow()
		} else {
			x.popOldest()
			sizeEvicted++
		}
	}
	seq := x.headSeq + x.n
	x.n++
	x.ring[x.pos(seq)] = indexSlot{hash: h, inserted: now, traceID: sc.TraceID, spanID: sc.SpanID, flags: sc.Flags, rank: rank}
	x.bySeq.Put(h, seq)
	return sc, rank, true, sizeEvicted
}

func (x *index) lookup(h uint64, now int64) (SpanContext, Rank, bool) {
	seq := x.bySeq.Ref(h)
	if seq == nil {
		return SpanContext{}, 0, false
	}
	s := &x.ring[x.pos(*seq)]
	if now-s.inserted >= x.ttl {
		return SpanContext{}, 0, false
	}
	return SpanContext{TraceID: s.traceID, SpanID: s.spanID, Flags: s.flags}, s.rank, true
}

// seed is process-wide so that hashes are comparable across instances.
var seed = maphash.MakeSeed()

// Hash returns the hash a correlation key is indexed by.
func Hash(key string) uint64 {
	return maphash.String(seed, key)
}
