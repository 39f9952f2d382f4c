// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package guard

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// The merge: one loop (mergePoints) over the points of one metric, written
// once for every point type over a small per-type interface (kind), as
// contrib's deltatocumulative does with its data package. The Engine's
// decisions say which points merge into which output series; the merge
// keeps the cross-batch state of merged series (aggSeries) and writes the
// merged points. Data flows one way: decisions in, points out.

// values is the arithmetic on values V of one point type, with no
// reference to any batch: merged series keep it.
type values[V any] interface {
	// set makes dst a copy of src; add adds src into dst (combine does
	// what the series' aggregation does: add, or a gauge's max/min/sum).
	set(dst, src *V)
	add(s *shape, dst, src *V)
	combine(s *shape, dst, src *V)
	// decreased reports whether a monotonic value went down (a reset).
	decreased(s *shape, cur, prev *V) bool
	// weight is what a member holding v counts against max_series_total;
	// fixedWeight reports that it is the same for every value.
	weight(v *V) int
	fixedWeight() bool
	// nonFinite classifies v: 0 when it holds no NaN or infinity, else
	// nfNaN, nfPosInf or nfNegInf; special writes into dst the value base
	// with that non-finite number in it.
	nonFinite(s *shape, v *V) uint32
	special(s *shape, dst, base *V, code uint32)
}

// kind is the per-type part of the merge: access to the points of one
// metric, and the arithmetic on their values.
type kind[V any] interface {
	values[V]
	vals() values[V]
	len() int
	attrs(i int) pcommon.Map
	// load reads point i (one call per point: this is the merge's inner
	// loop): its times and staleness into h and, unless it is stale, its
	// value into v, reusing v's storage; it returns false and a reason when
	// the point cannot be merged.
	load(i int, v *V, h *pointHead) (Reason, bool)
	// shapeOf is what every point of an output series must share with
	// point i (number type, histogram bounds); matches compares.
	shapeOf(i int) shape
	matches(i int, s *shape) (Reason, bool)
	// appendPoint appends an empty point and returns its index; write
	// fills its value and stamp its times and flags.
	appendPoint() int
	write(i int, s *shape, v *V)
	stamp(i int, start, ts uint64, stale bool)
	removeIf(func(i int) bool)
	// keepOnly leaves only the points for which keep is true (when few stay).
	keepOnly(keep func(i int) bool)
	// inPlace reports whether write and stamp overwrite every part of a
	// point's value: then the first point of a merged series becomes its
	// output, edited in place, instead of a new point with its attributes
	// copied.
	inPlace() bool
}

// pointHead is what the merge reads of every point besides its value.
type pointHead struct {
	start, ts uint64
	// stale: the NoRecordedValue flag (the point carries no value).
	stale bool
}

// set fills h and reports whether the point is stale.
func (h *pointHead) set(start, ts pcommon.Timestamp, f pmetric.DataPointFlags) bool {
	h.start, h.ts, h.stale = uint64(start), uint64(ts), f.NoRecordedValue()
	return h.stale
}

// shape is what points merged into one output series must share.
type shape struct {
	double     bool      // numberKind: float64 values
	bounds     []float64 // histKind: the explicit bounds
	bucketless bool      // histKind: points without buckets
}

// mergeMode is how the points of an output series combine.
type mergeMode uint8

const (
	// modeDelta adds the points of one batch (delta sums and histKind).
	modeDelta mergeMode = iota
	// modeLast takes the newest point of one batch (gauges, last).
	modeLast
	// modeMonotonic keeps every member's last value: the output is what
	// restarted or forgotten members left behind plus the sum of the
	// members' values (cumulative monotonic sums and histKind).
	modeMonotonic
	// modeLevel keeps every member's last value: the output combines the
	// live members' values; a member that restarts, goes stale or is
	// forgotten leaves nothing behind (cumulative non-monotonic sums, and
	// gauges aggregated by max, min or sum).
	modeLevel
)

func (m mergeMode) stateful() bool { return m >= modeMonotonic }

// member is the last point of one source series of a merged series.
// Members are stored by value and kept small: for sums and gauges they are
// most of the engine's state.
type member[V any] struct {
	h     uint64 // the source series (hash of its attribute set)
	ts    uint64 // time of the last point
	val   V
	seen  uint32 // stamp of the last point
	start uint32 // folded start time, with the stale bit
}

// A member's start field holds the start time folded to 29 bits (it is
// only compared for equality, to detect a restart), a stale bit (its last
// point had the NoRecordedValue flag) and two bits saying that its last
// point was NaN or an infinity. A member's val is always its last finite
// value: the basis for detecting a reset and what a restart leaves behind.
const (
	staleBit  = 1 << 31
	nfShift   = 29
	nfMask    = 3 << nfShift
	startMask = 1<<nfShift - 1

	nfNaN    = 1
	nfPosInf = 2
	nfNegInf = 3
)

