// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package guard

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

func cum(i int, start, ts uint64, v int64) pt {
	return pt{attrs: user(i), start: start, ts: ts, i: v}
}

// Always drop user_id so that every point of the test metric merges.
func dropUser(s *Settings) { s.Default.AlwaysDrop = []string{"user_id"} }

func TestCumulativeSumAcrossBatchesAndResets(t *testing.T) {
	e := newTestEngine(newClock(), dropUser)
	run := func(pts ...pt) pmetric.NumberDataPoint {
		b := newBatch("shop").sum("c", true, pts...)
		e.Process(b.md)
		got := numbers(t, b.md, "c")
		require.Len(t, got, 1)
		return got["shop|"]
	}
	p := run(cum(1, 10, 100, 10), cum(2, 20, 100, 5))
	assert.Equal(t, int64(15), p.IntValue())
	assert.Equal(t, pcommon.Timestamp(10), p.StartTimestamp())
	// Only u1 reports: u2's latest value still counts.
	p = run(cum(1, 10, 200, 12))
	assert.Equal(t, int64(17), p.IntValue())
	assert.Equal(t, pcommon.Timestamp(10), p.StartTimestamp(), "stable start time")
	assert.Equal(t, pcommon.Timestamp(200), p.Timestamp())
	// u2 restarts (new start time, value 1): absorbed, no false reset.
	p = run(cum(2, 250, 300, 1))
	assert.Equal(t, int64(18), p.IntValue())
	// u1 resets without a start time (value went down): also absorbed.
	p = run(cum(1, 0, 400, 3))
	assert.Equal(t, int64(21), p.IntValue())
	// A new member joins with its cumulative value.
	p = run(cum(3, 5, 500, 100))
	assert.Equal(t, int64(121), p.IntValue())
	assert.Equal(t, pcommon.Timestamp(10), p.StartTimestamp())
	// An out-of-order older point changes nothing.
	p = run(cum(1, 10, 150, 11))
	assert.Equal(t, int64(121), p.IntValue())
}

func TestDeltaSumsAdd(t *testing.T) {
	e := newTestEngine(newClock(), dropUser)
	b := newBatch("shop").sum("d", false,
		pt{attrs: user(1), start: 10, ts: 20, f: 1.5, double: true},
		pt{attrs: user(2), start: 5, ts: 25, f: 2.5, double: true})
	e.Process(b.md)
	p := numbers(t, b.md, "d")["shop|"]
	assert.InDelta(t, 4.0, p.DoubleValue(), 1e-9)
	assert.Equal(t, pcommon.Timestamp(5), p.StartTimestamp())
	assert.Equal(t, pcommon.Timestamp(25), p.Timestamp())
	// Next batch: deltas are not carried over.
	b = newBatch("shop").sum("d", false, pt{attrs: user(1), start: 20, ts: 30, f: 1, double: true})
	e.Process(b.md)
	assert.InDelta(t, 1.0, numbers(t, b.md, "d")["shop|"].DoubleValue(), 1e-9)
}

// An unchanged point whose attribute set equals a merged series joins it,
// so the output never holds two points of one series.
func TestUnchangedPointJoinsMergedSeries(t *testing.T) {
	e := newTestEngine(newClock(), dropUser)
	b := newBatch("shop").sum("c", true,
		pt{attrs: map[string]any{}, start: 1, ts: 10, i: 7},
		cum(1, 1, 10, 3))
	e.Process(b.md)
	assert.Equal(t, map[string]int64{"shop|": 10}, intValues(t, b.md, "c"))
	b = newBatch("shop").sum("c", true, pt{attrs: map[string]any{}, start: 1, ts: 20, i: 8})
	e.Process(b.md)
	assert.Equal(t, map[string]int64{"shop|": 11}, intValues(t, b.md, "c"))
}

func TestGaugeAggregation(t *testing.T) {
	for _, tc := range []struct {
		agg  GaugeAggregation
		want [2]float64 // after batch 1, after batch 2
	}{
		{GaugeLast, [2]float64{5, 1}},
		{GaugeMax, [2]float64{5, 5}},
		{GaugeMin, [2]float64{2, 1}},
		{GaugeSum, [2]float64{7, 6}},
	} {
		e := newTestEngine(newClock(), func(s *Settings) {
			dropUser(s)
			s.Default.GaugeAggregation = tc.agg
		})
		b := newBatch("shop").gauge("g",
			pt{attrs: user(1), ts: 10, f: 2, double: true},
			pt{attrs: user(2), ts: 20, f: 5, double: true})
		e.Process(b.md)
		assert.InDelta(t, tc.want[0], numbers(t, b.md, "g")["shop|"].DoubleValue(), 1e-9, "agg %d", tc.agg)
		b = newBatch("shop").gauge("g", pt{attrs: user(1), ts: 30, f: 1, double: true})
		e.Process(b.md)
		p := numbers(t, b.md, "g")["shop|"]
		assert.InDelta(t, tc.want[1], p.DoubleValue(), 1e-9, "agg %d", tc.agg)
		assert.Equal(t, pcommon.Timestamp(30), p.Timestamp())
	}
}

