// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package join

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func sc(b byte) SpanContext {
	return SpanContext{TraceID: [16]byte{15: b}, SpanID: [8]byte{7: b}, Flags: 1}
}

func TestIndexRankAndLookup(t *testing.T) {
	j := New(time.Second, 10, time.Minute, 10)
	h := Hash("req-1")
	added, ev := j.IndexSpans([]Span{{Hash: h, Context: sc(1), Rank: RankOther}}, t0)
	assert.Equal(t, 1, added)
	assert.Equal(t, Evictions{}, ev)
	got, rank, ok := j.Lookup(h, t0)
	require.True(t, ok)
	assert.Equal(t, sc(1), got)
	assert.Equal(t, RankOther, rank)

	// the entry span replaces a lower-ranked one, not the other way round
	j.IndexSpans([]Span{{Hash: h, Context: sc(2), Rank: RankEntry}}, t0)
	j.IndexSpans([]Span{{Hash: h, Context: sc(3), Rank: RankRoot}}, t0)
	got, rank, _ = j.Lookup(h, t0)
	assert.Equal(t, sc(2), got)
	assert.Equal(t, RankEntry, rank)
	assert.Equal(t, 1, j.IndexEntries())

	_, _, ok = j.Lookup(Hash("other"), t0)
	assert.False(t, ok)
}

func TestIndexTTLAndSize(t *testing.T) {
	j := New(time.Second, 10, time.Minute, 3)
	for i := range 5 {
		_, ev := j.IndexSpans([]Span{{Hash: Hash(strconv.Itoa(i)), Context: sc(byte(i + 1))}}, t0)
		if i < 3 {
			assert.Zero(t, ev.Size)
		} else {
			assert.Equal(t, 1, ev.Size, "entry %d evicts the oldest", i)
		}
	}
	assert.Equal(t, 3, j.IndexEntries())
	_, _, ok := j.Lookup(Hash("0"), t0)
	assert.False(t, ok, "oldest evicted for size")
	_, _, ok = j.Lookup(Hash("4"), t0)
	assert.True(t, ok)

	// past the TTL: lookups miss at once, Expire removes and counts
	_, _, ok = j.Lookup(Hash("4"), t0.Add(time.Minute))
	assert.False(t, ok)
	ev := j.Expire(t0.Add(time.Minute))
	assert.Equal(t, 3, ev.TTL)
	assert.Zero(t, j.IndexEntries())
}

func TestIndexGrowsInOrder(t *testing.T) {
	j := New(time.Second, 10, time.Hour, 5000)
	for i := range 5000 {
		j.IndexSpans([]Span{{Hash: Hash(strconv.Itoa(i)), Context: sc(byte(i))}}, t0.Add(time.Duration(i)*time.Millisecond))
	}
	for i := range 5000 {
		got, _, ok := j.Lookup(Hash(strconv.Itoa(i)), t0.Add(5*time.Second))
		require.True(t, ok, i)
		require.Equal(t, sc(byte(i)), got)
	}
	// TTL eviction takes the oldest first across the grown ring
	ev := j.Expire(t0.Add(time.Hour + 2500*time.Millisecond))
	assert.Equal(t, 2501, ev.TTL)
	_, _, ok := j.Lookup(Hash("2500"), t0.Add(time.Hour+2500*time.Millisecond))
	assert.False(t, ok)
	_, _, ok = j.Lookup(Hash("2501"), t0.Add(time.Hour+2500*time.Millisecond))
	assert.True(t, ok)
}

func hold(j *Joiner, key string, at time.Time) *Held {
	b := NewBatch([]uint64{Hash(key)}, 0, at)
	j.Hold([]*Batch{b}, 0, at)
	return b.Held(0)
}

