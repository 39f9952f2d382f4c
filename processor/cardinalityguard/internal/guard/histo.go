// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package guard

import (
	"math"
	"slices"

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

// histArena stores the members of one merged histogram series as
// fixed-size rows in small chunks, with no per-member allocation: row[0] is
// the member's last timestamp, row[1] its last-seen tick (low 32 bits) and
// folded start time (high 32 bits), row[2] the sum (float64 bits) and
// row[3:] the bucket counts, or the count when the histograms have no
// buckets. The member map only holds row numbers.
type histArena struct {
	rowLen       int
	rowsPerChunk int // set by the first chunk: fills its allocation size class
	chunks       [][]uint64
	free         []uint32
	next         uint32
}

const (
	histChunkRows = 16
	histRowHeader = 3
)

func (a *histArena) alloc() uint32 {
	if n := len(a.free); n > 0 {
		r := a.free[n-1]
		a.free = a.free[:n-1]
		return r
	}
	r := a.next
	a.next++
	if a.rowsPerChunk == 0 {
		// slices.Grow rounds the capacity up to the allocator's size class:
		// use all of it.
		a.rowsPerChunk = cap(slices.Grow([]uint64(nil), histChunkRows*a.rowLen)) / a.rowLen
	}
	if int(r)/a.rowsPerChunk >= len(a.chunks) {
		c := slices.Grow([]uint64(nil), a.rowsPerChunk*a.rowLen)
		a.chunks = append(a.chunks, c[:a.rowsPerChunk*a.rowLen])
	}
	return r
}

func (a *histArena) row(r uint32) []uint64 {
	c := a.chunks[int(r)/a.rowsPerChunk]
	o := int(r) % a.rowsPerChunk * a.rowLen
	return c[o : o+a.rowLen : o+a.rowLen]
}

func (a *histArena) release(r uint32) { a.free = append(a.free, r) }

// meta returns the last-seen tick and folded start of row r.
func (a *histArena) meta(r uint32) (seen, start uint32) {
	m := a.row(r)[1]
	return uint32(m), uint32(m >> 32)
}

// storeRow writes a member's metadata and value h into row.
func storeRow(row []uint64, ts uint64, seen, start uint32, h *histVal) {
	row[0] = ts
	row[1] = uint64(seen) | uint64(start)<<32
	row[2] = math.Float64bits(h.sum)
	if len(h.buckets) == 0 {
		row[3] = h.count
		return
	}
	copy(row[histRowHeader:], h.buckets)
}

// loadRow reads a row's value back into h, reusing h's bucket slice.
func loadRow(row []uint64, bucketless bool, h *histVal) {
	h.sum = math.Float64frombits(row[2])
	if bucketless {
		h.buckets = h.buckets[:0]
		h.count = row[3]
		return
	}
	h.buckets = append(h.buckets[:0], row[histRowHeader:]...)
	h.count = 0
	for _, c := range h.buckets {
		h.count += c
	}
}

// decreased reports whether o has less in any count than prev (a reset).
func (o *histVal) decreased(prev *histVal) bool {
	if o.count < prev.count || len(o.buckets) != len(prev.buckets) {
		return true
	}
	for i, c := range o.buckets {
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

func (e *Engine) mergeHistograms(ms *metricState, dps pmetric.HistogramDataPointSlice, cumulative bool, tick uint32) {
	n := dps.Len()
	outs := map[uint64]*batchOut{}
	order := []uint64{}
	var cur, prev histVal
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
					a.bucketless = dp.BucketCounts().Len() == 0
					a.histRows.rowLen = histRowHeader + max(dp.BucketCounts().Len(), 1)
					a.histMembers = map[uint64]uint32{}
				}
				out.agg = a
			} else {
				out.bounds = dp.ExplicitBounds()
				out.bucketless = dp.BucketCounts().Len() == 0
			}
		}
		var ok bool
		if cumulative {
			ok = sameBounds(out.agg.bounds, dp.ExplicitBounds()) && (dp.BucketCounts().Len() == 0) == out.agg.bucketless
		} else {
			ok = sameBounds(out.bounds.AsRaw(), dp.ExplicitBounds()) && (dp.BucketCounts().Len() == 0) == out.bucketless
		}
		if !ok {
			e.unmergeable(d, ReasonBoundsMismatch)
			continue
		}
		if cumulative {
			a := out.agg
			r, ok := a.histMembers[d.inHash]
			cur.set(dp)
			start := foldStart(dp.StartTimestamp())
			if !ok {
				if e.total >= e.set.MaxSeriesTotal {
					e.refuse(d)
					continue
				}
				e.total++
				r = a.histRows.alloc()
				a.histMembers[d.inHash] = r
				a.histTotal.add(&cur, nil)
			} else {
				row := a.histRows.row(r)
				_, prevStart := a.histRows.meta(r)
				if uint64(dp.Timestamp()) < row[0] {
					// Older than what the member already reported: nothing new.
					row[1] = uint64(tick) | uint64(prevStart)<<32
					e.markMerged(outs, &order, d, out, dp.StartTimestamp(), dp.Timestamp())
					continue
				}
				loadRow(row, a.bucketless, &prev)
				if isReset(start, prevStart) || cur.decreased(&prev) {
					// The member restarted: its previous value stays in the total.
					a.histTotal.add(&cur, nil)
				} else {
					a.histTotal.add(&cur, &prev)
				}
			}
			storeRow(a.histRows.row(r), uint64(dp.Timestamp()), tick, start, &cur)
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
