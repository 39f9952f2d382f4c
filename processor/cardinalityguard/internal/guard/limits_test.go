// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package guard

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/prodscope/prodscope/internal/logthrottle"
	"github.com/prodscope/prodscope/processor/cardinalityguard/internal/glob"
)

func delta(i int, v int64) pt {
	a := user(i)
	a["route"] = "/checkout"
	return pt{attrs: a, start: 100, ts: 200, i: v}
}

// A label over its value limit is dropped from then on for that metric in
// that scope; other metrics and other scopes keep it.
func TestValueLimitDropsLabelForThatMetricOnly(t *testing.T) {
	e := newTestEngine(newClock(), nil)
	b := newBatch("shop").
		sum("operation_error", false, delta(1, 1), delta(2, 1), delta(3, 1), delta(4, 1), delta(5, 1)).
		sum("other", false, delta(1, 7), delta(2, 7))
	st := e.Process(b.md)

	// u4 limits user_id: every point of the metric in the batch loses it,
	// u1..u3 too (the metric never carries the key on some series and not
	// on others), so all 5 merge.
	assert.Equal(t, map[string]int64{
		"shop|route=/checkout": 5,
	}, intValues(t, b.md, "operation_error"))
	assert.Equal(t, map[string]int64{
		"shop|route=/checkout,user_id=u1": 7,
		"shop|route=/checkout,user_id=u2": 7,
	}, intValues(t, b.md, "other"))
	assert.Equal(t, int64(5), st.LabelDropped[ReasonValueLimit])
	assert.Equal(t, int64(1), st.LabelKeysLimited)

	// From then on every value of user_id is dropped for operation_error in
	// shop, the earlier ones too; another scope keeps the key.
	b = newBatch("shop").sum("operation_error", false, delta(1, 1), delta(2, 1), delta(9, 1))
	b2 := newBatch("billing").sum("operation_error", false, delta(1, 5))
	b2.md.ResourceMetrics().At(0).CopyTo(b.md.ResourceMetrics().AppendEmpty())
	st = e.Process(b.md)
	assert.Equal(t, map[string]int64{
		"shop|route=/checkout":               3,
		"billing|route=/checkout,user_id=u1": 5,
	}, intValues(t, b.md, "operation_error"))
	assert.Equal(t, int64(3), st.LabelDropped[ReasonValueLimit])
}

func TestValueLimitOverflowValue(t *testing.T) {
	e := newTestEngine(newClock(), func(s *Settings) { s.Default.Action = OverflowValue })
	b := newBatch("shop").sum("operation_error", false, delta(1, 1), delta(2, 1), delta(3, 1), delta(4, 1), delta(5, 1))
	st := e.Process(b.md)
	assert.Equal(t, map[string]int64{
		"shop|route=/checkout,user_id=u1":           1,
		"shop|route=/checkout,user_id=u2":           1,
		"shop|route=/checkout,user_id=u3":           1,
		"shop|route=/checkout,user_id=__overflow__": 2,
	}, intValues(t, b.md, "operation_error"))
	assert.Equal(t, int64(2), st.Overflowed[ReasonValueLimit])

	// Values kept before keep flowing; new ones overflow.
	b = newBatch("shop").sum("operation_error", false, delta(1, 1), delta(7, 4))
	e.Process(b.md)
	assert.Equal(t, map[string]int64{
		"shop|route=/checkout,user_id=u1":           1,
		"shop|route=/checkout,user_id=__overflow__": 4,
	}, intValues(t, b.md, "operation_error"))
}

// A metric over its series limit sends new series to the overflow series;
// series seen before keep flowing.
func TestSeriesLimitOverflowSeries(t *testing.T) {
	e := newTestEngine(newClock(), func(s *Settings) {
		s.Default.MaxValuesPerLabel = 100
		s.Default.MaxSeriesPerMetric = 3
	})
	b := newBatch("shop").sum("requests", false, delta(1, 1), delta(2, 1), delta(3, 1), delta(4, 10), delta(5, 20))
	st := e.Process(b.md)
	assert.Equal(t, map[string]int64{
		"shop|route=/checkout,user_id=u1": 1,
		"shop|route=/checkout,user_id=u2": 1,
		"shop|route=/checkout,user_id=u3": 1,
		"shop|otel.metric.overflow=true":  30,
	}, intValues(t, b.md, "requests"))
	assert.Equal(t, int64(2), st.Overflowed[ReasonSeriesLimit])
	assert.Equal(t, int64(2), st.LabelDropped[ReasonSeriesLimit])

	b = newBatch("shop").sum("requests", false, delta(2, 5), delta(6, 6))
	e.Process(b.md)
	assert.Equal(t, map[string]int64{
		"shop|route=/checkout,user_id=u2": 5,
		"shop|otel.metric.overflow=true":  6,
	}, intValues(t, b.md, "requests"))
	// 3 series + 1 overflow series, the metric (8), its 2 label keys (4
	// each) and their 7 values (route=/checkout, user_id=u1..u6).
	assert.Equal(t, 4+8+2*4+7, e.SeriesTracked())
}