func foldStart(t uint64) uint32 {
	if t == 0 {
		return 0
	}
	f := uint32((t ^ t>>32 ^ t>>61) & startMask)
	if f == 0 {
		return 1
	}
	return f
}

func isReset(start, prev uint32) bool {
	start, prev = start&startMask, prev&startMask
	return start != 0 && prev != 0 && start != prev
}

// aggState is the type-independent view of an aggSeries, for the sweep.
type aggState interface {
	// expire forgets the members unseen for long enough and returns the
	// entries freed, and whether the series is left empty (and freed).
	expire(e *Engine) (freed int, empty bool)
}

// aggSeries is the cross-batch state of one merged output series.
type aggSeries[V any] struct {
	vals    values[V]
	mode    mergeMode
	shape   shape
	shaped  bool
	start   uint64 // stable start time of the output
	lastTS  uint64 // time of the last output point: never goes back
	members memberSet[V]
	// retired is what restarted or forgotten members of a monotonic
	// series left behind.
	retired    V
	hasRetired bool
	scratch    V   // for total
	weight     int // entries counted for this series and its members
}

func (a *aggSeries[V]) expire(e *Engine) (int, bool) {
	keep := e.windowMs
	if a.mode == modeMonotonic {
		keep = e.keepMs
	}
	freed := 0
	// Backwards: removeAt moves the last member, already seen, into p.
	for p := a.members.len() - 1; p >= 0; p-- {
		m := &a.members.list[p]
		if e.age(m.seen) < keep {
			continue
		}
		if a.mode == modeMonotonic {
			a.retire(&m.val)
		}
		w := a.vals.weight(&m.val)
		freed += w
		a.weight -= w
		a.members.removeAt(p)
	}
	if a.members.len() == 0 {
		return freed + a.weight, true
	}
	return freed, false
}

func (a *aggSeries[V]) retire(v *V) {
	if !a.hasRetired {
		a.vals.set(&a.retired, v)
		a.hasRetired = true
		return
	}
	a.vals.add(&a.shape, &a.retired, v)
}

// total computes the output value from scratch (never by subtraction, so a
// NaN or an infinity lasts only as long as a member's last value carries
// it); stale is true when every member is stale.
func (a *aggSeries[V]) total(e *Engine, v *V) (stale bool) {
	k := a.vals
	first := true
	if a.mode == modeMonotonic && a.hasRetired {
		k.set(v, &a.retired)
		first = false
	}
	stale = true
	for p := range a.members.list {
		m := &a.members.list[p]
		isStale := m.start&staleBit != 0
		if a.mode == modeLevel && e.age(m.seen) >= e.windowMs {
			// Forgotten, whether or not the sweep has run yet: the window
			// is exact to the millisecond.
			continue
		}
		if !isStale {
			stale = false
		}
		if isStale && a.mode == modeLevel {
			continue
		}
		val := &m.val
		if code := m.start & nfMask >> nfShift; code != 0 {
			// The member's last point was NaN or an infinity: so is its part.
			k.special(&a.shape, &a.scratch, &m.val, code)
			val = &a.scratch
		}
		if first {
			k.set(v, val)
			first = false
		} else {
			k.combine(&a.shape, v, val)
		}
	}
	if first {
		var zero V
		k.set(v, &zero)
	}
	return stale
}

// batchOut collects the points of one output series within one metric of
// one Process call.
type batchOut[V any] struct {
	key       uint64 // aggKey
	tmpl      int    // index of the first contributing point
	n         int    // contributing points
	start, ts uint64
	shape     shape
	shaped    bool // shape was set by a point with a value
	agg       *aggSeries[V]
	acc       V
	has       bool // acc holds a value
	lastTS    uint64
	// cursor is where agg's next member is expected: just after the
	// previous point's.
	cursor int
	fresh  member[V]
}

