// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package guard

import (
	"runtime"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

const (
	benchSeries    = 100_000
	benchMetrics   = 50 // 2,000 series each: the default max_series_per_metric
	benchBatchSize = 10_000
)

// seriesAttrs puts the 5 labels of series i (of its metric) into m. Every
// label stays within the default 100 values per label.
func seriesAttrs(m pcommon.Map, i int) {
	m.EnsureCapacity(5)
	m.PutStr("http.route", "/api/v"+strconv.Itoa(i%10))
	m.PutStr("http.method", [4]string{"GET", "POST", "PUT", "DELETE"}[(i/10)%4])
	m.PutStr("status", strconv.Itoa(200+(i/40)%50))
	m.PutStr("region", "eu-"+strconv.Itoa(i/2000%3))
	m.PutStr("tier", "gold")
}

// benchBatches builds batches of delta sums covering benchSeries series
// over benchMetrics metrics, benchBatchSize points per batch.
func benchBatches() []pmetric.Metrics {
	perMetric := benchSeries / benchMetrics
	var out []pmetric.Metrics
	for start := 0; start < benchSeries; start += benchBatchSize {
		md := pmetric.NewMetrics()
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("service.name", "shop")
		ms := rm.ScopeMetrics().AppendEmpty().Metrics()
		for s := start; s < start+benchBatchSize; s += perMetric {
			m := ms.AppendEmpty()
			m.SetName("metric_" + strconv.Itoa(s/perMetric))
			sum := m.SetEmptySum()
			sum.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
			dps := sum.DataPoints()
			dps.EnsureCapacity(perMetric)
			for i := 0; i < perMetric; i++ {
				dp := dps.AppendEmpty()
				seriesAttrs(dp.Attributes(), i)
				dp.SetTimestamp(2)
				dp.SetIntValue(1)
			}
		}
		out = append(out, md)
	}
	return out
}

func benchEngine() *Engine {
	return New(Settings{
		ScopeAttributes: []string{"service.name"},
		MaxSeriesTotal:  1_000_000,
		Window:          time.Hour,
		Default:         Limits{MaxValuesPerLabel: 100, MaxSeriesPerMetric: 2000, OverflowValue: "__overflow__"},
	})
}

// floorPass is the floor: hash every attribute of every point the way the
// engine does (hashAttr: xxhash of key and of value, mixed) and look the
// set up in a map.
func floorPass(md pmetric.Metrics, seen map[uint64]struct{}) int {
	hits := 0
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				dps := ms.At(k).Sum().DataPoints()
				for p := 0; p < dps.Len(); p++ {
					var h uint64
					for key, v := range dps.At(p).Attributes().All() {
						h += hashAttr(key, v)
					}
					h ^= uint64(k) * 0x9E3779B97F4A7C15 // the metric
					if _, ok := seen[h]; ok {
						hits++
					}
				}
			}
		}
	}
	return hits
}

// BenchmarkFloor is the in-run baseline of the steady-state benchmark.
func BenchmarkFloor(b *testing.B) {
	batches := benchBatches()
	seen := make(map[uint64]struct{}, benchSeries)
	for _, md := range batches {
		rms := md.ResourceMetrics()
		ms := rms.At(0).ScopeMetrics().At(0).Metrics()
		for k := 0; k < ms.Len(); k++ {
			dps := ms.At(k).Sum().DataPoints()
			for p := 0; p < dps.Len(); p++ {
				var h uint64
				for key, v := range dps.At(p).Attributes().All() {
					h += hashAttr(key, v)
				}
				seen[h^uint64(k)*0x9E3779B97F4A7C15] = struct{}{}
			}
		}
	}
	b.ResetTimer()
	points := 0
	for i := 0; b.Loop(); i++ {
		md := batches[i%len(batches)]
		if floorPass(md, seen) != benchBatchSize {
			b.Fatal("floor missed series")
		}
		points += benchBatchSize
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(points), "ns/point")
}

