// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package guard

import (
	"math"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// aggSeries is the cross-batch state of one merged output series of a
// cumulative sum, cumulative (exponential) histogram or a gauge aggregated
// by max, min or sum. It keeps each source series' last value ("members")
// and what members left behind when they reset or expired ("retired"), so
// the output is retired + Σ members: monotonic when every member is.
type aggSeries struct {
	start    uint64 // stable start time of the output
	isDouble bool
	// numbers (sums and gauges)
	numMembers map[uint64]numMember
	totalI     int64
	totalF     float64
	// explicit-bucket histograms
	bounds      []float64
	bucketless  bool
	histMembers map[uint64]uint32 // source series -> row in histRows
	histRows    histArena
	histTotal   histVal
	// exponential histograms
	expMembers map[uint64]*expMember
	expRetired expVal
}

// Members are stored by value and kept small: they are most of the state
// of a merged series. start is folded to 32 bits: it is only compared for
// equality, to detect a restart.
type numMember struct {
	ts    uint64
	val   uint64 // int64 or float64 bits, per aggSeries.isDouble
	seen  uint32
	start uint32
}

type expMember struct {
	ts    uint64
	seen  uint32
	start uint32
	h     expVal
}

// foldStart folds a start timestamp to 32 bits; 0 stays "unknown".
func foldStart(t pcommon.Timestamp) uint32 {
	if t == 0 {
		return 0
	}
	x := uint64(t)
	if f := uint32(x ^ x>>32); f != 0 {
		return f
	}
	return 1
}

func (a *aggSeries) memberCount() int {
	return len(a.numMembers) + len(a.histMembers) + len(a.expMembers)
}

// expireMembers forgets members last seen at or before cutoff; cumulative
// members leave their last value in the total.
func (a *aggSeries) expireMembers(cutoff uint32) int {
	n := 0
	for h, m := range a.numMembers {
		if m.seen <= cutoff {
			delete(a.numMembers, h)
			n++
		}
	}
	for h, r := range a.histMembers {
		if seen, _ := a.histRows.meta(r); seen <= cutoff {
			a.histRows.release(r)
			delete(a.histMembers, h)
			n++
		}
	}
	for h, m := range a.expMembers {
		if m.seen <= cutoff {
			a.expRetired.merge(&m.h)
			delete(a.expMembers, h)
			n++
		}
	}
	return n
}

// batchOut collects the points of one output series within one metric of
// one Process call.
type batchOut struct {
	tmpl       int // index of the first contributing point
	start, ts  uint64
	agg        *aggSeries
	isDouble   bool
	sumI       int64
	sumF       float64
	lastTS     uint64 // gauge last
	hist       histVal
	bounds     pcommon.Float64Slice
	bucketless bool
	exp        expVal
}

func minStart(a, b uint64) uint64 {
	if a == 0 {
		return b
	}
	if b == 0 || a < b {
		return a
	}
	return b
}

// rewrite merges the changed points of m (and unchanged points that belong
// to a merged series) and returns true when m is left with no points.
func (e *Engine) rewrite(ms *metricState, m pmetric.Metric, tick uint32) bool {
	anyChange := false
	for i := range e.decisions {
		if e.decisions[i].changed() || e.decisions[i].refused {
			anyChange = true
			break
		}
	}
	if !anyChange && len(ms.aggs) == 0 {
		return false
	}
	mergedNow := make(map[uint64]struct{})
	for i := range e.decisions {
		if d := &e.decisions[i]; d.changed() && !d.refused {
			mergedNow[d.outHash] = struct{}{}
		}
	}
	for i := range e.decisions {
		d := &e.decisions[i]
		if d.refused {
			continue
		}
		if d.changed() {
			d.merged = true
			continue
		}
		if _, ok := mergedNow[d.outHash]; ok {
			d.merged = true
		} else if _, ok := ms.aggs[d.outHash]; ok {
			d.merged = true
		}
	}

	switch m.Type() {
	case pmetric.MetricTypeSum:
		s := m.Sum()
		e.mergeNumbers(ms, s.DataPoints(), s.AggregationTemporality() == pmetric.AggregationTemporalityCumulative, s.IsMonotonic(), false, tick)
	case pmetric.MetricTypeGauge:
		e.mergeNumbers(ms, m.Gauge().DataPoints(), false, false, true, tick)
	case pmetric.MetricTypeHistogram:
		h := m.Histogram()
		e.mergeHistograms(ms, h.DataPoints(), h.AggregationTemporality() == pmetric.AggregationTemporalityCumulative, tick)
	case pmetric.MetricTypeExponentialHistogram:
		h := m.ExponentialHistogram()
		e.mergeExpHistograms(ms, h.DataPoints(), h.AggregationTemporality() == pmetric.AggregationTemporalityCumulative, tick)
	}
	return pointCount(m) == 0
}

func (e *Engine) refuse(d *decision) {
	d.refused = true
	d.merged = false
	e.stats.Refused[ReasonTotalLimit]++
}

func (e *Engine) unmergeable(d *decision, r Reason) {
	d.merged = false
	e.stats.Unmergeable[r]++
}

func numValue(dp pmetric.NumberDataPoint) (uint64, bool) {
	if dp.ValueType() == pmetric.NumberDataPointValueTypeDouble {
		return math.Float64bits(dp.DoubleValue()), true
	}
	return uint64(dp.IntValue()), false
}

func (e *Engine) newAgg(ms *metricState, h uint64, start uint64) *aggSeries {
	a := &aggSeries{start: start}
	ms.aggs[h] = a
	return a
}

func (e *Engine) mergeNumbers(ms *metricState, dps pmetric.NumberDataPointSlice, cumulative, monotonic, gauge bool, tick uint32) {
	n := dps.Len()
	outs := map[uint64]*batchOut{}
	order := []uint64{}
	stateful := cumulative || (gauge && ms.lim.GaugeAggregation != GaugeLast)
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
		val, isDouble := numValue(dp)
		out := outs[d.outHash]
		if out == nil {
			out = &batchOut{tmpl: i, isDouble: isDouble}
			if stateful {
				a := ms.aggs[d.outHash]
				if a == nil {
					start := dp.StartTimestamp()
					if start == 0 {
						start = dp.Timestamp()
					}
					a = e.newAgg(ms, d.outHash, uint64(start))
					a.isDouble = isDouble
					a.numMembers = map[uint64]numMember{}
				}
				out.agg = a
				out.isDouble = a.isDouble
			}
		}
		if isDouble != out.isDouble {
			e.unmergeable(d, ReasonTypeMismatch)
			continue
		}
		if stateful {
			a := out.agg
			mem, ok := a.numMembers[d.inHash]
			if !ok {
				if e.total >= e.set.MaxSeriesTotal {
					e.refuse(d)
					continue
				}
				e.total++
				mem = numMember{start: foldStart(dp.StartTimestamp())}
				a.addNum(val, 0, true)
			} else if uint64(dp.Timestamp()) < mem.ts {
				// Older than what the member already reported: nothing new.
				mem.seen = tick
				a.numMembers[d.inHash] = mem
				e.markMerged(outs, &order, d, out, dp.StartTimestamp(), dp.Timestamp())
				continue
			} else if cumulative && (isReset(foldStart(dp.StartTimestamp()), mem.start) || (monotonic && a.less(val, mem.val))) {
				// The member restarted: its previous total stays in the output.
				a.addNum(val, 0, true)
				mem.start = foldStart(dp.StartTimestamp())
			} else {
				a.addNum(val, mem.val, false)
			}
			mem.val, mem.ts, mem.seen = val, uint64(dp.Timestamp()), tick
			a.numMembers[d.inHash] = mem
		} else {
			switch {
			case gauge:
				if uint64(dp.Timestamp()) >= out.lastTS {
					out.lastTS = uint64(dp.Timestamp())
					if isDouble {
						out.sumF = math.Float64frombits(val)
					} else {
						out.sumI = int64(val)
					}
				}
			case isDouble:
				out.sumF += math.Float64frombits(val)
			default:
				out.sumI += int64(val)
			}
		}
		e.markMerged(outs, &order, d, out, dp.StartTimestamp(), dp.Timestamp())
	}
	for _, h := range order {
		out := outs[h]
		src := dps.At(out.tmpl)
		dst := dps.AppendEmpty()
		e.outputAttributes(ms.lim, &e.decisions[out.tmpl], src.Attributes(), dst.Attributes())
		dst.SetTimestamp(pcommon.Timestamp(out.ts))
		if !gauge {
			dst.SetStartTimestamp(pcommon.Timestamp(out.start))
		}
		if out.agg != nil {
			a := out.agg
			if cumulative {
				dst.SetStartTimestamp(pcommon.Timestamp(a.start))
			}
			if gauge {
				a.gaugeValue(ms.lim.GaugeAggregation, out)
			} else {
				out.sumI, out.sumF = a.totalI, a.totalF
			}
		}
		if out.isDouble {
			dst.SetDoubleValue(out.sumF)
		} else {
			dst.SetIntValue(out.sumI)
		}
	}
	e.removeIdx = 0
	dps.RemoveIf(func(pmetric.NumberDataPoint) bool { return e.consumedNext() })
}