func histBatch(name string, cumulative bool, pts ...func(pmetric.HistogramDataPoint)) *batch {
	b := newBatch("shop")
	m := b.ms.AppendEmpty()
	m.SetName(name)
	h := m.SetEmptyHistogram()
	h.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	if cumulative {
		h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	}
	for _, f := range pts {
		f(h.DataPoints().AppendEmpty())
	}
	return b
}

func hp(u int, start, ts uint64, bounds []float64, counts []uint64, sum float64) func(pmetric.HistogramDataPoint) {
	return func(dp pmetric.HistogramDataPoint) {
		putAttrs(dp.Attributes(), user(u))
		dp.SetStartTimestamp(pcommon.Timestamp(start))
		dp.SetTimestamp(pcommon.Timestamp(ts))
		dp.ExplicitBounds().FromRaw(bounds)
		dp.BucketCounts().FromRaw(counts)
		var c uint64
		for _, x := range counts {
			c += x
		}
		dp.SetCount(c)
		dp.SetSum(sum)
	}
}

func histPoints(md pmetric.Metrics, name string) map[string]pmetric.HistogramDataPoint {
	out := map[string]pmetric.HistogramDataPoint{}
	forMetric(md, name, func(_ string, m pmetric.Metric) {
		for i := 0; i < m.Histogram().DataPoints().Len(); i++ {
			dp := m.Histogram().DataPoints().At(i)
			out[attrKey(dp.Attributes())] = dp
		}
	})
	return out
}

func TestCumulativeHistogramMergesEqualBoundsOnly(t *testing.T) {
	e := newTestEngine(newClock(), dropUser)
	bounds := []float64{1, 10}
	b := histBatch("h", true,
		hp(1, 10, 100, bounds, []uint64{1, 2, 3}, 50),
		hp(2, 20, 100, bounds, []uint64{4, 0, 1}, 20),
		hp(3, 20, 100, []float64{5}, []uint64{1, 1}, 6)) // other bounds: passes through
	st := e.Process(b.md)
	got := histPoints(b.md, "h")
	require.Len(t, got, 2)
	assert.Equal(t, []uint64{5, 2, 4}, got[""].BucketCounts().AsRaw())
	assert.Equal(t, uint64(11), got[""].Count())
	assert.InDelta(t, 70, got[""].Sum(), 1e-9)
	assert.Equal(t, pcommon.Timestamp(10), got[""].StartTimestamp())
	assert.Equal(t, []uint64{1, 1}, got["user_id=u3"].BucketCounts().AsRaw())
	assert.Equal(t, int64(1), st.Unmergeable[ReasonBoundsMismatch])
	assert.Equal(t, int64(2), st.LabelDropped[ReasonAlwaysDrop])

	// u1 grows, u2 resets: the output keeps growing.
	b = histBatch("h", true,
		hp(1, 10, 200, bounds, []uint64{2, 2, 3}, 51),
		hp(2, 150, 200, bounds, []uint64{1, 0, 0}, 0.5))
	e.Process(b.md)
	got = histPoints(b.md, "h")
	assert.Equal(t, []uint64{7, 2, 4}, got[""].BucketCounts().AsRaw())
	assert.Equal(t, uint64(13), got[""].Count())
	assert.InDelta(t, 71.5, got[""].Sum(), 1e-9) // 70 + 1 (u1 grew) + 0.5 (u2 after its reset)
	assert.Equal(t, pcommon.Timestamp(10), got[""].StartTimestamp())
}

func TestDeltaHistogramAdds(t *testing.T) {
	e := newTestEngine(newClock(), dropUser)
	bounds := []float64{1}
	b := histBatch("h", false, hp(1, 1, 2, bounds, []uint64{1, 1}, 3), hp(2, 1, 2, bounds, []uint64{2, 0}, 1))
	e.Process(b.md)
	got := histPoints(b.md, "h")
	require.Len(t, got, 1)
	assert.Equal(t, []uint64{3, 1}, got[""].BucketCounts().AsRaw())
	assert.Equal(t, []float64{1}, got[""].ExplicitBounds().AsRaw())
}

func expBatch(cumulative bool, pts ...func(pmetric.ExponentialHistogramDataPoint)) *batch {
	b := newBatch("shop")
	m := b.ms.AppendEmpty()
	m.SetName("e")
	h := m.SetEmptyExponentialHistogram()
	h.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	if cumulative {
		h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	}
	for _, f := range pts {
		f(h.DataPoints().AppendEmpty())
	}
	return b
}

