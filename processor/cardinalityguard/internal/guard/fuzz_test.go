// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package guard

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

func fuzzSettings(s *Settings) {
	s.MaxSeriesTotal = 40
	s.Default.MaxValuesPerLabel = 2
	s.Default.MaxSeriesPerMetric = 5
	s.Default.Protected = []string{"operation"}
}

// FuzzProcess feeds arbitrary OTLP/JSON metrics through an enforcing and an
// observing engine: neither may panic, state stays within the limits, and
// observe mode returns its input unchanged.
func FuzzProcess(f *testing.F) {
	golden := os.DirFS(filepath.Join("..", "..", "testdata", "golden"))
	seeds, _ := fs.Glob(golden, "*/input_*.json")
	for _, p := range seeds {
		b, err := fs.ReadFile(golden, p)
		require.NoError(f, err)
		f.Add(b, b)
	}
	f.Add([]byte(`{}`), []byte(`{"resourceMetrics":[]}`))
	f.Fuzz(func(t *testing.T, first, second []byte) {
		var um pmetric.JSONUnmarshaler
		clock := newClock()
		enforce := newTestEngine(clock, fuzzSettings)
		observe := newTestEngine(clock, func(s *Settings) { fuzzSettings(s); s.Observe = true })
		for _, raw := range [][]byte{first, second, first} {
			md, err := um.UnmarshalMetrics(raw)
			if err != nil {
				continue
			}
			in := pmetric.NewMetrics()
			md.CopyTo(in)
			stE := enforce.Process(md)
			if md.DataPointCount() > in.DataPointCount() {
				t.Fatalf("enforce emitted %d points from %d", md.DataPointCount(), in.DataPointCount())
			}
			obs := pmetric.NewMetrics()
			in.CopyTo(obs)
			stO := observe.Process(obs)
			require.Equal(t, in, obs, "observe changed the data")
			require.Equal(t, int64(in.DataPointCount()), stE.PointsIn)
			require.Equal(t, int64(md.DataPointCount()), stE.PointsOut)
			require.Equal(t, stO.PointsIn, stO.PointsOut)
			for _, st := range []Stats{stE, stO} {
				require.LessOrEqual(t, st.SeriesTracked, int64(40))
			}
			require.LessOrEqual(t, enforce.MaxValuesTracked(), 2)
			require.Equal(t, enforce.recount(), enforce.SeriesTracked(), "the budget's count matches the state")
			clock.Advance(20 * time.Minute)
		}
	})
}

// byteReader hands out fuzz bytes, zero when exhausted.
type byteReader struct {
	b []byte
	i int
}

func (r *byteReader) next() byte {
	if r.i >= len(r.b) {
		return 0
	}
	r.i++
	return r.b[r.i-1]
}

// int8 is the next byte read as a signed byte (what int32(int8(b)) is),
// from -128 to 127.
func (r *byteReader) int8() int32 { return int32(r.next()^0x80) - 128 }

