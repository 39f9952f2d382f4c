// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package guard

import "math"

// memberSet holds the members of one merged series together: a dense slice
// in the order they first came, and an open-addressing index of int32
// positions into it (linear probing, at most 3/4 full). Exporters send the
// points of a batch in the same order every time, so the merge finds most
// members at the position after the previous one (batchOut.cursor) without
// touching the index: one sequential walk through the slice per output
// series instead of a random map access per point, and no per-member
// pointer. The index costs 4 bytes a slot.
type memberSet[V any] struct {
	list  []member[V]
	slots []int32 // 0: empty, else position in list + 1
}

func (s *memberSet[V]) len() int { return len(s.list) }

// slot is the index entry of list position p (p + 1). A set never holds
// 2^31-1 members: each counts against max_series_total, and that many would
// take over 100 GiB.
func slot(p int) int32 {
	if p < 0 || p >= math.MaxInt32 {
		panic("guard: member position out of the index's range")
	}
	return int32(p + 1)
}

// mask is the index of the last slot (slots are a power of two); slot
// indexes are uint64, as home computes them.
func (s *memberSet[V]) mask() uint64 { return uint64(len(s.slots)) - 1 }

// home is the first slot probed for h (Fibonacci hashing of the whole h).
func (s *memberSet[V]) home(h uint64) uint64 {
	return (h * 0x9E3779B97F4A7C15) >> 32 & s.mask()
}

// find returns the position of the member of source series h, or -1.
func (s *memberSet[V]) find(h uint64) int {
	if len(s.slots) == 0 {
		return -1
	}
	mask := s.mask()
	for i := s.home(h); ; i = (i + 1) & mask {
		p := s.slots[i]
		if p == 0 {
			return -1
		}
		if s.list[p-1].h == h {
			return int(p - 1)
		}
	}
}

// add appends m (whose source series is not in s) and returns its position.
func (s *memberSet[V]) add(m member[V]) int {
	if 4*(len(s.list)+1) > 3*len(s.slots) {
		s.grow()
	}
	p := len(s.list)
	s.list = append(s.list, m)
	s.place(m.h, slot(p))
	return p
}

func (s *memberSet[V]) place(h uint64, p int32) {
	mask := s.mask()
	i := s.home(h)
	for s.slots[i] != 0 {
		i = (i + 1) & mask
	}
	s.slots[i] = p
}

func (s *memberSet[V]) grow() {
	n := max(8, 2*len(s.slots))
	s.slots = make([]int32, n)
	for p := range s.list {
		s.place(s.list[p].h, slot(p))
	}
}

// slotOf returns the index slot holding position p (which must be in s).
func (s *memberSet[V]) slotOf(p int) uint64 {
	mask := s.mask()
	i := s.home(s.list[p].h)
	want := slot(p)
	for s.slots[i] != want {
		i = (i + 1) & mask
	}
	return i
}

// removeAt removes the member at position p: the last member takes its
// place in the slice.
func (s *memberSet[V]) removeAt(p int) {
	mask := s.mask()
	// Empty p's slot, shifting back the entries of its probe run that
	// would no longer be reachable (deletion without tombstones).
	i := s.slotOf(p)
	for j := (i + 1) & mask; s.slots[j] != 0; j = (j + 1) & mask {
		k := s.home(s.list[s.slots[j]-1].h)
		// The entry at j stays when its home lies cyclically in (i, j].
		if (i < j && i < k && k <= j) || (j < i && (i < k || k <= j)) {
			continue
		}
		s.slots[i] = s.slots[j]
		i = j
	}
	s.slots[i] = 0
	last := len(s.list) - 1
	if p != last {
		s.slots[s.slotOf(last)] = slot(p)
		s.list[p] = s.list[last]
	}
	var zero member[V]
	s.list[last] = zero
	s.list = s.list[:last]
}
