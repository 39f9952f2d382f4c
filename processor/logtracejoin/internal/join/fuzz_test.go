// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package join

import (
	"strconv"
	"testing"
	"time"
)

// FuzzJoinerOps drives a Joiner with an arbitrary sequence of holds, span
// arrivals, clock steps and expiries (small bounds, so overflow and index
// eviction happen), then shuts it down. Invariants: every held log leaves
// exactly once, a log released as matched carries the context of a span of
// its own key, nothing is left waiting, and the counters agree with the
// structures.
func FuzzJoinerOps(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})
	f.Add([]byte{0x00, 0x10, 0x20, 0x41, 0x51, 0x62, 0x83, 0x00, 0x00, 0x00, 0x00, 0xf3})
	f.Fuzz(func(t *testing.T, ops []byte) {
		j := New(3*time.Second, 4, 5*time.Second, 3)
		now := t0
		seen := map[*Held]int{}
		var all []*Held
		collect := func() {
			for _, h := range j.TakeReady() {
				seen[h]++
				if h.Outcome == Matched {
					want := sc(byte(h.hash % 7))
					if h.Context.TraceID != want.TraceID {
						t.Fatalf("log of key %d matched to %x", h.hash%7, h.Context.TraceID)
					}
				}
			}
		}
		for _, op := range ops {
			key := uint64(op>>2) % 7
			// hashes are the keys themselves so that contexts can be checked
			switch op & 3 {
			case 0:
				b := NewBatch([]uint64{key}, 0, now)
				all = append(all, b.Held(0))
				j.Hold([]*Batch{b}, 0, now)
			case 1:
				j.IndexSpans([]Span{{Hash: key, Context: sc(byte(key)), Rank: Rank(op>>5) % 3}}, now)
			case 2:
				now = now.Add(time.Duration(op>>2) * 100 * time.Millisecond)
			case 3:
				j.Expire(now)
			}
			collect()
			if j.Waiting() > 4 {
				t.Fatalf("%d waiting over the bound 4", j.Waiting())
			}
			if j.IndexEntries() > 3 {
				t.Fatalf("%d index entries over the bound 3", j.IndexEntries())
			}
			n := 0
			for h := j.head; h != nil; h = h.next {
				n++
			}
			if n != j.Waiting() {
				t.Fatalf("queue has %d, counter %d", n, j.Waiting())
			}
		}
		j.ReleaseAll(now)
		collect()
		for _, h := range all {
			if seen[h] != 1 {
				t.Fatalf("log %s left %d times", strconv.FormatUint(h.hash, 10), seen[h])
			}
		}
		if j.Waiting() != 0 || j.byKey.Len() != 0 {
			t.Fatalf("left after shutdown: %d waiting, %d keys", j.Waiting(), j.byKey.Len())
		}
	})
}
