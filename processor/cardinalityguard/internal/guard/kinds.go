// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package guard

import (
	"math"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// The three kinds of mergeable points. Each is a thin view of one metric's
// data points plus the arithmetic of its values.

// numberValues is the arithmetic of number points: a value is the int64 or
// float64 bits (shape.double says which). gauge is how combine works: sums
// use GaugeSum.
type numberValues struct{ gauge GaugeAggregation }

// An int64 value is kept as its two's-complement bits: intBits and bitsInt
// convert without changing a bit (gosec's G115 sees a narrowing where the
// 64 bits are only read with the other sign convention).
func intBits(i int64) uint64 { return uint64(i) } //nolint:gosec // G115: bit-for-bit reinterpretation, nothing narrowed

func bitsInt(u uint64) int64 { return int64(u) } //nolint:gosec // G115: bit-for-bit reinterpretation, nothing narrowed

func (numberValues) set(dst, src *uint64) { *dst = *src }

func (numberValues) add(s *shape, dst, src *uint64) {
	if s.double {
		*dst = math.Float64bits(math.Float64frombits(*dst) + math.Float64frombits(*src))
		return
	}
	*dst = intBits(bitsInt(*dst) + bitsInt(*src))
}

func (n numberValues) combine(s *shape, dst, src *uint64) {
	switch n.gauge {
	case GaugeMax:
		if s.double {
			*dst = math.Float64bits(math.Max(math.Float64frombits(*dst), math.Float64frombits(*src)))
		} else {
			*dst = intBits(max(bitsInt(*dst), bitsInt(*src)))
		}
	case GaugeMin:
		if s.double {
			*dst = math.Float64bits(math.Min(math.Float64frombits(*dst), math.Float64frombits(*src)))
		} else {
			*dst = intBits(min(bitsInt(*dst), bitsInt(*src)))
		}
	default:
		n.add(s, dst, src)
	}
}

func (numberValues) decreased(s *shape, cur, prev *uint64) bool {
	if s.double {
		// A NaN or an infinity is no basis for a reset.
		p := math.Float64frombits(*prev)
		return !math.IsInf(p, 0) && math.Float64frombits(*cur) < p
	}
	return bitsInt(*cur) < bitsInt(*prev)
}

func (numberValues) weight(*uint64) int { return 1 }
func (numberValues) fixedWeight() bool  { return true }

func (numberValues) nonFinite(s *shape, v *uint64) uint32 {
	if !s.double {
		return 0
	}
	return classify(math.Float64frombits(*v))
}

func (numberValues) special(_ *shape, dst, _ *uint64, code uint32) {
	*dst = math.Float64bits(specialValue(code))
}

// classify returns the non-finite code of f (0 when finite).
func classify(f float64) uint32 {
	switch {
	case math.IsNaN(f):
		return nfNaN
	case math.IsInf(f, 1):
		return nfPosInf
	case math.IsInf(f, -1):
		return nfNegInf
	}
	return 0
}

func specialValue(code uint32) float64 {
	switch code {
	case nfPosInf:
		return math.Inf(1)
	case nfNegInf:
		return math.Inf(-1)
	}
	return math.NaN()
}

type numberKind struct {
	numberValues
	dps     pmetric.NumberDataPointSlice
	isGauge bool
}

func (k numberKind) vals() values[uint64]    { return k.numberValues }
func (k numberKind) len() int                { return k.dps.Len() }
func (k numberKind) attrs(i int) pcommon.Map { return k.dps.At(i).Attributes() }
func (k numberKind) appendPoint() int        { k.dps.AppendEmpty(); return k.dps.Len() - 1 }

func (k numberKind) removeIf(f func(int) bool) {
	k.dps.RemoveIf(func(pmetric.NumberDataPoint) bool { return f(0) })
}

func (k numberKind) keepOnly(keep func(int) bool) {
	keepOnly(k.dps, keep, pmetric.NewNumberDataPointSlice)
}
func (k numberKind) inPlace() bool       { return true }
func (k numberKind) shapeOf(i int) shape { return shape{double: isDouble(k.dps.At(i))} }
func isDouble(dp pmetric.NumberDataPoint) bool {
	return dp.ValueType() == pmetric.NumberDataPointValueTypeDouble
}

func (k numberKind) load(i int, v *uint64, h *pointHead) (Reason, bool) {
	dp := k.dps.At(i)
	if h.set(dp.StartTimestamp(), dp.Timestamp(), dp.Flags()) {
		return 0, true
	}
	if isDouble(dp) {
		*v = math.Float64bits(dp.DoubleValue())
	} else {
		*v = intBits(dp.IntValue())
	}
	return 0, true
}

func (k numberKind) matches(i int, s *shape) (Reason, bool) {
	if isDouble(k.dps.At(i)) != s.double {
		return ReasonTypeMismatch, false
	}
	return 0, true
}

func (k numberKind) write(i int, s *shape, v *uint64) {
	dp := k.dps.At(i)
	if ex := dp.Exemplars(); ex.Len() > 0 {
		// A merged point written over its series' first point carries no
		// exemplar of it (as a new point would not).
		ex.RemoveIf(func(pmetric.Exemplar) bool { return true })
	}
	if s.double {
		dp.SetDoubleValue(math.Float64frombits(*v))
	} else {
		dp.SetIntValue(bitsInt(*v))
	}
}

func (k numberKind) stamp(i int, start, ts uint64, stale bool) {
	dp := k.dps.At(i)
	if k.isGauge {
		start = 0 // a merged gauge has no start time
	}
	dp.SetStartTimestamp(pcommon.Timestamp(start))
	dp.SetTimestamp(pcommon.Timestamp(ts))
	dp.SetFlags(pmetric.DefaultDataPointFlags.WithNoRecordedValue(stale))
}

// histValues is the arithmetic of explicit-bucket histKind.
type histValues struct{}

func (histValues) set(dst, src *histVal) {
	b := dst.buckets[:0]
	b = append(b, src.buckets...)
	*dst = *src
	dst.buckets = b
}

func (histValues) add(_ *shape, dst, src *histVal)     { dst.add(src, nil) }
func (histValues) combine(_ *shape, dst, src *histVal) { dst.add(src, nil) }
func (histValues) decreased(_ *shape, cur, prev *histVal) bool {
	return cur.decreased(prev)
}

// A histogram's counts are always finite: only its sum can be NaN or infinite.
func (histValues) nonFinite(_ *shape, v *histVal) uint32 { return classify(v.sum) }

func (h histValues) special(_ *shape, dst, base *histVal, code uint32) {
	h.set(dst, base)
	dst.sum = specialValue(code)
}

// A member: its place in the member list (hash, histVal, times), its
// index slot, its bucket slice and the slack of both; measured 218 B with
// 10 buckets (BenchmarkMemoryPerSeries).
func (histValues) weight(v *histVal) int { return bytesWeight(176 + 8*len(v.buckets)) }
func (histValues) fixedWeight() bool     { return false }

type histKind struct {
	histValues
	dps pmetric.HistogramDataPointSlice
}

func (k histKind) vals() values[histVal]   { return k.histValues }
func (k histKind) len() int                { return k.dps.Len() }
func (k histKind) attrs(i int) pcommon.Map { return k.dps.At(i).Attributes() }
func (k histKind) appendPoint() int        { k.dps.AppendEmpty(); return k.dps.Len() - 1 }

func (k histKind) removeIf(f func(int) bool) {
	k.dps.RemoveIf(func(pmetric.HistogramDataPoint) bool { return f(0) })
}

func (k histKind) keepOnly(keep func(int) bool) {
	keepOnly(k.dps, keep, pmetric.NewHistogramDataPointSlice)
}
func (k histKind) inPlace() bool { return false }

func (k histKind) load(i int, v *histVal, h *pointHead) (Reason, bool) {
	dp := k.dps.At(i)
	if h.set(dp.StartTimestamp(), dp.Timestamp(), dp.Flags()) {
		return 0, true
	}
	if !validHist(dp) {
		return ReasonInvalid, false
	}
	v.set(dp)
	return 0, true
}

func (k histKind) shapeOf(i int) shape {
	dp := k.dps.At(i)
	return shape{bounds: dp.ExplicitBounds().AsRaw(), bucketless: dp.BucketCounts().Len() == 0}
}

func (k histKind) matches(i int, s *shape) (Reason, bool) {
	dp := k.dps.At(i)
	if !sameBounds(s.bounds, dp.ExplicitBounds()) || (dp.BucketCounts().Len() == 0) != s.bucketless {
		return ReasonBoundsMismatch, false
	}
	return 0, true
}

func (k histKind) write(i int, s *shape, v *histVal) {
	dp := k.dps.At(i)
	dp.ExplicitBounds().FromRaw(s.bounds)
	v.writeTo(dp)
}

func (k histKind) stamp(i int, start, ts uint64, stale bool) {
	dp := k.dps.At(i)
	dp.SetStartTimestamp(pcommon.Timestamp(start))
	dp.SetTimestamp(pcommon.Timestamp(ts))
	dp.SetFlags(pmetric.DefaultDataPointFlags.WithNoRecordedValue(stale))
}

// expValues is the arithmetic of exponential histKind.
type expValues struct{}

func (expValues) set(dst, src *expVal) {
	*dst = expVal{}
	dst.merge(src)
}

func (expValues) add(_ *shape, dst, src *expVal)     { dst.merge(src) }
func (expValues) combine(_ *shape, dst, src *expVal) { dst.merge(src) }
func (expValues) decreased(_ *shape, cur, prev *expVal) bool {
	return cur.count < prev.count
}

func (expValues) nonFinite(_ *shape, v *expVal) uint32 { return classify(v.sum) }

func (x expValues) special(_ *shape, dst, base *expVal, code uint32) {
	x.set(dst, base)
	dst.sum = specialValue(code)
}

func (expValues) fixedWeight() bool { return false }

func (expValues) weight(v *expVal) int {
	return bytesWeight(160 + 8*(len(v.pos.counts)+len(v.neg.counts)))
}

type expKind struct {
	expValues
	dps pmetric.ExponentialHistogramDataPointSlice
}

func (k expKind) vals() values[expVal]    { return k.expValues }
func (k expKind) len() int                { return k.dps.Len() }
func (k expKind) attrs(i int) pcommon.Map { return k.dps.At(i).Attributes() }
func (k expKind) appendPoint() int        { k.dps.AppendEmpty(); return k.dps.Len() - 1 }
func (k expKind) removeIf(f func(int) bool) {
	k.dps.RemoveIf(func(pmetric.ExponentialHistogramDataPoint) bool { return f(0) })
}

func (k expKind) keepOnly(keep func(int) bool) {
	keepOnly(k.dps, keep, pmetric.NewExponentialHistogramDataPointSlice)
}
func (k expKind) inPlace() bool                      { return false }
func (k expKind) shapeOf(int) shape                  { return shape{} }
func (k expKind) matches(int, *shape) (Reason, bool) { return 0, true }

func (k expKind) load(i int, v *expVal, h *pointHead) (Reason, bool) {
	dp := k.dps.At(i)
	if h.set(dp.StartTimestamp(), dp.Timestamp(), dp.Flags()) {
		return 0, true
	}
	if !validExp(dp) {
		return ReasonInvalid, false
	}
	v.set(dp)
	return 0, true
}

func (k expKind) write(i int, _ *shape, v *expVal) { v.writeTo(k.dps.At(i)) }

func (k expKind) stamp(i int, start, ts uint64, stale bool) {
	dp := k.dps.At(i)
	dp.SetStartTimestamp(pcommon.Timestamp(start))
	dp.SetTimestamp(pcommon.Timestamp(ts))
	dp.SetFlags(pmetric.DefaultDataPointFlags.WithNoRecordedValue(stale))
}

// pointSlice is what keepOnly needs of a pdata point slice S of points P.
type pointSlice[S any, P interface{ MoveTo(P) }] interface {
	Len() int
	At(i int) P
	AppendEmpty() P
	MoveAndAppendTo(dest S)
}

// keepOnly leaves in dps only the points for which keep is true. RemoveIf
// would visit and reset every other point; this moves the few kept ones to
// a new slice and swaps it in, leaving the rest to the garbage collector.
func keepOnly[S pointSlice[S, P], P interface{ MoveTo(P) }](dps S, keep func(int) bool, newSlice func() S) {
	kept := newSlice()
	for i := range dps.Len() {
		if keep(i) {
			dps.At(i).MoveTo(kept.AppendEmpty())
		}
	}
	dps.MoveAndAppendTo(newSlice()) // dps is left empty
	kept.MoveAndAppendTo(dps)       // into an empty slice: the backing array moves, nothing is copied
}
