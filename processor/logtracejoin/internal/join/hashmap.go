// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package join // import "github.com/prodscope/prodscope/processor/logtracejoin/internal/join"

// hashMap maps correlation key hashes to values: open addressing, linear
// probing, at most 3/4 full, deletion by backward shift (no tombstones). The
// keys are already hashes (maphash), so a slot is found with one multiply;
// a Go map hashes the hash again and probes control groups, which was the
// largest part of the join path's time (nine map operations per held log:
// the lookup, the waiting chain's insert and delete, the index's insert and
// eviction). Like a Go map it does not shrink.
type hashMap[V any] struct {
	slots []hashSlot[V]
	n     int // keys in slots (the zero key not counted)
	// the key 0 has no slot: 0 marks an empty one
	hasZero bool
	zero    V
}

type hashSlot[V any] struct {
	key uint64 // 0: empty
	val V
}

const minHashSlots = 8

func newHashMap[V any](capacity int) hashMap[V] {
	n := minHashSlots
	for 3*n < 4*capacity {
		n *= 2
	}
	return hashMap[V]{slots: make([]hashSlot[V], n)}
}

// Len returns the number of keys.
func (m *hashMap[V]) Len() int {
	if m.hasZero {
		return m.n + 1
	}
	return m.n
}

func (m *hashMap[V]) mask() uint64 { return uint64(len(m.slots)) - 1 }

// home is the first slot probed for k (Fibonacci hashing: the high bits of
// the product, so that keys differing only in high bits spread too).
func (m *hashMap[V]) home(k uint64) uint64 {
	return (k * 0x9E3779B97F4A7C15) >> 32 & m.mask()
}

// Ref returns a pointer to k's value, valid until the next Put or Delete,
// or nil.
func (m *hashMap[V]) Ref(k uint64) *V {
	if k == 0 {
		if m.hasZero {
			return &m.zero
		}
		return nil
	}
	if len(m.slots) == 0 {
		return nil
	}
	mask := m.mask()
	for i := m.home(k); ; i = (i + 1) & mask {
		s := &m.slots[i]
		if s.key == k {
			return &s.val
		}
		if s.key == 0 {
			return nil
		}
	}
}

// Get returns k's value.
func (m *hashMap[V]) Get(k uint64) (V, bool) {
	if p := m.Ref(k); p != nil {
		return *p, true
	}
	var zero V
	return zero, false
}

// Upsert returns a pointer to k's value, inserting the zero value when k
// is absent (existed false). The pointer is valid until the next Put,
// Upsert or Delete.
func (m *hashMap[V]) Upsert(k uint64) (p *V, existed bool) {
	if k == 0 {
		existed = m.hasZero
		m.hasZero = true
		return &m.zero, existed
	}
	if 4*(m.n+1) > 3*len(m.slots) {
		m.grow()
	}
	mask := m.mask()
	for i := m.home(k); ; i = (i + 1) & mask {
		s := &m.slots[i]
		if s.key == k {
			return &s.val, true
		}
		if s.key == 0 {
			s.key = k
			m.n++
			return &s.val, false
		}
	}
}

// Put sets k's value.
func (m *hashMap[V]) Put(k uint64, v V) {
	p, _ := m.Upsert(k)
	*p = v
}

// Delete removes k and returns its value.
func (m *hashMap[V]) Delete(k uint64) (V, bool) {
	var zero V
	if k == 0 {
		if !m.hasZero {
			return zero, false
		}
		v := m.zero
		m.hasZero, m.zero = false, zero
		return v, true
	}
	if len(m.slots) == 0 {
		return zero, false
	}
	mask := m.mask()
	i := m.home(k)
	for {
		s := &m.slots[i]
		if s.key == 0 {
			return zero, false
		}
		if s.key == k {
			break
		}
		i = (i + 1) & mask
	}
	v := m.slots[i].val
	// backward shift: move later keys of the probe run into the hole when
	// their home is not after it (cyclically), so that no probe for them
	// meets an empty slot before reaching them
	for j := (i + 1) & mask; ; j = (j + 1) & mask {
		s := &m.slots[j]
		if s.key == 0 {
			break
		}
		if (j-m.home(s.key))&mask >= (j-i)&mask {
			m.slots[i] = *s
			i = j
		}
	}
	m.slots[i] = hashSlot[V]{}
	m.n--
	return v, true
}

// Clear removes every key, keeping the slots.
func (m *hashMap[V]) Clear() {
	var zero V
	clear(m.slots)
	m.n, m.hasZero, m.zero = 0, false, zero
}

func (m *hashMap[V]) grow() {
	old := m.slots
	m.slots = make([]hashSlot[V], max(minHashSlots, 2*len(old)))
	mask := m.mask()
	for _, s := range old {
		if s.key == 0 {
			continue
		}
		i := m.home(s.key)
		for m.slots[i].key != 0 {
			i = (i + 1) & mask
		}
		m.slots[i] = s
	}
}