func isReset(start, prev uint32) bool { return start != 0 && prev != 0 && start != prev }

func (a *aggSeries) less(v, w uint64) bool {
	if a.isDouble {
		return math.Float64frombits(v) < math.Float64frombits(w)
	}
	return int64(v) < int64(w)
}

// addNum adds v (minus old unless fresh) to the running total.
func (a *aggSeries) addNum(v, old uint64, fresh bool) {
	if a.isDouble {
		a.totalF += math.Float64frombits(v)
		if !fresh {
			a.totalF -= math.Float64frombits(old)
		}
		return
	}
	a.totalI += int64(v)
	if !fresh {
		a.totalI -= int64(old)
	}
}

func (a *aggSeries) gaugeValue(agg GaugeAggregation, out *batchOut) {
	first := true
	var fi int64
	var ff float64
	for _, m := range a.numMembers {
		switch {
		case a.isDouble:
			v := math.Float64frombits(m.val)
			switch {
			case first:
				ff = v
			case agg == GaugeMax:
				ff = math.Max(ff, v)
			case agg == GaugeMin:
				ff = math.Min(ff, v)
			default:
				ff += v
			}
		default:
			v := int64(m.val)
			switch {
			case first:
				fi = v
			case agg == GaugeMax:
				fi = max(fi, v)
			case agg == GaugeMin:
				fi = min(fi, v)
			default:
				fi += v
			}
		}
		first = false
	}
	out.sumI, out.sumF = fi, ff
}

// markMerged records that point d contributed to out in this call.
func (e *Engine) markMerged(outs map[uint64]*batchOut, order *[]uint64, d *decision, out *batchOut, start, ts pcommon.Timestamp) {
	if _, ok := outs[d.outHash]; !ok {
		outs[d.outHash] = out
		*order = append(*order, d.outHash)
		out.start, out.ts = uint64(start), uint64(ts)
	} else {
		out.start = minStart(out.start, uint64(start))
		out.ts = max(out.ts, uint64(ts))
	}
	e.countChange(d)
}

// consumedNext is the RemoveIf predicate over the original points followed
// by the appended outputs; e.removeIdx is reset by resetRemove.
func (e *Engine) consumedNext() bool {
	idx := e.removeIdx
	e.removeIdx++
	if idx >= len(e.decisions) {
		return false
	}
	d := &e.decisions[idx]
	return d.refused || d.merged
}
