// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package guard

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMemberSet checks the member index against a Go map over random adds
// and removes. Hashes are drawn from a small range, so that probe runs
// collide and wrap around the end of the index, and removals shift them.
func TestMemberSet(t *testing.T) {
	for _, spread := range []uint64{16, 200, 1 << 40} {
		rng := rand.New(rand.NewPCG(1, spread))
		var s memberSet[uint64]
		ref := map[uint64]uint64{} // source series -> value
		for step := range 20_000 {
			h := rng.Uint64N(spread)
			if p := s.find(h); p >= 0 {
				require.Equal(t, ref[h], s.list[p].val, "step %d", step)
				if rng.IntN(2) == 0 {
					s.removeAt(p)
					delete(ref, h)
				} else {
					s.list[p].val++
					ref[h]++
				}
			} else {
				_, ok := ref[h]
				require.False(t, ok, "step %d: member %d lost", step, h)
				v := rng.Uint64()
				s.add(member[uint64]{h: h, val: v})
				ref[h] = v
			}
			require.Equal(t, len(ref), s.len())
			if step%997 == 0 {
				for h, v := range ref {
					p := s.find(h)
					require.GreaterOrEqual(t, p, 0, "step %d: member %d lost", step, h)
					require.Equal(t, v, s.list[p].val)
				}
				filled := 0
				for _, p := range s.slots {
					if p != 0 {
						filled++
					}
				}
				require.Equal(t, s.len(), filled, "index entries")
			}
		}
		// Remove everything, backwards as expire does.
		for p := s.len() - 1; p >= 0; p-- {
			delete(ref, s.list[p].h)
			s.removeAt(p)
		}
		require.Empty(t, ref)
		require.Equal(t, -1, s.find(1))
	}
}

// TestOutIndex checks the per-call output index against a Go map: calls of
// random sizes (so the table grows mid-call and is reused by smaller calls),
// keys from a small range (collisions, wrap-around), a generation wrap.
func TestOutIndex(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 3))
	var x outIndex
	for call := range 300 {
		if call == 150 {
			x.gen = ^uint32(0) // the next reset wraps: the slots must be cleared
		}
		x.reset()
		ref := map[uint64]int{}
		n := rng.IntN(2000)
		spread := uint64(1) << rng.IntN(40)
		for i := range n {
			k := rng.Uint64N(spread + 1)
			want, ok := ref[k]
			if !ok {
				want = -1
			}
			require.Equal(t, want, x.get(k), "call %d, key %d", call, k)
			if !ok {
				x.put(k, i)
				ref[k] = i
			}
		}
		for k, p := range ref {
			require.Equal(t, p, x.get(k), "call %d, key %d at the end", call, k)
		}
		require.LessOrEqual(t, 2*len(ref), len(x.slots), "at most half full")
	}
}