// FuzzPoints builds batches of every metric type from the fuzz bytes (a few
// label keys and values, random scales, offsets, bounds, temporalities and
// timestamps) and checks the engine never panics, never emits more points
// than it got, keeps its state within the limits, and keeps merged
// cumulative monotonic sums non-decreasing.
func FuzzPoints(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 200, 100, 50})
	f.Add([]byte("operation_error user_id checkout refund 0123456789abcdef"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		r := &byteReader{b: data}
		clock := newClock()
		e := newTestEngine(clock, func(s *Settings) {
			fuzzSettings(s)
			s.Default.GaugeAggregation = GaugeAggregation(data[0] % 4)
			s.Default.Action = Action(r.next() % 2)
		})
		keys := []string{"user_id", "operation", "route", "pod"}
		type seenVal struct {
			v  int64
			at time.Time
		}
		lastMerged := map[string]seenVal{}
		for round := 0; round < 4 && r.i < len(r.b); round++ {
			b := newBatch([]string{"a", "b"}[r.next()%2])
			m := b.ms.AppendEmpty()
			m.SetName([]string{"c", "h", "e", "g"}[r.next()%4])
			kind := r.next() % 5
			cumulative := r.next()%2 == 0
			temp := pmetric.AggregationTemporalityDelta
			if cumulative {
				temp = pmetric.AggregationTemporalityCumulative
			}
			n := int(r.next() % 16)
			switch kind {
			case 0:
				s := m.SetEmptySum()
				s.SetAggregationTemporality(temp)
				s.SetIsMonotonic(true)
			case 1:
				m.SetEmptyGauge()
			case 2:
				m.SetEmptyHistogram().SetAggregationTemporality(temp)
			case 3:
				m.SetEmptyExponentialHistogram().SetAggregationTemporality(temp)
			case 4:
				m.SetEmptySummary()
			}
			for i := 0; i < n; i++ {
				attrs := map[string]any{}
				for _, k := range keys {
					if v := r.next(); v%3 != 0 {
						attrs[k] = string(rune('a' + v%7))
					}
				}
				v := int64(r.next())
				start, ts := uint64(r.next()%3), uint64(100+round*10+i)
				switch kind {
				case 0:
					fillNumber(m.Sum().DataPoints().AppendEmpty(), pt{attrs: attrs, start: start, ts: ts, i: v * int64(round+1)})
				case 1:
					fillNumber(m.Gauge().DataPoints().AppendEmpty(), pt{attrs: attrs, ts: ts, f: float64(v), double: true})
				case 2:
					dp := m.Histogram().DataPoints().AppendEmpty()
					putAttrs(dp.Attributes(), attrs)
					nb := int(r.next() % 4)
					bounds := make([]float64, nb)
					for j := range bounds {
						bounds[j] = float64(j * int(1+r.next()%3))
					}
					dp.ExplicitBounds().FromRaw(bounds)
					counts := make([]uint64, nb+int(r.next()%2)) // sometimes invalid
					for j := range counts {
						counts[j] = uint64(r.next())
					}
					dp.BucketCounts().FromRaw(counts)
					dp.SetTimestamp(1000 + pcommon.Timestamp(ts))
				case 3:
					dp := m.ExponentialHistogram().DataPoints().AppendEmpty()
					putAttrs(dp.Attributes(), attrs)
					dp.SetScale(r.int8() % 24)
					dp.Positive().SetOffset(r.int8() * int32(1+r.next()))
					dp.Positive().BucketCounts().FromRaw([]uint64{uint64(r.next()), uint64(r.next())})
					dp.Negative().SetOffset(r.int8())
					dp.Negative().BucketCounts().FromRaw([]uint64{uint64(r.next())})
					dp.SetZeroCount(uint64(r.next()))
					dp.SetTimestamp(1000 + pcommon.Timestamp(ts))
				case 4:
					dp := m.Summary().DataPoints().AppendEmpty()
					putAttrs(dp.Attributes(), attrs)
				}
			}
			before := b.md.DataPointCount()
			if os.Getenv("FUZZDEBUG") != "" {
				j, _ := (&pmetric.JSONMarshaler{}).MarshalMetrics(b.md)
				t.Logf("round %d in: %s", round, j)
			}
			st := e.Process(b.md)
			if os.Getenv("FUZZDEBUG") != "" {
				j, _ := (&pmetric.JSONMarshaler{}).MarshalMetrics(b.md)
				t.Logf("round %d out: %s (now %s)", round, j, clock.Now())
			}
			require.LessOrEqual(t, b.md.DataPointCount(), before)
			require.Equal(t, e.recount(), e.SeriesTracked(), "the budget's count matches the state")
			require.LessOrEqual(t, e.SeriesTracked(), 40)
			require.LessOrEqual(t, e.MaxValuesTracked(), 2)
			// Points refused for lack of room pass through as they came and
			// may repeat a merged series: only rounds without refusals are
			// checked for monotonic merged series.
			if kind == 0 && cumulative && b.ms.Len() > 0 && !st.RefusedAny() {
				dps := b.ms.At(0).Sum().DataPoints()
				for i := 0; i < dps.Len(); i++ {
					dp := dps.At(i)
					k := b.md.ResourceMetrics().At(0).Resource().Attributes().AsRaw()["service.name"].(string) + "|" + b.ms.At(0).Name() + "|" + attrKey(dp.Attributes())
					rm := b.md.ResourceMetrics().At(0)
					if !isMerged(e, rm.Resource().Attributes(), rm.ScopeMetrics().At(0).Scope(), b.ms.At(0), dp.Attributes()) {
						continue
					}
					// Within the window a merged series never decreases; after
					// it, forgotten state may legitimately restart.
					if prev, ok := lastMerged[k]; ok && clock.Now().Sub(prev.at) < 50*time.Minute {
						require.GreaterOrEqual(t, dp.IntValue(), prev.v, "merged series %s decreased", k)
					}
					lastMerged[k] = seenVal{dp.IntValue(), clock.Now()}
				}
			}
			clock.Advance(time.Duration(r.next()) * time.Minute)
		}
	})
}

// isMerged reports whether the output point with attrs is a merged series
// (one with re-aggregation state) of metric m in its resource and scope.
func isMerged(e *Engine, res pcommon.Map, scope pcommon.InstrumentationScope, m pmetric.Metric, attrs pcommon.Map) bool {
	ms := e.scope(res).metrics[metricKey{name: m.Name(), typ: m.Type(), temp: temporalityOf(m)}]
	if ms == nil {
		return false
	}
	stream := streamOf(mixKV(attrsHash(res), instrumentationScopeHash(scope)), m)
	_, ok := ms.aggs[mixKV(uint64(stream), attrsHash(attrs))]
	return ok
}
