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

// decreasedFrom reports whether o has less in any count than the member's
// last value (a reset).
func (o *histVal) decreasedFrom(m *histMember) bool {
	if o.count < m.count || len(o.buckets) != len(m.buckets) {
		return true
	}
	for i, c := range o.buckets {
		if c < m.buckets[i] {
			return true
		}
	}
	return false
}

// addReplacing adds o to h in place of the member's previous value.
func (h *histVal) addReplacing(o *histVal, m *histMember) {
	h.add(o, &histVal{count: m.count, sum: m.sum, buckets: m.buckets})
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

// validHist reports whether the point's bucket counts fit its bounds.
func validHist(dp pmetric.HistogramDataPoint) bool {
	n := dp.BucketCounts().Len()
	return n == 0 || n == dp.ExplicitBounds().Len()+1
}

func (e *Engine) mergeHistograms(ms *metricState, dps pmetric.HistogramDataPointSlice, cumulative bool, tick uint32) {
	n := dps.Len()
	outs := map[uint64]*batchOut{}
	order := []uint64{}
	var cur histVal
	for i := 0; i < n; i++ {
		d := &e.decisions[i]
		if d.refused {
			e.stats.Refused[ReasonTotalLimit]++
			continue
		}
		if !d.merged {
			continue
		}
		dp := dps.At(i)
		if !validHist(dp) {
			e.unmergeable(d, ReasonInvalid)
			continue
		}
		out := outs[d.outHash]
		if out == nil {
			out = &batchOut{tmpl: i}
			if cumulative {
				a := ms.aggs[d.outHash]
				if a == nil {
					start := dp.StartTimestamp()
					if start == 0 {
						start = dp.Timestamp()
					}
					a = e.newAgg(ms, d.outHash, uint64(start))
					a.bounds = dp.ExplicitBounds().AsRaw()
					a.histMembers = map[uint64]histMember{}
				}
				out.agg = a
			} else {
				out.bounds = dp.ExplicitBounds()
			}
		}
		var ok bool
		if cumulative {
			ok = sameBounds(out.agg.bounds, dp.ExplicitBounds())
		} else {
			ok = sameBounds(out.bounds.AsRaw(), dp.ExplicitBounds())
		}
		if !ok {
			e.unmergeable(d, ReasonBoundsMismatch)
			continue
		}
		if cumulative {
			a := out.agg
			mem, ok := a.histMembers[d.inHash]
			cur.set(dp)
			switch {
			case !ok:
				if e.total >= e.set.MaxSeriesTotal {
					e.refuse(d)
					continue
				}
				e.total++
				mem = histMember{start: foldStart(dp.StartTimestamp())}
				a.histTotal.add(&cur, nil)
			case uint64(dp.Timestamp()) < mem.ts:
				mem.seen = tick
				a.histMembers[d.inHash] = mem
				e.markMerged(outs, &order, d, out, dp.StartTimestamp(), dp.Timestamp())
				continue
			case isReset(foldStart(dp.StartTimestamp()), mem.start) || cur.decreasedFrom(&mem):
				a.histTotal.add(&cur, nil)
				mem.start = foldStart(dp.StartTimestamp())
			default:
				a.histTotal.addReplacing(&cur, &mem)
			}
			mem.count, mem.sum = cur.count, cur.sum
			if len(mem.buckets) == len(cur.buckets) {
				copy(mem.buckets, cur.buckets)
			} else {
				mem.buckets = append([]uint64(nil), cur.buckets...)
			}
			mem.ts, mem.seen = uint64(dp.Timestamp()), tick
			a.histMembers[d.inHash] = mem
		} else {
			cur.set(dp)
			out.hist.add(&cur, nil)
		}
		e.markMerged(outs, &order, d, out, dp.StartTimestamp(), dp.Timestamp())
	}
	for _, h := range order {
		out := outs[h]
		src := dps.At(out.tmpl)
		dst := dps.AppendEmpty()
		e.outputAttributes(ms.lim, &e.decisions[out.tmpl], src.Attributes(), dst.Attributes())
		dst.SetTimestamp(pcommon.Timestamp(out.ts))
		if out.agg != nil {
			dst.SetStartTimestamp(pcommon.Timestamp(out.agg.start))
			dst.ExplicitBounds().FromRaw(out.agg.bounds)
			out.agg.histTotal.writeTo(dst)
		} else {
			dst.SetStartTimestamp(pcommon.Timestamp(out.start))
			out.bounds.CopyTo(dst.ExplicitBounds())
			out.hist.writeTo(dst)
		}
	}
	e.removeIdx = 0
	dps.RemoveIf(func(pmetric.HistogramDataPoint) bool { return e.consumedNext() })
}

func (e *Engine) mergeExpHistograms(ms *metricState, dps pmetric.ExponentialHistogramDataPointSlice, cumulative bool, tick uint32) {
	n := dps.Len()
	outs := map[uint64]*batchOut{}
	order := []uint64{}
	for i := 0; i < n; i++ {
		d := &e.decisions[i]
		if d.refused {
			e.stats.Refused[ReasonTotalLimit]++
			continue
		}
		if !d.merged {
			continue
		}
		dp := dps.At(i)
		if !validExp(dp) {
			e.unmergeable(d, ReasonInvalid)
			continue
		}
		out := outs[d.outHash]
		if out == nil {
			out = &batchOut{tmpl: i}
			if cumulative {
				a := ms.aggs[d.outHash]
				if a == nil {
					start := dp.StartTimestamp()
					if start == 0 {
						start = dp.Timestamp()
					}
					a = e.newAgg(ms, d.outHash, uint64(start))
					a.expMembers = map[uint64]*expMember{}
				}
				out.agg = a
			}
		}
		if cumulative {
			a := out.agg
			mem := a.expMembers[d.inHash]
			switch {
			case mem == nil:
				if e.total >= e.set.MaxSeriesTotal {
					e.refuse(d)
					continue
				}
				e.total++
				mem = &expMember{start: foldStart(dp.StartTimestamp())}
				a.expMembers[d.inHash] = mem
			case uint64(dp.Timestamp()) < mem.ts:
				mem.seen = tick
				e.markMerged(outs, &order, d, out, dp.StartTimestamp(), dp.Timestamp())
				continue
			case isReset(foldStart(dp.StartTimestamp()), mem.start) || dp.Count() < mem.h.count:
				a.expRetired.merge(&mem.h)
				mem.start = foldStart(dp.StartTimestamp())
			}
			mem.h.set(dp)
			mem.ts, mem.seen = uint64(dp.Timestamp()), tick
		} else {
			var cur expVal
			cur.set(dp)
			out.exp.merge(&cur)
		}
		e.markMerged(outs, &order, d, out, dp.StartTimestamp(), dp.Timestamp())
	}
	for _, h := range order {
		out := outs[h]
		src := dps.At(out.tmpl)
		dst := dps.AppendEmpty()
		e.outputAttributes(ms.lim, &e.decisions[out.tmpl], src.Attributes(), dst.Attributes())
		dst.SetTimestamp(pcommon.Timestamp(out.ts))
		if a := out.agg; a != nil {
			dst.SetStartTimestamp(pcommon.Timestamp(a.start))
			var acc expVal
			acc.merge(&a.expRetired)
			for _, m := range a.expMembers {
				acc.merge(&m.h)
			}
			acc.writeTo(dst)
		} else {
			dst.SetStartTimestamp(pcommon.Timestamp(out.start))
			out.exp.writeTo(dst)
		}
	}
	e.removeIdx = 0
	dps.RemoveIf(func(pmetric.ExponentialHistogramDataPoint) bool { return e.consumedNext() })
}