func TestSeriesLimitKeepsProtectedLabels(t *testing.T) {
	e := newTestEngine(newClock(), func(s *Settings) {
		s.Default.MaxValuesPerLabel = 100
		s.Default.MaxSeriesPerMetric = 1
		s.Default.Protected = []string{"route"}
	})
	b := newBatch("shop").sum("requests", false, delta(1, 1), delta(2, 2), delta(3, 3))
	e.Process(b.md)
	assert.Equal(t, map[string]int64{
		"shop|route=/checkout,user_id=u1":                1,
		"shop|otel.metric.overflow=true,route=/checkout": 5,
	}, intValues(t, b.md, "requests"))
}

func TestMaxSeriesTotal(t *testing.T) {
	e := newTestEngine(newClock(), func(s *Settings) {
		s.MaxSeriesTotal = 21
		s.Default.MaxValuesPerLabel = 100
	})
	b := newBatch("shop").sum("requests", false, delta(1, 1), delta(2, 1), delta(3, 1), delta(4, 1))
	st := e.Process(b.md)
	// u1 takes 19 entries (the metric 8, 2 keys 4 each, 2 values, 1
	// series), u2 two more (its value and series). u3 and u4 find no room for their value:
	// user_id is dropped from them (total_limit), and then there is no room
	// for the series {route} nor an overflow series: they pass through as
	// they came, counted.
	assert.Equal(t, map[string]int64{
		"shop|route=/checkout,user_id=u1": 1,
		"shop|route=/checkout,user_id=u2": 1,
		"shop|route=/checkout,user_id=u3": 1,
		"shop|route=/checkout,user_id=u4": 1,
	}, intValues(t, b.md, "requests"))
	assert.Equal(t, int64(2), st.Refused[ReasonTotalLimit])
	assert.Equal(t, 21, e.SeriesTracked())
	// A new metric gets no state either: it passes through, counted.
	b = newBatch("shop").sum("new_metric", false, delta(1, 1))
	st = e.Process(b.md)
	assert.Equal(t, int64(1), st.Refused[ReasonTotalLimit])
	assert.Equal(t, 1, b.md.DataPointCount(), "the untracked metric passes through")
	// New scopes leave no state behind either.
	for i := range 1000 {
		e.Process(newBatch("svc-"+itoa(i)).sum("requests", false, delta(1, 1)).md)
	}
	assert.Len(t, e.scopes, 1)
	assert.Equal(t, 21, e.SeriesTracked())
}

func TestAlwaysDropAndProtected(t *testing.T) {
	e := newTestEngine(newClock(), func(s *Settings) {
		s.Default.MaxValuesPerLabel = 1
		s.Default.AlwaysDrop = []string{"pod"}
		s.Default.Protected = []string{"user_id"}
	})
	mk := func(i int, pod string) pt {
		return pt{attrs: map[string]any{"user_id": user(i)["user_id"], "pod": pod}, start: 1, ts: 2, i: 1}
	}
	b := newBatch("shop").sum("requests", false, mk(1, "a"), mk(1, "b"), mk(2, "a"), mk(3, "c"))
	st := e.Process(b.md)
	// pod removed everywhere and re-aggregated; user_id is over its limit of 1 but protected.
	assert.Equal(t, map[string]int64{
		"shop|user_id=u1": 2,
		"shop|user_id=u2": 1,
		"shop|user_id=u3": 1,
	}, intValues(t, b.md, "requests"))
	assert.Equal(t, int64(4), st.LabelDropped[ReasonAlwaysDrop])
	assert.Equal(t, int64(0), st.LabelDropped[ReasonValueLimit])
}