func ep(u int, start, ts uint64, scale, offset int32, counts []uint64, zero uint64) func(pmetric.ExponentialHistogramDataPoint) {
	return func(dp pmetric.ExponentialHistogramDataPoint) {
		putAttrs(dp.Attributes(), user(u))
		dp.SetStartTimestamp(pcommon.Timestamp(start))
		dp.SetTimestamp(pcommon.Timestamp(ts))
		dp.SetScale(scale)
		dp.Positive().SetOffset(offset)
		dp.Positive().BucketCounts().FromRaw(counts)
		dp.SetZeroCount(zero)
		c := zero
		for _, x := range counts {
			c += x
		}
		dp.SetCount(c)
	}
}

func expPoint(t *testing.T, md pmetric.Metrics) pmetric.ExponentialHistogramDataPoint {
	var out []pmetric.ExponentialHistogramDataPoint
	forMetric(md, "e", func(_ string, m pmetric.Metric) {
		for i := 0; i < m.ExponentialHistogram().DataPoints().Len(); i++ {
			out = append(out, m.ExponentialHistogram().DataPoints().At(i))
		}
	})
	require.Len(t, out, 1)
	return out[0]
}

func TestExponentialHistogramMergesAtCommonScale(t *testing.T) {
	e := newTestEngine(newClock(), dropUser)
	// u1 at scale 2, buckets 4..7 (indices 4,5,6,7) -> at scale 1: 2,2,3,3
	// u2 at scale 1, buckets 3..4
	b := expBatch(true, ep(1, 1, 10, 2, 4, []uint64{1, 2, 3, 4}, 1), ep(2, 1, 10, 1, 3, []uint64{10, 20}, 2))
	e.Process(b.md)
	p := expPoint(t, b.md)
	assert.Equal(t, int32(1), p.Scale())
	assert.Equal(t, int32(2), p.Positive().Offset())
	assert.Equal(t, []uint64{1 + 2, 3 + 4 + 10, 20}, p.Positive().BucketCounts().AsRaw())
	assert.Equal(t, uint64(3), p.ZeroCount())
	assert.Equal(t, uint64(43), p.Count())

	// Next batch: u2 grows; u1's latest stays in.
	b = expBatch(true, ep(2, 1, 20, 1, 3, []uint64{11, 20}, 2))
	e.Process(b.md)
	p = expPoint(t, b.md)
	assert.Equal(t, []uint64{3, 18, 20}, p.Positive().BucketCounts().AsRaw())
	assert.Equal(t, uint64(44), p.Count())

	// u1 restarts (new start time, fewer counts): its previous value stays in.
	b = expBatch(true, ep(1, 30, 40, 2, 4, []uint64{1}, 0))
	e.Process(b.md)
	p = expPoint(t, b.md)
	assert.Equal(t, uint64(45), p.Count())
	assert.Equal(t, []uint64{3 + 1, 18, 20}, p.Positive().BucketCounts().AsRaw())
	assert.Equal(t, pcommon.Timestamp(1), p.StartTimestamp())
}

func TestExponentialHistogramMergeFitsMaxBuckets(t *testing.T) {
	e := newTestEngine(newClock(), dropUser)
	b := expBatch(false, ep(1, 1, 10, 3, 0, []uint64{1}, 0), ep(2, 1, 10, 3, 1000, []uint64{1}, 0))
	e.Process(b.md)
	p := expPoint(t, b.md)
	assert.LessOrEqual(t, p.Positive().BucketCounts().Len(), maxExpBuckets)
	assert.Less(t, p.Scale(), int32(3))
	assert.Equal(t, uint64(2), p.Count())
	var total uint64
	for _, c := range p.Positive().BucketCounts().AsRaw() {
		total += c
	}
	assert.Equal(t, uint64(2), total)
}

func TestSummariesPassThrough(t *testing.T) {
	e := newTestEngine(newClock(), dropUser)
	b := newBatch("shop")
	m := b.ms.AppendEmpty()
	m.SetName("s")
	s := m.SetEmptySummary()
	for i := 0; i < 3; i++ {
		dp := s.DataPoints().AppendEmpty()
		putAttrs(dp.Attributes(), user(i))
		dp.SetCount(uint64(i))
	}
	want := pmetric.NewMetrics()
	b.md.CopyTo(want)
	st := e.Process(b.md)
	assert.Equal(t, want, b.md)
	assert.Equal(t, int64(3), st.Unmergeable[ReasonSummary])
	assert.Equal(t, int64(0), st.LabelDropped[ReasonAlwaysDrop])
}

