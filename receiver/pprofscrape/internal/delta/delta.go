// Copyright prodscope authors
// SPDX-License-Identifier: Apache-2.0

// Package delta turns the cumulative values of successive pprof profiles of one
// target (allocations, block and mutex contention, thread creation) into the
// difference since the previous scrape, the way `go tool pprof -base prev cur` does.
package delta // import "github.com/prodscope/prodscope/receiver/pprofscrape/internal/delta"

import (
	"encoding/binary"
	"hash/maphash"
	"slices"

	"github.com/google/pprof/profile"
)

// Result is the delta of one profile against its predecessor.
type Result struct {
	// Samples are indices into the current profile's Sample slice: one representative per
	// distinct (stack, labels) key whose delta is not all zero.
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
	seed     maphash.Seed
	prev     map[uint64][]int64
	prevTime int64
	prevSig  string
	have     bool
}

// NewTracker returns an empty tracker.
func NewTracker() *Tracker {
	return &Tracker{seed: maphash.MakeSeed()}
}

type agg struct {
	first  int32
	values []int64
}

// Next records p as the latest profile and returns its delta against the previous one.
// cumulative lists the sample value indices that are cumulative counters. The outcome is
// Delta only when a previous profile with the same sample types exists and no value went
// backwards or disappeared.
func (t *Tracker) Next(p *profile.Profile, cumulative []int) (*Result, Outcome) {
	width := len(cumulative)
	cur := make(map[uint64]*agg, len(p.Sample))
	order := make([]uint64, 0, len(p.Sample))
	backing := make([]int64, len(p.Sample)*width)
	var h maphash.Hash
	h.SetSeed(t.seed)
	for i, s := range p.Sample {
		k := SampleKey(&h, s)
		a := cur[k]
		if a == nil {
			a = &agg{first: int32(i), values: backing[len(order)*width : (len(order)+1)*width : (len(order)+1)*width]}
			cur[k] = a
			order = append(order, k)
		}
		for j, vi := range cumulative {
			a.values[j] += s.Value[vi]
		}
	}
	sig := signature(p, cumulative)

	prev, prevTime, had := t.prev, t.prevTime, t.have && t.prevSig == sig
	t.prev = make(map[uint64][]int64, len(cur))
	for k, a := range cur {
		t.prev[k] = a.values
	}
	t.prevTime, t.prevSig, t.have = p.TimeNanos, sig, true
	if !had {
		return nil, Baseline
	}

	res := &Result{Width: width, PrevTimeNanos: prevTime, Values: make([]int64, 0, len(order)*width)}
	matched := 0
	for _, k := range order {
		a := cur[k]
		before, ok := prev[k]
		if ok {
			matched++
		}
		zero := true
		for j, v := range a.values {
			var b int64
			if ok {
				b = before[j]
			}
			if v < b {
				return nil, Reset
			}
			if v != b {
				zero = false
			}
		}
		if zero {
			continue
		}
		res.Samples = append(res.Samples, a.first)
		for j, v := range a.values {
			if ok {
				v -= before[j]
			}
			res.Values = append(res.Values, v)
		}
	}
	if matched != len(prev) {
		// A sample of the previous profile is gone: cumulative profiles never lose
		// samples within one process, so the target restarted.
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

// SampleKey hashes what identifies a sample across two profiles of the same process:
// its stack (program counters, or function and line where there is no address) and its
// labels (order-independent).
func SampleKey(h *maphash.Hash, s *profile.Sample) uint64 {
	h.Reset()
	var buf [8]byte
	for _, l := range s.Location {
		if l.Address != 0 {
			binary.LittleEndian.PutUint64(buf[:], l.Address)
			_, _ = h.Write(buf[:])
			continue
		}
		for _, ln := range l.Line {
			if ln.Function != nil {
				_, _ = h.WriteString(ln.Function.Name)
			}
			binary.LittleEndian.PutUint64(buf[:], uint64(ln.Line))
			_, _ = h.Write(buf[:])
		}
		_ = h.WriteByte(0xfe)
	}
	_ = h.WriteByte(0xff)
	key := h.Sum64()
	if len(s.Label) == 0 && len(s.NumLabel) == 0 {
		return key
	}
	// Labels: combine per-entry hashes with addition so map order does not matter.
	seed := h.Seed()
	var labels uint64
	for k, vs := range s.Label {
		var lh maphash.Hash
		lh.SetSeed(seed)
		_, _ = lh.WriteString(k)
		_ = lh.WriteByte(0)
		for _, v := range vs {
			_, _ = lh.WriteString(v)
			_ = lh.WriteByte(0)
		}
		labels += lh.Sum64()
	}
	for k, vs := range s.NumLabel {
		var lh maphash.Hash
		lh.SetSeed(seed)
		_ = lh.WriteByte(1)
		_, _ = lh.WriteString(k)
		_ = lh.WriteByte(0)
		for _, v := range vs {
			binary.LittleEndian.PutUint64(buf[:], uint64(v))
			_, _ = lh.Write(buf[:])
		}
		units := s.NumUnit[k]
		for _, u := range units {
			_, _ = lh.WriteString(u)
			_ = lh.WriteByte(0)
		}
		labels += lh.Sum64()
	}
	return key ^ (labels*0x9e3779b97f4a7c15 + 1)
}

// CumulativeIndices returns the value indices of p that are cumulative counters for the
// given profile type: alloc_* of heap and allocs; every value of block, mutex and
// threadcreate; none for cpu and goroutine.
func CumulativeIndices(profileType string, p *profile.Profile) []int {
	var out []int
	switch profileType {
	case "heap", "allocs":
		for i, st := range p.SampleType {
			if len(st.Type) >= 6 && st.Type[:6] == "alloc_" {
				out = append(out, i)
			}
		}
	case "block", "mutex", "threadcreate":
		for i := range p.SampleType {
			out = append(out, i)
		}
	}
	return slices.Clip(out)
}