// BenchmarkSteadyState: 100,000 tracked series, 5 labels per point, every
// point already known and under its limits (the common case).
func BenchmarkSteadyState(b *testing.B) {
	batches := benchBatches()
	e := benchEngine()
	for _, md := range batches {
		e.Process(md)
	}
	if n := e.seriesCount(); n != benchSeries {
		b.Fatalf("tracked %d series, want %d", n, benchSeries)
	}
	b.ResetTimer()
	points := 0
	for i := 0; b.Loop(); i++ {
		st := e.Process(batches[i%len(batches)])
		if st.LabelDropped[ReasonValueLimit] != 0 {
			b.Fatal("steady state must not limit")
		}
		points += benchBatchSize
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(points), "ns/point")
}

// BenchmarkSteadyStateFullCheck is BenchmarkSteadyState with the known-series
// fast path disabled: every point runs every label and series check, as
// each series does once per recheck interval (window/8).
func BenchmarkSteadyStateFullCheck(b *testing.B) {
	batches := benchBatches()
	e := benchEngine()
	e.recheck = 0
	for _, md := range batches {
		e.Process(md)
	}
	b.ResetTimer()
	points := 0
	for i := 0; b.Loop(); i++ {
		e.Process(batches[i%len(batches)])
		points += benchBatchSize
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(points), "ns/point")
}

// BenchmarkMergeCumulative: every point of a cumulative counter loses its
// user_id (always_drop) and is re-aggregated into 10 output series, with
// 100,000 source series tracked.
func BenchmarkMergeCumulative(b *testing.B) {
	e := benchEngine()
	e.set.Default.AlwaysDrop = []string{"user_id"}
	var batches []pmetric.Metrics
	for start := 0; start < benchSeries; start += benchBatchSize {
		md := pmetric.NewMetrics()
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("service.name", "shop")
		m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		m.SetName("operation_error")
		s := m.SetEmptySum()
		s.SetIsMonotonic(true)
		s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		for u := start; u < start+benchBatchSize; u++ {
			dp := s.DataPoints().AppendEmpty()
			seriesAttrs(dp.Attributes(), u%10)
			dp.Attributes().PutStr("user_id", "user-"+strconv.Itoa(u))
			dp.SetStartTimestamp(1)
			dp.SetTimestamp(2)
			dp.SetIntValue(int64(u % 97))
		}
		batches = append(batches, md)
	}
	// The engine consumes its input (merged points are removed), so each
	// iteration works on a fresh copy made outside the timer.
	work := make([]pmetric.Metrics, len(batches))
	refill := func() {
		for i, md := range batches {
			work[i] = pmetric.NewMetrics()
			md.CopyTo(work[i])
		}
	}
	refill()
	for _, md := range work {
		e.Process(md)
	}
	b.ResetTimer()
	points := 0
	for i := 0; b.Loop(); i++ {
		j := i % len(batches)
		if j == 0 {
			b.StopTimer()
			refill()
			b.StartTimer()
		}
		e.Process(work[j])
		points += benchBatchSize
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(points), "ns/point")
}

