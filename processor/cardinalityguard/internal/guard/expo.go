// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package guard

import (
	"math"

	"go.opentelemetry.io/collector/pdata/pmetric"
)

const (
	minExpScale = -10
	maxExpScale = 20
	// maxExpBuckets bounds the buckets of each side of a merged exponential
	// histogram (the SDK default); the merge lowers the scale to fit.
	maxExpBuckets = 160
)

type expBuckets struct {
	offset int32
	counts []uint64
}

func (b *expBuckets) empty() bool { return len(b.counts) == 0 }

// last is the index of b's last bucket. No side holds 2^31 buckets (16 GiB
// of counts).
func (b *expBuckets) last() int32 {
	n := len(b.counts)
	if n < 0 || n > math.MaxInt32 {
		panic("guard: exponential histogram bucket count out of range")
	}
	return b.offset + int32(n) - 1
}

// span returns the [lo, hi] bucket index range after lowering the scale by d.
func (b *expBuckets) span(d int32) (lo, hi int32) {
	lo = b.offset >> d
	hi = b.last() >> d
	return lo, hi
}

// downscale lowers the scale of b by d (each step merges bucket pairs).
func (b *expBuckets) downscale(d int32) {
	if d <= 0 || b.empty() {
		return
	}
	lo, hi := b.span(d)
	nc := make([]uint64, hi-lo+1)
	for i, c := range b.counts {
		nc[((b.offset+int32(i))>>d)-lo] += c
	}
	b.offset, b.counts = lo, nc
}

// addShifted adds src, whose scale is d above b's, into b.
func (b *expBuckets) addShifted(src *expBuckets, d int32) {
	if src.empty() {
		return
	}
	slo, shi := src.span(d)
	if b.empty() {
		b.offset, b.counts = slo, make([]uint64, shi-slo+1)
	} else {
		blo, bhi := b.offset, b.last()
		lo, hi := min(blo, slo), max(bhi, shi)
		if lo != blo || hi != bhi {
			nc := make([]uint64, hi-lo+1)
			copy(nc[blo-lo:], b.counts)
			b.offset, b.counts = lo, nc
		}
	}
	for i, c := range src.counts {
		b.counts[((src.offset+int32(i))>>d)-b.offset] += c
	}
}

// expVal is an exponential histogram value.
type expVal struct {
	init           bool
	scale          int32
	zeroCount      uint64
	zeroThreshold  float64
	pos, neg       expBuckets
	count          uint64
	sum            float64
	min, max       float64
	hasSum         bool
	hasMin, hasMax bool
}

func (x *expVal) set(dp pmetric.ExponentialHistogramDataPoint) {
	x.init = true
	x.scale = dp.Scale()
	x.zeroCount, x.zeroThreshold = dp.ZeroCount(), dp.ZeroThreshold()
	x.count = dp.Count()
	x.sum, x.hasSum = dp.Sum(), dp.HasSum()
	x.min, x.hasMin = dp.Min(), dp.HasMin()
	x.max, x.hasMax = dp.Max(), dp.HasMax()
	x.pos.offset, x.pos.counts = dp.Positive().Offset(), dp.Positive().BucketCounts().AsRaw()
	x.neg.offset, x.neg.counts = dp.Negative().Offset(), dp.Negative().BucketCounts().AsRaw()
}

// fitScale returns the highest scale ≤ target at which both a and b (at
// scales sa, sb) fit in maxExpBuckets.
func fitScale(target int32, a *expBuckets, sa int32, b *expBuckets, sb int32) int32 {
	for target > minExpScale {
		lo, hi := int32(0), int32(-1)
		first := true
		for _, side := range []struct {
			b *expBuckets
			s int32
		}{{a, sa}, {b, sb}} {
			if side.b.empty() {
				continue
			}
			l, h := side.b.span(side.s - target)
			if first {
				lo, hi, first = l, h, false
			} else {
				lo, hi = min(lo, l), max(hi, h)
			}
		}
		if first || int64(hi)-int64(lo) < maxExpBuckets {
			return target
		}
		target--
	}
	return target
}

// merge adds o into x at their common (lowest) scale.
func (x *expVal) merge(o *expVal) {
	if !o.init {
		return
	}
	if !x.init {
		*x = expVal{
			init: true, scale: o.scale, zeroCount: o.zeroCount, zeroThreshold: o.zeroThreshold,
			count: o.count, sum: o.sum, min: o.min, max: o.max,
			hasSum: o.hasSum, hasMin: o.hasMin, hasMax: o.hasMax,
			pos: expBuckets{o.pos.offset, append([]uint64(nil), o.pos.counts...)},
			neg: expBuckets{o.neg.offset, append([]uint64(nil), o.neg.counts...)},
		}
		x.fit()
		return
	}
	target := min(x.scale, o.scale)
	target = min(fitScale(target, &x.pos, x.scale, &o.pos, o.scale), fitScale(target, &x.neg, x.scale, &o.neg, o.scale))
	x.pos.downscale(x.scale - target)
	x.neg.downscale(x.scale - target)
	x.scale = target
	x.pos.addShifted(&o.pos, o.scale-target)
	x.neg.addShifted(&o.neg, o.scale-target)
	x.zeroCount += o.zeroCount
	x.zeroThreshold = max(x.zeroThreshold, o.zeroThreshold)
	x.count += o.count
	x.sum += o.sum
	x.hasSum = x.hasSum || o.hasSum
	if o.hasMin && (!x.hasMin || o.min < x.min) {
		x.min, x.hasMin = o.min, true
	}
	if o.hasMax && (!x.hasMax || o.max > x.max) {
		x.max, x.hasMax = o.max, true
	}
}

// fit lowers the scale of x until each side fits maxExpBuckets.
func (x *expVal) fit() {
	empty := expBuckets{}
	t := min(fitScale(x.scale, &x.pos, x.scale, &empty, x.scale), fitScale(x.scale, &x.neg, x.scale, &empty, x.scale))
	x.pos.downscale(x.scale - t)
	x.neg.downscale(x.scale - t)
	x.scale = t
}

func (x *expVal) writeTo(dp pmetric.ExponentialHistogramDataPoint) {
	dp.SetScale(x.scale)
	dp.SetZeroCount(x.zeroCount)
	dp.SetZeroThreshold(x.zeroThreshold)
	dp.SetCount(x.count)
	if x.hasSum {
		dp.SetSum(x.sum)
	}
	if x.hasMin {
		dp.SetMin(x.min)
	}
	if x.hasMax {
		dp.SetMax(x.max)
	}
	dp.Positive().SetOffset(x.pos.offset)
	dp.Positive().BucketCounts().FromRaw(x.pos.counts)
	dp.Negative().SetOffset(x.neg.offset)
	dp.Negative().BucketCounts().FromRaw(x.neg.counts)
}

// validExp reports whether a point's scale and bucket indices are possible
// for float64 values (|index| <= 1100·2^scale), which bounds every merge.
func validExp(dp pmetric.ExponentialHistogramDataPoint) bool {
	s := dp.Scale()
	if s < minExpScale || s > maxExpScale {
		return false
	}
	limit := int64(1100)
	if s >= 0 {
		limit <<= s
	} else {
		limit = limit>>-s + 1
	}
	for _, b := range []pmetric.ExponentialHistogramDataPointBuckets{dp.Positive(), dp.Negative()} {
		n := int64(b.BucketCounts().Len())
		if n == 0 {
			continue
		}
		lo, hi := int64(b.Offset()), int64(b.Offset())+n-1
		if lo < -limit || hi > limit {
			return false
		}
	}
	return true
}