func TestHoldMatchExpire(t *testing.T) {
	j := New(5*time.Second, 100, time.Minute, 100)
	a1 := hold(j, "a", t0)
	b1 := hold(j, "b", t0.Add(time.Second))
	a2 := hold(j, "a", t0.Add(2*time.Second))
	assert.Equal(t, 3, j.Waiting())
	assert.Empty(t, j.TakeReady())

	j.IndexSpans([]Span{{Hash: Hash("a"), Context: sc(7), Rank: RankEntry}}, t0.Add(3*time.Second))
	ready := j.TakeReady()
	require.Equal(t, []*Held{a1, a2}, ready)
	for _, h := range ready {
		assert.Equal(t, Matched, h.Outcome)
		assert.Equal(t, sc(7), h.Context)
	}
	assert.Equal(t, 1, j.Waiting())

	// a log arriving after its span matches in Hold
	a3 := hold(j, "a", t0.Add(4*time.Second))
	assert.Equal(t, []*Held{a3}, j.TakeReady())
	assert.Equal(t, Matched, a3.Outcome)

	j.Expire(t0.Add(5*time.Second + 999*time.Millisecond))
	assert.Empty(t, j.TakeReady(), "b waited less than 5s")
	j.Expire(t0.Add(6 * time.Second))
	assert.Equal(t, []*Held{b1}, j.TakeReady())
	assert.Equal(t, Expired, b1.Outcome)
	assert.Zero(t, j.Waiting())
	assert.Zero(t, j.byKey.Len())
}

func TestHoldOverflowReleasesOldest(t *testing.T) {
	j := New(time.Minute, 2, time.Minute, 100)
	x := hold(j, "x", t0)
	y := hold(j, "y", t0)
	z := hold(j, "x", t0)
	assert.Equal(t, []*Held{x}, j.TakeReady())
	assert.Equal(t, Overflow, x.Outcome)
	assert.Equal(t, 2, j.Waiting())

	// the key chain of x still works after its head left by overflow
	j.IndexSpans([]Span{{Hash: Hash("x"), Context: sc(1), Rank: RankEntry}}, t0)
	assert.Equal(t, []*Held{z}, j.TakeReady())

	j.ReleaseAll(t0)
	assert.Equal(t, []*Held{y}, j.TakeReady())
	assert.Equal(t, Shutdown, y.Outcome)
	assert.Zero(t, j.Waiting())

	// a log handed over by a call in flight during Shutdown is not kept
	late := hold(j, "late", t0)
	assert.Equal(t, []*Held{late}, j.TakeReady())
	assert.Equal(t, Shutdown, late.Outcome)
	assert.Zero(t, j.Waiting())
}

func TestCanHold(t *testing.T) {
	assert.True(t, New(time.Second, 1, time.Minute, 1).CanHold())
	assert.False(t, New(0, 1, time.Minute, 1).CanHold())
	assert.False(t, New(time.Second, 0, time.Minute, 1).CanHold())
}

// TestChildSpanDoesNotReleaseEarly: child spans end (and arrive) before the
// entry span; a waiting log keeps waiting for the entry span, and takes the
// child's context only if the entry span never comes.
func TestChildSpanDoesNotReleaseEarly(t *testing.T) {
	j := New(5*time.Second, 100, time.Minute, 100)
	a := hold(j, "a", t0)
	b := hold(j, "b", t0)
	j.IndexSpans([]Span{{Hash: Hash("a"), Context: sc(1), Rank: RankOther}, {Hash: Hash("b"), Context: sc(2), Rank: RankOther}}, t0.Add(time.Second))
	assert.Empty(t, j.TakeReady(), "a child span does not release the logs")
	c := hold(j, "a", t0.Add(time.Second))
	assert.Empty(t, j.TakeReady(), "a log arriving after the child waits too")

	j.IndexSpans([]Span{{Hash: Hash("a"), Context: sc(9), Rank: RankEntry}}, t0.Add(2*time.Second))
	assert.Equal(t, []*Held{a, c}, j.TakeReady())
	assert.Equal(t, sc(9), a.Context)
	assert.Equal(t, sc(9), c.Context)

	j.Expire(t0.Add(5 * time.Second))
	assert.Equal(t, []*Held{b}, j.TakeReady())
	assert.Equal(t, Matched, b.Outcome, "no entry span came: the child's context is the best known")
	assert.Equal(t, sc(2), b.Context)
}