// mergePoints merges the points that e.decisions mark as merged into one
// point per output series and removes the others: the output is the
// series' first point rewritten in place (kinds whose writers overwrite a
// whole point: numbers), or a new point appended to the metric.
func mergePoints[V any](e *Engine, ms *metricState, k kind[V], mode mergeMode) {
	n := k.len()
	// The output series of this call, in the order they first came, and
	// their index by aggKey.
	var outs []batchOut[V]
	e.outs.reset()
	var cur V
	var head pointHead
	fixedWeight := k.fixedWeight()
	now := e.stamp
	for i := 0; i < n; i++ {
		d := &e.decisions[i]
		if d.refused {
			e.stats.Refused[ReasonTotalLimit]++
			continue
		}
		if !d.merged {
			continue
		}
		// A stale point carries no value to read or to check.
		if r, ok := k.load(i, &cur, &head); !ok {
			e.unmergeable(d, r)
			continue
		}
		stale, start, ts := head.stale, head.start, head.ts
		oi := e.outs.get(d.aggKey)
		if oi < 0 {
			nb := batchOut[V]{key: d.aggKey, tmpl: i, shape: k.shapeOf(i)}
			if mode.stateful() {
				a, _ := ms.aggs[d.aggKey].(*aggSeries[V])
				if a == nil {
					if !e.reserve(weightAgg) {
						e.passThrough(d)
						continue
					}
					first := start
					if first == 0 {
						first = ts
					}
					a = &aggSeries[V]{vals: k.vals(), mode: mode, shape: nb.shape, start: first, weight: weightAgg}
					ms.aggs[d.aggKey] = a
				}
				nb.agg = a
				nb.shape, nb.shaped = a.shape, a.shaped
			}
			oi = len(outs)
			e.outs.put(d.aggKey, oi)
			outs = append(outs, nb)
		}
		out := &outs[oi]
		if !stale {
			if out.shaped {
				if r, ok := k.matches(i, &out.shape); !ok {
					e.unmergeable(d, r)
					continue
				}
			} else {
				// The first point with a value sets the shape.
				out.shape, out.shaped = k.shapeOf(i), true
				if out.agg != nil {
					out.agg.shape, out.agg.shaped = out.shape, true
				}
			}
		}
		if mode.stateful() {
			a := out.agg
			p := out.cursor
			if p >= a.members.len() || a.members.list[p].h != d.inHash {
				p = a.members.find(d.inHash)
			}
			// m is the member in place, or a new one in out.fresh (no
			// allocation per point).
			m := &out.fresh
			if p >= 0 {
				m = &a.members.list[p]
			}
			switch {
			case p < 0:
				*m = member[V]{h: d.inHash, ts: ts, start: foldStart(start)}
				switch nf := k.nonFinite(&out.shape, &cur); {
				case stale:
					m.start |= staleBit
				case nf != 0:
					m.start |= nf << nfShift
				default:
					k.set(&m.val, &cur)
				}
				w := k.weight(&m.val)
				if !e.reserve(w) {
					e.passThrough(d)
					continue
				}
				a.weight += w
			case ts < m.ts:
				// A late point: nothing new, and no reset.
			case ts == m.ts && mode == modeMonotonic && !stale &&
				(isReset(foldStart(start), m.start) || k.nonFinite(&a.shape, &cur) != 0 || k.decreased(&a.shape, &cur, &m.val)):
				// A duplicate of the last timestamp never fakes a reset.
			case stale:
				// The source series went away: not a reset. A monotonic
				// member's last value stays in the output.
				m.start = m.start&startMask | staleBit
				m.ts = ts
			default:
				fs := foldStart(start)
				nf := k.nonFinite(&a.shape, &cur)
				restarted := isReset(fs, m.start) || (nf == 0 && k.decreased(&a.shape, &cur, &m.val))
				if restarted && mode == modeMonotonic {
					// Restarted: its previous total stays in the output.
					a.retire(&m.val)
				}
				old := 0
				if !fixedWeight {
					old = k.weight(&m.val)
				}
				switch {
				case nf == 0:
					// A level (up-down counter, gauge) just takes the new value.
					k.set(&m.val, &cur)
				case restarted:
					var zero V
					k.set(&m.val, &zero)
				}
				if !fixedWeight {
					dw := k.weight(&m.val) - old
					e.total += dw
					a.weight += dw
				}
				m.start, m.ts = fs|nf<<nfShift, ts
			}
			m.seen = now
			if p < 0 {
				p = a.members.add(*m)
				// The next new member gets storage of its own.
				out.fresh = member[V]{}
			}
			out.cursor = p + 1
		} else if !stale {
			switch {
			case mode == modeLast:
				if !out.has || ts >= out.lastTS {
					k.set(&out.acc, &cur)
					out.lastTS = ts
				}
			case !out.has:
				k.set(&out.acc, &cur)
			default:
				k.add(&out.shape, &out.acc, &cur)
			}
			out.has = true
		}
		if out.n == 0 {
			out.tmpl, out.start, out.ts = i, start, ts
		} else {
			out.start = minStart(out.start, start)
			out.ts = max(out.ts, ts)
		}
		out.n++
		e.countChange(ms, d)
	}
	var v V
	reuse := k.inPlace()
	merged, consumed := 0, 0
	for o := range outs {
		out := &outs[o]
		if out.n == 0 {
			if a := out.agg; a != nil && a.members.len() == 0 {
				// Created for points that then found no room: forget it.
				e.total -= a.weight
				delete(ms.aggs, out.key)
			}
			continue
		}
		merged += out.n
		var j int
		if reuse {
			// The series' first point becomes its output.
			j = out.tmpl
			e.editAttributes(ms.lim, &e.decisions[j], k.attrs(j))
			e.decisions[j].merged = false // stays
			consumed += out.n - 1
		} else {
			j = k.appendPoint()
			e.outputAttributes(ms.lim, &e.decisions[out.tmpl], k.attrs(out.tmpl), k.attrs(j))
			consumed += out.n
		}
		start, ts := out.start, out.ts
		stale := !out.has
		if a := out.agg; a != nil {
			stale = a.total(e, &v)
			start = a.start
			ts = max(ts, a.lastTS)
			a.lastTS = ts
		} else if out.has {
			k.set(&v, &out.acc)
		} else {
			var zero V
			k.set(&v, &zero)
		}
		k.write(j, &out.shape, &v)
		k.stamp(j, start, ts, stale)
	}
	e.stats.Merged += int64(merged)
	switch total := k.len(); {
	case consumed == 0:
	case 8*(total-consumed) <= total:
		// Few points stay (the outputs, say): move them to a fresh slice
		// rather than have RemoveIf visit and reset every merged point.
		k.keepOnly(func(i int) bool { return i >= n || !e.decisions[i].merged })
	default:
		e.removeIdx = 0
		k.removeIf(func(int) bool { return e.consumedNext() })
	}
}

