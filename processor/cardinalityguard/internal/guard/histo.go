// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package guard

import (
	"math"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// histVal is an explicit-bucket histogram value.
type histVal struct {
	count          uint64
	sum            float64
	min, max       float64
	hasSum         bool
	hasMin, hasMax bool
	buckets        []uint64
}

func (h *histVal) set(dp pmetric.HistogramDataPoint) {
	h.count = dp.Count()
	h.sum, h.hasSum = dp.Sum(), dp.HasSum()
	h.min, h.hasMin = dp.Min(), dp.HasMin()
	h.max, h.hasMax = dp.Max(), dp.HasMax()
	bc := dp.BucketCounts()
	if cap(h.buckets) >= bc.Len() {
		h.buckets = h.buckets[:bc.Len()]
	} else {
		h.buckets = make([]uint64, bc.Len())
	}
	for i := range h.buckets {
		h.buckets[i] = bc.At(i)
	}
}

// add adds o to h; when old is not nil it is subtracted (o replaces old).
func (h *histVal) add(o, old *histVal) {
	h.count += o.count
	h.sum += o.sum
	h.hasSum = h.hasSum || o.hasSum
	if old != nil {
		h.count -= old.count
		h.sum -= old.sum
	}
	if len(h.buckets) < len(o.buckets) {
		nb := make([]uint64, len(o.buckets))
		copy(nb, h.buckets)
		h.buckets = nb
	}
	for i, c := range o.buckets {
		h.buckets[i] += c
		if old != nil && i < len(old.buckets) {
			h.buckets[i] -= old.buckets[i]
		}
	}
	if o.hasMin && (!h.hasMin || o.min < h.min) {
		h.min, h.hasMin = o.min, true
	}
	if o.hasMax && (!h.hasMax || o.max > h.max) {
		h.max, h.hasMax = o.max, true
	}
}

// decreased reports whether h has less in any count than prev (a reset).
func (h *histVal) decreased(prev *histVal) bool {
	if h.count < prev.count || len(h.buckets) != len(prev.buckets) {
		return true
	}
	for i, c := range h.buckets {
		if c < prev.buckets[i] {
			return true
		}
	}
	return false
}

func (h *histVal) writeTo(dp pmetric.HistogramDataPoint) {
	dp.SetCount(h.count)
	if h.hasSum {
		dp.SetSum(h.sum)
	}
	if h.hasMin {
		dp.SetMin(h.min)
	}
	if h.hasMax {
		dp.SetMax(h.max)
	}
	dp.BucketCounts().FromRaw(h.buckets)
}

func sameBounds(a []float64, b pcommon.Float64Slice) bool {
	if len(a) != b.Len() {
		return false
	}
	for i, v := range a {
		if b.At(i) != v && !(math.IsNaN(v) && math.IsNaN(b.At(i))) {
			return false
		}
	}
	return true
}

// validHist reports whether the point's bucket counts fit its bounds and
// add up to its count.
func validHist(dp pmetric.HistogramDataPoint) bool {
	bc := dp.BucketCounts()
	n := bc.Len()
	if n == 0 {
		return true
	}
	if n != dp.ExplicitBounds().Len()+1 {
		return false
	}
	var sum uint64
	for i := 0; i < n; i++ {
		sum += bc.At(i)
	}
	return sum == dp.Count()
}