// heapBytes returns the live heap after a full collection.
func heapBytes() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkMemoryPerSeries reports bytes of engine state per source series
// (runtime.ReadMemStats before/after, 100,000 series), for plain series of
// sums and gauges and for the source series of merged cumulative sums and
// histograms.
func BenchmarkMemoryPerSeries(b *testing.B) {
	const n = 100_000
	build := func(kind string) []pmetric.Metrics {
		var out []pmetric.Metrics
		for start := 0; start < n; start += benchBatchSize {
			md := pmetric.NewMetrics()
			rm := md.ResourceMetrics().AppendEmpty()
			rm.Resource().Attributes().PutStr("service.name", "shop")
			ms := rm.ScopeMetrics().AppendEmpty().Metrics()
			for s := start; s < start+benchBatchSize; s += 2000 {
				m := ms.AppendEmpty()
				m.SetName("metric_" + strconv.Itoa(s/2000))
				for i := 0; i < 2000; i++ {
					var attrs pcommon.Map
					switch kind {
					case "sum", "merged_sum":
						if m.Type() == pmetric.MetricTypeEmpty {
							m.SetEmptySum().SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
							m.Sum().SetIsMonotonic(true)
						}
						dp := m.Sum().DataPoints().AppendEmpty()
						dp.SetStartTimestamp(1)
						dp.SetTimestamp(2)
						dp.SetIntValue(5)
						attrs = dp.Attributes()
					case "gauge":
						if m.Type() == pmetric.MetricTypeEmpty {
							m.SetEmptyGauge()
						}
						dp := m.Gauge().DataPoints().AppendEmpty()
						dp.SetTimestamp(2)
						dp.SetDoubleValue(5)
						attrs = dp.Attributes()
					case "merged_histogram":
						if m.Type() == pmetric.MetricTypeEmpty {
							m.SetEmptyHistogram().SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
						}
						dp := m.Histogram().DataPoints().AppendEmpty()
						dp.SetStartTimestamp(1)
						dp.SetTimestamp(2)
						dp.ExplicitBounds().FromRaw([]float64{1, 2, 5, 10, 20, 50, 100, 200, 500})
						dp.BucketCounts().FromRaw([]uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
						dp.SetCount(55)
						dp.SetSum(100)
						attrs = dp.Attributes()
					}
					if kind == "merged_sum" || kind == "merged_histogram" {
						// 10 output series per metric, 200 users in each.
						seriesAttrs(attrs, i%10)
						attrs.PutStr("user_id", "user-"+strconv.Itoa(s+i))
					} else {
						seriesAttrs(attrs, i)
					}
				}
			}
			out = append(out, md)
		}
		return out
	}
	for _, kind := range []string{"sum", "gauge", "merged_sum", "merged_histogram"} {
		b.Run(kind, func(b *testing.B) {
			var perSeries float64
			for b.Loop() {
				b.StopTimer()
				batches := build(kind)
				before := heapBytes()
				e := benchEngine()
				if kind == "merged_sum" || kind == "merged_histogram" {
					e.set.Default.AlwaysDrop = []string{"user_id"}
				}
				b.StartTimer()
				for _, md := range batches {
					// Process a copy: the input and output points are garbage
					// afterwards, only the engine's state stays.
					cp := pmetric.NewMetrics()
					md.CopyTo(cp)
					e.Process(cp)
				}
				b.StopTimer()
				after := heapBytes()
				// Per source series (input series), whatever the engine
				// keeps for it: values, series, merge members.
				perSeries = (float64(after) - float64(before)) / float64(n)
				runtime.KeepAlive(e)
				runtime.KeepAlive(batches)
				b.StartTimer()
			}
			b.ReportMetric(perSeries, "B/series")
		})
	}
}

// BenchmarkSteadyStateRatio runs the floor and the steady state on the same
// batch in every iteration, alternating, and reports both and their ratio:
// on a shared, loaded machine the ratio is the figure to compare, since both
// sides see the same load.
func BenchmarkSteadyStateRatio(b *testing.B) {
	batches := benchBatches()
	e := benchEngine()
	for _, md := range batches {
		e.Process(md)
	}
	seen := make(map[uint64]struct{}, benchSeries)
	for _, md := range batches {
		ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
		for k := 0; k < ms.Len(); k++ {
			dps := ms.At(k).Sum().DataPoints()
			for p := 0; p < dps.Len(); p++ {
				var h uint64
				for key, v := range dps.At(p).Attributes().All() {
					h += hashAttr(key, v)
				}
				seen[h^uint64(k)*0x9E3779B97F4A7C15] = struct{}{}
			}
		}
	}
	var floor, guard time.Duration
	points := 0
	for i := 0; b.Loop(); i++ {
		md := batches[i%len(batches)]
		runFloor := func() {
			t := time.Now()
			if floorPass(md, seen) != benchBatchSize {
				b.Fatal("floor missed series")
			}
			floor += time.Since(t)
		}
		runGuard := func() {
			t := time.Now()
			e.Process(md)
			guard += time.Since(t)
		}
		// Alternate which goes first: the second finds the batch in cache.
		if i%2 == 0 {
			runFloor()
			runGuard()
		} else {
			runGuard()
			runFloor()
		}
		points += benchBatchSize
	}
	b.ReportMetric(float64(floor.Nanoseconds())/float64(points), "floor-ns/point")
	b.ReportMetric(float64(guard.Nanoseconds())/float64(points), "guard-ns/point")
	b.ReportMetric(float64(guard)/float64(floor), "guard/floor")
}