// passThrough leaves a point as it came: max_series_total has no room to
// merge it.
func (e *Engine) passThrough(d *decision) {
	d.refused = true
	d.merged = false
	e.stats.Refused[ReasonTotalLimit]++
}

func (e *Engine) unmergeable(d *decision, r Reason) {
	d.merged = false
	e.stats.Unmergeable[r]++
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

// consumedNext is the RemoveIf predicate over the original points followed
// by the appended outputs; e.removeIdx is reset before each pass.
func (e *Engine) consumedNext() bool {
	idx := e.removeIdx
	e.removeIdx++
	if idx >= len(e.decisions) {
		return false
	}
	return e.decisions[idx].merged
}

// rewrite merges the changed points of m (and unchanged points that belong
// to a merged series of the same stream).
func (e *Engine) rewrite(ms *metricState, stream streamRef, m pmetric.Metric) {
	anyChange := false
	for i := range e.decisions {
		if d := &e.decisions[i]; d.changed() && !d.refused {
			anyChange = true
			break
		}
	}
	if !anyChange && len(ms.aggs) == 0 {
		for i := range e.decisions {
			if e.decisions[i].refused {
				e.stats.Refused[ReasonTotalLimit]++
			}
		}
		return
	}
	// A changed point merges.
	unchanged := false
	for i := range e.decisions {
		d := &e.decisions[i]
		d.aggKey = mixKV(uint64(stream), d.outHash)
		switch {
		case d.refused:
		case d.changed():
			d.merged = true
		default:
			unchanged = true
		}
	}
	if unchanged {
		// An unchanged point merges when its output series is merged now
		// or was before.
		mergedNow := make(map[uint64]struct{})
		for i := range e.decisions {
			if d := &e.decisions[i]; d.merged {
				mergedNow[d.aggKey] = struct{}{}
			}
		}
		for i := range e.decisions {
			d := &e.decisions[i]
			if d.merged || d.refused {
				continue
			}
			if _, ok := mergedNow[d.aggKey]; ok {
				d.merged = true
			} else if _, ok := ms.aggs[d.aggKey]; ok {
				d.merged = true
			}
		}
	}
	switch m.Type() {
	case pmetric.MetricTypeSum:
		s := m.Sum()
		mode := modeDelta
		if s.AggregationTemporality() == pmetric.AggregationTemporalityCumulative {
			mode = modeLevel
			if s.IsMonotonic() {
				mode = modeMonotonic
			}
		}
		mergePoints[uint64](e, ms, numberKind{dps: s.DataPoints(), numberValues: numberValues{gauge: GaugeSum}}, mode)
	case pmetric.MetricTypeGauge:
		mode := modeLevel
		if ms.lim.GaugeAggregation == GaugeLast {
			mode = modeLast
		}
		mergePoints[uint64](e, ms, numberKind{dps: m.Gauge().DataPoints(), numberValues: numberValues{gauge: ms.lim.GaugeAggregation}, isGauge: true}, mode)
	case pmetric.MetricTypeHistogram:
		h := m.Histogram()
		mergePoints[histVal](e, ms, histKind{dps: h.DataPoints()}, cumulativeMode(h.AggregationTemporality()))
	case pmetric.MetricTypeExponentialHistogram:
		h := m.ExponentialHistogram()
		mergePoints[expVal](e, ms, expKind{dps: h.DataPoints()}, cumulativeMode(h.AggregationTemporality()))
	}
}

func cumulativeMode(t pmetric.AggregationTemporality) mergeMode {
	if t == pmetric.AggregationTemporalityCumulative {
		return modeMonotonic
	}
	return modeDelta
}
