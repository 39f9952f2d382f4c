// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package join

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHashMapAgainstGoMap applies the same random operations to a hashMap
// and a Go map and compares them after every step: keys from small ranges
// (long probe runs that wrap around the end of the slots, deletions
// shifting them back), the key 0, and random 64-bit hashes.
func TestHashMapAgainstGoMap(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  func(r *rand.Rand) uint64
	}{
		{"small", func(r *rand.Rand) uint64 { return r.Uint64N(64) }},
		{"multiples", func(r *rand.Rand) uint64 { return r.Uint64N(200) << 40 }},
		{"random", func(r *rand.Rand) uint64 {
			if r.IntN(4) == 0 {
				return r.Uint64N(8) // revisits a few keys, 0 among them
			}
			return r.Uint64()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			m := newHashMap[int](0)
			ref := map[uint64]int{}
			keys := []uint64{}
			for step := range 200_000 {
				var k uint64
				if len(keys) > 0 && r.IntN(2) == 0 {
					k = keys[r.IntN(len(keys))]
				} else {
					k = tc.key(r)
					keys = append(keys, k)
				}
				switch op := r.IntN(2000); {
				case op < 800:
					m.Put(k, step)
					ref[k] = step
				case op < 1000:
					p, existed := m.Upsert(k)
					_, want := ref[k]
					require.Equal(t, want, existed)
					*p = -step
					ref[k] = -step
				case op < 1500:
					v, ok := m.Delete(k)
					w, want := ref[k]
					require.Equal(t, want, ok, "delete %d", k)
					require.Equal(t, w, v)
					delete(ref, k)
				case op == 1999: // rarely, so that the map grows
					m.Clear()
					clear(ref)
				default:
					v, ok := m.Get(k)
					w, want := ref[k]
					require.Equal(t, want, ok)
					require.Equal(t, w, v)
				}
				require.Equal(t, len(ref), m.Len())
				if step%1000 == 0 || len(ref) < 16 {
					for k, w := range ref {
						v, ok := m.Get(k)
						require.True(t, ok, "key %d lost at step %d", k, step)
						require.Equal(t, w, v)
					}
				}
			}
		})
	}
}