func TestOverridesFirstMatchWins(t *testing.T) {
	p1, err := glob.Compile("http.server.*")
	require.NoError(t, err)
	p2, err := glob.Compile("http.*")
	require.NoError(t, err)
	e := newTestEngine(newClock(), func(s *Settings) {
		l1 := s.Default
		l1.MaxValuesPerLabel = 10
		l2 := s.Default
		l2.MaxValuesPerLabel = 1
		s.Overrides = []Override{{Patterns: []*glob.Pattern{p1}, Limits: l1}, {Patterns: []*glob.Pattern{p2}, Limits: l2}}
	})
	var pts []pt
	for i := 0; i < 5; i++ {
		pts = append(pts, delta(i, 1))
	}
	b := newBatch("shop").sum("http.server.duration", false, pts...).sum("http.client.duration", false, pts...).sum("rpc", false, pts...)
	e.Process(b.md)
	assert.Len(t, intValues(t, b.md, "http.server.duration"), 5)
	// Limited (1 and 3 values): the whole batch of the metric merges.
	assert.Len(t, intValues(t, b.md, "http.client.duration"), 1)
	assert.Len(t, intValues(t, b.md, "rpc"), 1)
}

// An empty scope list is one global scope.
func TestGlobalScope(t *testing.T) {
	e := newTestEngine(newClock(), func(s *Settings) { s.ScopeAttributes = nil })
	b := newBatch("a").sum("m", false, delta(1, 1), delta(2, 1))
	e.Process(b.md)
	b = newBatch("b").sum("m", false, delta(3, 1), delta(4, 1))
	st := e.Process(b.md)
	// u4 is the 4th value in the one scope: both points of the batch lose user_id.
	assert.Equal(t, int64(2), st.LabelDropped[ReasonValueLimit])
}

// A label that goes quiet for the window gets its values back.
func TestWindowExpiry(t *testing.T) {
	clock := newClock()
	e := newTestEngine(clock, func(s *Settings) { s.Window = 10 * time.Minute })
	var pts []pt
	for i := 0; i < 10; i++ {
		pts = append(pts, delta(i, 1))
	}
	e.Process(newBatch("shop").sum("m", false, pts...).md)
	require.Equal(t, 1, e.LabelKeysLimited())

	// Still limited within the window while new values keep coming.
	clock.Advance(6 * time.Minute)
	b := newBatch("shop").sum("m", false, delta(20, 1))
	e.Process(b.md)
	assert.Equal(t, map[string]int64{"shop|route=/checkout": 1}, intValues(t, b.md, "m"))

	// Quiet for the window: the limit lifts and values come back. Values and
	// series go within window + window/8 of their last sighting.
	clock.Advance(12 * time.Minute)
	b = newBatch("shop").sum("m", false, delta(30, 1), delta(31, 1))
	st := e.Process(b.md)
	assert.Equal(t, 0, e.LabelKeysLimited())
	assert.Equal(t, map[string]int64{
		"shop|route=/checkout,user_id=u30": 1,
		"shop|route=/checkout,user_id=u31": 1,
	}, intValues(t, b.md, "m"))
	assert.Equal(t, int64(0), st.LabelDropped[ReasonValueLimit])
	// Old series and values were forgotten: tracked are the metric (8), its
	// 2 keys (4 each), 3 values (/checkout, u30, u31) and the 2 new series.
	assert.Equal(t, 8+2*4+3+2, e.SeriesTracked())
}

func TestFirstLimitLogsOnce(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	clock := newClock()
	e := newTestEngine(clock, func(s *Settings) { s.Logger = zap.New(core) })
	var pts []pt
	for i := 0; i < 50; i++ {
		pts = append(pts, delta(i, 1))
	}
	e.Process(newBatch("shop").sum("operation_error", false, pts...).md)
	e.Process(newBatch("shop").sum("operation_error", false, pts...).md)
	require.Equal(t, 1, logs.Len())
	f := logs.All()[0].ContextMap()
	assert.Equal(t, "operation_error", f["metric"])
	assert.Equal(t, "user_id", f["label"])
	assert.Equal(t, "drop_label", f["action"])
	assert.Equal(t, uint64(4), f["estimated_distinct_values"]) // limit 3, the 4th value triggers it
	// The sketch keeps counting the values refused after the limit, and the
	// lift reports it.
	est := e.EstimatedValues("operation_error", "user_id")
	assert.InDelta(t, 50, float64(est), 3)
	clock.Advance(2 * time.Hour)
	e.Process(newBatch("shop").sum("operation_error", false, delta(1, 1)).md)
	require.Equal(t, 2, logs.Len())
	lift := logs.All()[1]
	assert.Equal(t, "Label key limit lifted", lift.Message)
	assert.InDelta(t, 50, float64(lift.ContextMap()["estimated_distinct_values"].(uint64)), 3)
}

