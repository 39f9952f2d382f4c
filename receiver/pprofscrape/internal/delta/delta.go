// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

// Package delta turns the cumulative values of successive pprof profiles of one
// target (allocations, block and mutex contention, thread creation) into the
// difference since the previous scrape, the way `go tool pprof -base prev cur` does.
package delta // import "github.com/prodscope/prodscope/receiver/pprofscrape/internal/delta"

import (
	"encoding/binary"
	"hash/maphash"
	"math"
	"slices"
	"sync"

	"github.com/google/pprof/profile"

	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/reuse"
)

// Result is the delta of one profile against its predecessor.
type Result struct {
	// Samples are indices into the current profile's Sample slice: one representative per
	// distinct (stack, labels) key whose delta is not all zero. Never nil.
	Samples []int32
	// Values holds len(Samples)*Width deltas, row-major, one column per cumulative index.
	Values []int64
	// Width is the number of cumulative sample value indices.
	Width int
	// PrevTimeNanos is the time of the previous profile (the start of the delta window).
	PrevTimeNanos int64
}

// Row returns the deltas of the i-th entry of Samples.
func (r *Result) Row(i int) []int64 { return r.Values[i*r.Width : (i+1)*r.Width] }

// Outcome says what Next did.
type Outcome int

const (
	// Baseline: the first profile seen (after start or after a reset); no delta.
	Baseline Outcome = iota
	// Reset: values went backwards or disappeared (the target restarted); no delta, new baseline.
	Reset
	// Delta: a delta against the previous profile was computed.
	Delta
)

// Tracker keeps the previous cumulative values of one (target, profile type).
// Its memory is bounded by the number of distinct samples of the last profile, itself
// bounded by the body size the receiver accepts.
type Tracker struct {
	seed maphash.Seed
	// prev maps a key to its row in prevValues (width values per row).
	prev       map[uint64]int32
	prevValues []int64
	prevSums   []int64
	prevTime   int64
	prevSig    string
	have       bool
}

// NewTracker returns an empty tracker.
func NewTracker() *Tracker {
	return &Tracker{seed: maphash.MakeSeed()}
}

// Next records p as the latest profile and returns its delta against the previous one.
// cumulative lists the sample value indices that are cumulative counters.
//
// Samples are matched by their frames (function and line of every frame, inlined ones
// included, regardless of how the runtime grouped them into locations) and labels; the
// delta of a key is its current sum minus its previous sum, and keys whose delta is zero
// are left out, as `go tool pprof -base prev cur` does. The outcome is Baseline when there
// is no previous profile with the same sample types, and Reset (a new baseline) when a
// cumulative value went down (in total or for one key) or nothing matched: the target
// restarted.
// A key that disappeared (which a Go process never does) is dropped, not sent negative.
func (t *Tracker) Next(p *profile.Profile, cumulative []int) (*Result, Outcome) {
	width := len(cumulative)
	// One row per distinct key: its first sample and the sums of its cumulative values.
	rows := make(map[uint64]int32, len(p.Sample))
	keys := newKeyer(t.seed, p)
	defer keys.release()
	first, rowKeys := keys.first, keys.rowKeys
	defer func() { keys.first, keys.rowKeys = first[:0], rowKeys[:0] }()
	values := make([]int64, 0, len(p.Sample)*width)
	sums := make([]int64, width)
	for i, s := range p.Sample {
		k := keys.sampleKey(s)
		r, ok := rows[k]
		if !ok {
			r = rowIndex(len(first))
			rows[k] = r
			first = append(first, int32(i))
			rowKeys = append(rowKeys, k)
			values = append(values, make([]int64, width)...)
		}
		row := values[int(r)*width : (int(r)+1)*width]
		for j, vi := range cumulative {
			row[j] += s.Value[vi]
			sums[j] += s.Value[vi]
		}
	}
	sig := signature(p, cumulative)

	prev, prevValues, prevSums, prevTime := t.prev, t.prevValues, t.prevSums, t.prevTime
	had := t.have && t.prevSig == sig
	t.prev, t.prevValues, t.prevSums, t.prevTime, t.prevSig, t.have = rows, values, sums, p.TimeNanos, sig, true
	if !had {
		return nil, Baseline
	}
	for j := range sums {
		if sums[j] < prevSums[j] {
			return nil, Reset
		}
	}

	res := &Result{Width: width, PrevTimeNanos: prevTime, Samples: make([]int32, 0, len(first)), Values: make([]int64, 0, len(first)*width)}
	matched := 0
	for r, k := range rowKeys {
		row := values[r*width : (r+1)*width]
		var before []int64
		if pr, ok := prev[k]; ok {
			matched++
			before = prevValues[int(pr)*width : (int(pr)+1)*width]
		}
		zero := true
		for j, v := range row {
			if before != nil {
				v -= before[j]
			}
			if v < 0 {
				// A per-stack counter went backwards: a new process.
				return nil, Reset
			}
			if v != 0 {
				zero = false
			}
		}
		if zero {
			continue
		}
		res.Samples = append(res.Samples, first[r]) // rows are in sample order
		for j, v := range row {
			if before != nil {
				v -= before[j]
			}
			res.Values = append(res.Values, v)
		}
	}
	if matched == 0 && len(prev) > 0 && len(rows) > 0 {
		return nil, Reset
	}
	return res, Delta
}

