// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package guard

// outIndex maps the output series of one metric in one Process call (their
// aggKey) to their position in the call's list. It is looked up for every
// merged point, so it is an open-addressing table (linear probing, at most
// half full) kept by the engine and reused: a call starts a new generation
// instead of clearing it, and a Go map made per call would hash each key
// again. Its size follows the most output series one metric had in a call
// (per-call scratch, like the decisions).
type outIndex struct {
	slots []outSlot
	gen   uint32
	n     int
}

type outSlot struct {
	key uint64
	gen uint32 // the slot is in use when gen is the index's
	pos int32
}

// reset empties the index.
func (t *outIndex) reset() {
	t.n = 0
	t.gen++
	if t.gen == 0 {
		clear(t.slots)
		t.gen = 1
	}
}

func (t *outIndex) home(key uint64) int {
	return int((key*0x9E3779B97F4A7C15)>>32) & (len(t.slots) - 1)
}

// get returns the position of key, or -1.
func (t *outIndex) get(key uint64) int {
	if len(t.slots) == 0 {
		return -1
	}
	mask := len(t.slots) - 1
	for i := t.home(key); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.gen != t.gen {
			return -1
		}
		if s.key == key {
			return int(s.pos)
		}
	}
}

// put adds key (not in t) at position pos.
func (t *outIndex) put(key uint64, pos int) {
	if 2*(t.n+1) > len(t.slots) {
		t.grow()
	}
	t.place(key, slot(pos)-1) // slot checks the range: pos fits an int32
	t.n++
}

func (t *outIndex) place(key uint64, pos int32) {
	mask := len(t.slots) - 1
	i := t.home(key)
	for t.slots[i].gen == t.gen {
		i = (i + 1) & mask
	}
	t.slots[i] = outSlot{key: key, gen: t.gen, pos: pos}
}

func (t *outIndex) grow() {
	old := t.slots
	t.slots = make([]outSlot, max(16, 2*len(old)))
	if t.gen == 0 {
		t.gen = 1
	}
	for _, s := range old {
		if s.gen == t.gen {
			t.place(s.key, s.pos)
		}
	}
}