// Observe mode leaves the data identical and reports what enforce does.
func TestObserveModeChangesNothing(t *testing.T) {
	mk := func() pmetric.Metrics {
		var pts []pt
		for i := 0; i < 20; i++ {
			pts = append(pts, delta(i, 1))
		}
		b := newBatch("shop").sum("operation_error", false, pts...)
		return b.md
	}
	enforce := newTestEngine(newClock(), func(s *Settings) { s.Default.MaxSeriesPerMetric = 2 })
	observe := newTestEngine(newClock(), func(s *Settings) { s.Default.MaxSeriesPerMetric = 2; s.Observe = true })
	for range 2 {
		in := mk()
		want := pmetric.NewMetrics()
		in.CopyTo(want)
		stO := observe.Process(in)
		assert.Equal(t, want, in, "observe must not change the data")
		stE := enforce.Process(mk())
		// Enforce merges the 20 points into {route=/checkout}; observe
		// passes all 20 on and counts the rest as enforce does.
		assert.Equal(t, int64(20), stO.PointsIn)
		assert.Equal(t, int64(20), stO.PointsOut)
		assert.Equal(t, int64(0), stO.Merged)
		assert.Equal(t, int64(20), stE.PointsIn)
		assert.Equal(t, int64(1), stE.PointsOut)
		assert.Equal(t, int64(20), stE.Merged)
		stE.PointsOut, stE.Merged = stO.PointsOut, stO.Merged
		assert.Equal(t, stE, stO)
		assert.Positive(t, stO.LabelDropped[ReasonValueLimit])
	}
}

// Property: a cumulative counter with 10,000 user_id values over 50 batches
// in random order comes out as one series per remaining label set,
// non-decreasing, and at every output point equal to the sum of its
// members' latest inputs.
func TestPropertyCumulativeCounterReaggregation(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	e := newTestEngine(newClock(), func(s *Settings) { s.Default.MaxValuesPerLabel = 100; s.Default.MaxSeriesPerMetric = 2000 })
	const users, batches = 10_000, 50
	routes := []string{"/a", "/b", "/c"}
	type upd struct{ u, step int }
	// Each user reports at 1..5 steps; value grows with the step.
	var updates []upd
	for u := 0; u < users; u++ {
		for s := 1; s <= 1+rng.IntN(5); s++ {
			updates = append(updates, upd{u, s})
		}
	}
	rng.Shuffle(len(updates), func(i, j int) { updates[i], updates[j] = updates[j], updates[i] })
	// Keep each user's steps in time order across batches: the order of
	// updates is random across users, ascending within one user.
	next := map[int]int{}
	for i := range updates {
		next[updates[i].u]++
		updates[i].step = next[updates[i].u]
	}
	value := func(u, step int) int64 { return int64(step*(u%7+1)) + int64(u%3) }
	routeOf := func(u int) string { return routes[u%len(routes)] }

	latest := map[int]int64{} // per user: latest input
	members := map[int]bool{} // users whose points went into a merged series
	seen := map[int]bool{}    // the values admitted before the limit
	limited := false
	lastOut := map[string]int64{}
	per := len(updates) / batches
	for bi := 0; bi < batches; bi++ {
		lo, hi := bi*per, (bi+1)*per
		if bi == batches-1 {
			hi = len(updates)
		}
		var pts []pt
		// The spec's rule: the first 100 distinct values pass; the 101st
		// limits user_id, and from then on every point of the metric is
		// merged, those of the batch it arrived in too.
		for _, up := range updates[lo:hi] {
			if !limited && !seen[up.u] && len(seen) == 100 {
				limited = true
			}
			if !limited {
				seen[up.u] = true
			}
		}
		for _, up := range updates[lo:hi] {
			if limited {
				members[up.u] = true
			}
			v := value(up.u, up.step)
			pts = append(pts, pt{
				attrs: map[string]any{"user_id": itoa(up.u), "route": routeOf(up.u)},
				start: 1, ts: uint64(1000 + bi), i: v,
			})
			latest[up.u] = v
		}
		b := newBatch("shop").sum("operation_error", true, pts...)
		e.Process(b.md)
		got := intValues(t, b.md, "operation_error") // fails on duplicate series
		for k, v := range got {
			if bi > 1 {
				// After the first batches user_id is limited: only routes remain.
				assert.NotContains(t, k, "user_id=", "batch %d", bi)
			}
			if prev, ok := lastOut[k]; ok {
				assert.GreaterOrEqual(t, v, prev, "series %s decreased in batch %d", k, bi)
			}
			lastOut[k] = v
			if !strings.Contains(k, "user_id=") {
				var want int64
				for u := range members {
					if "shop|route="+routeOf(u) == k {
						want += latest[u]
					}
				}
				assert.Equal(t, want, v, "series %s in batch %d is not the sum of its members' latest inputs", k, bi)
			}
		}
	}
	// The first batch already holds more than 100 users: user_id is limited
	// by it, for all its points, and only the routes ever come out.
	assert.Len(t, lastOut, 3, "the routes only")
}