// signature identifies the sample types a delta can be computed across.
func signature(p *profile.Profile, cumulative []int) string {
	var b []byte
	for _, vi := range cumulative {
		st := p.SampleType[vi]
		b = append(b, st.Type...)
		b = append(b, '/')
		b = append(b, st.Unit...)
		b = append(b, ';')
	}
	return string(b)
}

// keyer hashes samples of one profile. Each location is folded once into a polynomial
// hash of its frames (value and multiplier), so a sample's key is the same whether the
// runtime put two inlined frames into one location or two.
type keyer struct {
	// first and rowKeys are Next's scratch (a row's first sample and key), pooled with
	// the keyer: both are sized by the samples of every profile of every scrape.
	first   []int32
	rowKeys []uint64

	seed  maphash.Seed
	fn    map[uint64]uint64 // function ID -> hash of its name
	locs  map[uint64]locHash
	dense []locHash
	done  []bool
}

type locHash struct{ val, pow uint64 }

const prime = 0x100000001b3

var keyerPool = sync.Pool{New: func() any { return &keyer{fn: map[uint64]uint64{}} }}

func newKeyer(seed maphash.Seed, p *profile.Profile) *keyer {
	k := keyerPool.Get().(*keyer)
	k.seed = seed
	k.first = slices.Grow(k.first[:0], len(p.Sample))
	k.rowKeys = slices.Grow(k.rowKeys[:0], len(p.Sample))
	var maxID uint64
	for _, l := range p.Location {
		maxID = max(maxID, l.ID)
	}
	k.locs = nil
	if maxID <= uint64(4*len(p.Location)+64) {
		k.dense = reuse.Zeroed(k.dense, int(maxID)+1)
		k.done = reuse.Zeroed(k.done, int(maxID)+1)
	} else {
		k.dense, k.done = nil, nil
		k.locs = make(map[uint64]locHash, len(p.Location))
	}
	return k
}

func (k *keyer) release() {
	if len(k.fn) > reuse.MaxPooled || cap(k.dense) > reuse.MaxPooled || cap(k.first) > reuse.MaxPooled || cap(k.rowKeys) > reuse.MaxPooled {
		return
	}
	clear(k.fn)
	k.locs = nil
	keyerPool.Put(k)
}

func mix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb3f99d7b2a1d
	x ^= x >> 33
	return x
}

func (k *keyer) loc(l *profile.Location) locHash {
	if k.dense != nil && k.done[l.ID] {
		return k.dense[l.ID]
	}
	if k.dense == nil {
		if h, ok := k.locs[l.ID]; ok {
			return h
		}
	}
	h := locHash{pow: 1}
	frame := func(f uint64) {
		h.val = h.val*prime + f
		h.pow *= prime
	}
	if len(l.Line) == 0 {
		frame(mix(l.Address ^ 0xa5a5a5a5a5a5a5a5))
	}
	for _, ln := range l.Line {
		var fh uint64
		if ln.Function != nil {
			var ok bool
			if fh, ok = k.fn[ln.Function.ID]; !ok {
				fh = maphash.String(k.seed, ln.Function.Name)
				k.fn[ln.Function.ID] = fh
			}
		}
		frame(mix(fh + uint64(ln.Line)*0x9e3779b97f4a7c15)) //nolint:gosec // G115: the line number's bits are hashed, negative ones too; nothing can overflow
	}
	if k.dense != nil {
		k.dense[l.ID], k.done[l.ID] = h, true
	} else {
		k.locs[l.ID] = h
	}
	return h
}

func (k *keyer) sampleKey(s *profile.Sample) uint64 {
	var key uint64
	for _, l := range s.Location {
		h := k.loc(l)
		key = key*h.pow + h.val
	}
	key = mix(key)
	if len(s.Label) == 0 && len(s.NumLabel) == 0 {
		return key
	}
	return key ^ mix(labelsHash(k.seed, s)+1)
}

// labelsHash combines per-label hashes with addition so that map order does not matter.
func labelsHash(seed maphash.Seed, s *profile.Sample) uint64 {
	var labels uint64
	var buf [binary.MaxVarintLen64]byte
	for key, vs := range s.Label {
		var lh maphash.Hash
		lh.SetSeed(seed)
		_, _ = lh.WriteString(key)
		_ = lh.WriteByte(0)
		for _, v := range vs {
			_, _ = lh.WriteString(v)
			_ = lh.WriteByte(0)
		}
		labels += lh.Sum64()
	}
	for key, vs := range s.NumLabel {
		var lh maphash.Hash
		lh.SetSeed(seed)
		_ = lh.WriteByte(1)
		_, _ = lh.WriteString(key)
		_ = lh.WriteByte(0)
		for _, v := range vs {
			_, _ = lh.Write(buf[:binary.PutVarint(buf[:], v)])
		}
		for _, u := range s.NumUnit[key] {
			_, _ = lh.WriteString(u)
			_ = lh.WriteByte(0)
		}
		labels += lh.Sum64()
	}
	return labels
}

// rowIndex is the index of the next of n rows. Rows are indexed with int32 like the
// samples; max_samples keeps them far below 2^31, so more is an internal error (the
// scrape is dropped), never a wrong row.
func rowIndex(n int) int32 {
	if n < 0 || n > math.MaxInt32 {
		panic("pprofscrape: delta over 2^31 rows")
	}
	return int32(n)
}