// The limit lines are throttled by logthrottle: one line per kind every
// logEvery, the next one saying how many were left out.
func TestLimitLinesThrottled(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	clock := newClock()
	e := newTestEngine(clock, func(s *Settings) { s.Logger = zap.New(core) })
	b := newBatch("shop")
	for _, name := range []string{"a", "b", "c"} {
		b.sum(name, false, delta(1, 1), delta(2, 1), delta(3, 1), delta(4, 1))
	}
	e.Process(b.md)
	require.Equal(t, 1, logs.Len(), "three keys limited in one call: one line")
	assert.NotContains(t, logs.All()[0].ContextMap(), logthrottle.SuppressedField)

	clock.Advance(logEvery)
	e.Process(newBatch("shop").sum("d", false, delta(1, 1), delta(2, 1), delta(3, 1), delta(4, 1)).md)
	require.Equal(t, 2, logs.Len())
	f := logs.All()[1].ContextMap()
	assert.Equal(t, "d", f["metric"])
	assert.Equal(t, int64(2), f[logthrottle.SuppressedField], "the lines of b and c were left out")
}

// A flood of 1,000,000 distinct values of one label leaves tracked state
// within the limits.
func TestFloodStaysWithinLimits(t *testing.T) {
	for _, cumulative := range []bool{false, true} {
		e := newTestEngine(newClock(), func(s *Settings) {
			s.Default.MaxValuesPerLabel = 100
			s.Default.MaxSeriesPerMetric = 2000
			s.MaxSeriesTotal = 50_000
		})
		const total, per = 1_000_000, 20_000
		var out int64
		for start := 0; start < total; start += per {
			b := newBatch("shop")
			m := b.ms.AppendEmpty()
			m.SetName("operation_error")
			s := m.SetEmptySum()
			s.SetIsMonotonic(true)
			s.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
			if cumulative {
				s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			}
			dps := s.DataPoints()
			dps.EnsureCapacity(per)
			for i := start; i < start+per; i++ {
				dp := dps.AppendEmpty()
				dp.Attributes().PutStr("user_id", "u"+itoa(i))
				dp.SetStartTimestamp(1)
				dp.SetTimestamp(2)
				dp.SetIntValue(1)
			}
			e.Process(b.md)
			out += int64(b.md.DataPointCount())
		}
		assert.LessOrEqual(t, e.MaxValuesTracked(), 100)
		assert.LessOrEqual(t, e.SeriesTracked(), 50_000)
		if !cumulative {
			// One merged series per batch: the first batch's 101st value
			// limits user_id for the whole batch.
			assert.Equal(t, int64(total/per), out)
		}
	}
}

func itoa(i int) string {
	var b [20]byte
	n := len(b)
	for {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			break
		}
	}
	return string(b[n:])
}

// Known series skip the per-label checks between full checks; the values of
// a series that stays active must still never be forgotten.
func TestActiveSeriesKeepTheirValues(t *testing.T) {
	clock := newClock()
	e := newTestEngine(clock, func(s *Settings) {
		s.Window = 10 * time.Minute
		s.Default.MaxValuesPerLabel = 2
	})
	for range 30 {
		b := newBatch("shop").sum("m", false, delta(1, 1), delta(2, 1))
		st := e.Process(b.md)
		require.Equal(t, int64(0), st.LabelDropped[ReasonValueLimit])
		require.Len(t, intValues(t, b.md, "m"), 2)
		clock.Advance(time.Minute)
	}
	// u1 and u2 still hold both slots: a third value limits the key.
	b := newBatch("shop").sum("m", false, delta(3, 1))
	st := e.Process(b.md)
	assert.Equal(t, int64(1), st.LabelDropped[ReasonValueLimit])
	assert.Equal(t, 1, e.LabelKeysLimited())
}
