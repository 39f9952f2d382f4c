// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package events

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

func mapMetrics(t *testing.T, f Format, cfg Config, limits Limits, md pmetric.Metrics) (*Batcher, *Mapper, []goldenEvent) {
	t.Helper()
	b := NewBatcher(f, limits, nil)
	m := NewMapper(cfg, b)
	m.Metrics(md)
	return b, m, decodeBatches(t, f, b.Finish())
}

func gaugePoint(sm pmetric.ScopeMetrics, name string, at time.Duration) pmetric.NumberDataPoint {
	g := sm.Metrics().AppendEmpty()
	g.SetName(name)
	p := g.SetEmptyGauge().DataPoints().AppendEmpty()
	p.SetTimestamp(ts(at))
	return p
}

func TestMetricAttributeTypesAreDistinct(t *testing.T) {
	md := pmetric.NewMetrics()
	sm := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty()
	p := gaugePoint(sm, "requests", 0)
	p.SetIntValue(1)
	p.Attributes().PutInt("code", 200)
	p = gaugePoint(sm, "requests", 0)
	p.SetIntValue(2)
	p.Attributes().PutStr("code", "200")
	for _, f := range []Format{FormatJSON, FormatMsgpack} {
		_, _, evs := mapMetrics(t, f, goldenCfg, goldenLimits, md)
		require.Len(t, evs, 2, "int 200 and string \"200\" are two series")
		byType := map[string]any{}
		for _, ev := range evs {
			byType[fmt.Sprintf("%T", ev.Data["code"])] = normalizeJSON(t, ev.Data["requests"])
		}
		assert.InDelta(t, 2.0, byType["string"], 1e-9)
		assert.Len(t, byType, 2)
	}
}

func TestSameSecondPointsOfOneSeriesAreBothSent(t *testing.T) {
	md := pmetric.NewMetrics()
	sm := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty()
	m := sm.Metrics().AppendEmpty()
	m.SetName("queue.depth")
	dps := m.SetEmptyGauge().DataPoints()
	for i, v := range []int64{3, 5} {
		p := dps.AppendEmpty()
		p.SetTimestamp(ts(time.Duration(i*300) * time.Millisecond)) // same second
		p.SetIntValue(v)
	}
	other := gaugePoint(sm, "queue.capacity", 100*time.Millisecond)
	other.SetIntValue(10)
	_, mp, evs := mapMetrics(t, FormatJSON, goldenCfg, goldenLimits, md)
	require.Len(t, evs, 2)
	assert.EqualValues(t, 3, evs[0].Data["queue.depth"])
	assert.EqualValues(t, 10, evs[0].Data["queue.capacity"], "other metrics still share the first event")
	assert.EqualValues(t, 5, evs[1].Data["queue.depth"])
	assert.NotContains(t, evs[1].Data, "queue.capacity")
	assert.Equal(t, [][]int32{{0, 2}, {1}}, mp.MetricGroups())
}

func TestIdenticalResourcesShareEvents(t *testing.T) {
	md := pmetric.NewMetrics()
	for i, name := range []string{"cpu", "mem"} {
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("service.name", "svc")
		rm.Resource().Attributes().PutStr("host.name", "h1")
		p := gaugePoint(rm.ScopeMetrics().AppendEmpty(), name, time.Duration(i)*time.Millisecond)
		p.SetDoubleValue(float64(i) + 0.5)
	}
	rm := md.ResourceMetrics().AppendEmpty() // a different resource
	rm.Resource().Attributes().PutStr("service.name", "svc")
	rm.Resource().Attributes().PutStr("host.name", "h2")
	gaugePoint(rm.ScopeMetrics().AppendEmpty(), "cpu", 0).SetDoubleValue(9)
	_, _, evs := mapMetrics(t, FormatJSON, goldenCfg, goldenLimits, md)
	require.Len(t, evs, 2)
	assert.Equal(t, map[string]any{"meta.signal_type": "metric", "service.name": "svc", "host.name": "h1", "cpu": 0.5, "mem": 1.5}, evs[0].Data)
	assert.Equal(t, "h2", evs[1].Data["host.name"])
}

func TestQuantileKeys(t *testing.T) {
	for q, want := range map[float64]string{
		0.5: "m.p50", 0.9: "m.p90", 0.05: "m.p05", 0.25: "m.p25", 0.99: "m.p99", 0.999: "m.p999",
		0.0001: "m.p0001", 0.001: "m.p001", 0.9999: "m.p9999", 0.99999: "m.p99999", 0.1: "m.p10",
	} {
		assert.Equal(t, want, QuantileKey("m", q), "%v", q)
	}
	md := pmetric.NewMetrics()
	s := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	s.SetName("lat")
	p := s.SetEmptySummary().DataPoints().AppendEmpty()
	p.SetCount(10)
	p.SetSum(20)
	for i, q := range []float64{0, 0.0001, 0.5, 0.9999, 0.99999, 1} {
		qv := p.QuantileValues().AppendEmpty()
		qv.SetQuantile(q)
		qv.SetValue(float64(i))
	}
	_, _, evs := mapMetrics(t, FormatMsgpack, goldenCfg, goldenLimits, md)
	require.Len(t, evs, 1)
	d := normalizeJSON(t, evs[0].Data).(map[string]any)
	assert.Equal(t, map[string]any{
		"meta.signal_type": "metric", "lat.count": 10.0, "lat.sum": 20.0, "lat.avg": 2.0,
		"lat.min": 0.0, "lat.p0001": 1.0, "lat.p50": 2.0, "lat.p9999": 3.0, "lat.p99999": 4.0, "lat.max": 5.0,
	}, d)
}

// Expected percentiles worked out by hand (linear interpolation inside the
// bucket holding rank q*count; open end buckets closed by min and max):
// buckets [2,5]:1 (5,10]:2 (10,20]:1, count 4.
// p50: rank 2 -> 5 + 5*(2-1)/2 = 7.5; p90: rank 3.6 -> 10 + 10*0.6 = 16;
// p95: 10 + 10*0.8 = 18; p99: 10 + 10*0.96 = 19.6.
// Exponential, scale 0 (base 2): zero bucket 2, (1,2]:1, (2,4]:1.
// p50: rank 2 falls in the zero bucket -> 0; p90: 2 + 2*0.6 = 3.2;
// p95: 2 + 2*0.8 = 3.6; p99: 2 + 2*0.96 = 3.92.
func TestHistogramPercentiles(t *testing.T) {
	md := pmetric.NewMetrics()
	sm := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty()
	h := sm.Metrics().AppendEmpty()
	h.SetName("lat")
	hp := h.SetEmptyHistogram().DataPoints().AppendEmpty()
	hp.SetCount(4)
	hp.SetSum(40)
	hp.SetMin(2)
	hp.SetMax(20)
	hp.ExplicitBounds().FromRaw([]float64{5, 10})
	hp.BucketCounts().FromRaw([]uint64{1, 2, 1})
	e := sm.Metrics().AppendEmpty()
	e.SetName("size")
	ep := e.SetEmptyExponentialHistogram().DataPoints().AppendEmpty()
	ep.SetCount(4)
	ep.SetScale(0)
	ep.SetZeroCount(2)
	ep.Positive().SetOffset(0)
	ep.Positive().BucketCounts().FromRaw([]uint64{1, 1})

	_, _, evs := mapMetrics(t, FormatJSON, goldenCfg, goldenLimits, md)
	require.Len(t, evs, 1)
	assert.NotContains(t, evs[0].Data, "lat.p50", "percentiles are an option")

	cfg := goldenCfg
	cfg.HistogramPercentiles = true
	for _, f := range []Format{FormatJSON, FormatMsgpack} {
		_, _, evs = mapMetrics(t, f, cfg, goldenLimits, md)
		require.Len(t, evs, 1)
		d := normalizeJSON(t, evs[0].Data).(map[string]any)
		for k, want := range map[string]float64{
			"lat.p50": 7.5, "lat.p90": 16, "lat.p95": 18, "lat.p99": 19.6,
			"size.p50": 0, "size.p90": 3.2, "size.p95": 3.6, "size.p99": 3.92,
		} {
			assert.InDelta(t, want, d[k], 1e-9, k)
		}
	}
}

// countPointsInEvents counts, independently of the mapping code, the data
// points the decoded events carry: one field per gauge or sum point (the
// metric's name), one <name>.count per histogram or summary point.
func countPointsInEvents(evs []goldenEvent, numberNames, aggregateNames []string) int {
	n := 0
	for _, ev := range evs {
		for _, name := range numberNames {
			if _, ok := ev.Data[name]; ok {
				n++
			}
		}
		for _, name := range aggregateNames {
			if _, ok := ev.Data[name+".count"]; ok {
				n++
			}
		}
	}
	return n
}

func TestEveryMetricPointIsSentOrCountedRefused(t *testing.T) {
	md := pmetric.NewMetrics()
	var numberNames, aggregateNames []string
	for r := range 3 { // resources 0 and 1 are identical
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("service.name", "svc")
		rm.Resource().Attributes().PutInt("replica", int64(min(r, 1)))
		sm := rm.ScopeMetrics().AppendEmpty()
		for i := range 3 { // three points per series, two in the same second
			at := time.Duration(i) * 400 * time.Millisecond
			attrs := func(m pcommon.Map) {
				m.PutInt("code", 200)
				if i == 1 {
					m.Clear()
					m.PutStr("code", "200")
				}
			}
			g := gaugePoint(sm, "gauge", at)
			g.SetIntValue(int64(i))
			attrs(g.Attributes())
			sum := sm.Metrics().AppendEmpty()
			sum.SetName("sum")
			sp := sum.SetEmptySum().DataPoints().AppendEmpty()
			sp.SetTimestamp(ts(at))
			sp.SetDoubleValue(1.5)
			attrs(sp.Attributes())
			noValue := gaugePoint(sm, "novalue", at) // a point without a value
			attrs(noValue.Attributes())
			hist := sm.Metrics().AppendEmpty()
			hist.SetName("hist")
			hp := hist.SetEmptyHistogram().DataPoints().AppendEmpty()
			hp.SetTimestamp(ts(at))
			hp.SetCount(1)
			hp.ExplicitBounds().FromRaw([]float64{1})
			hp.BucketCounts().FromRaw([]uint64{1, 0})
			attrs(hp.Attributes())
			exp := sm.Metrics().AppendEmpty()
			exp.SetName("exphist")
			ep := exp.SetEmptyExponentialHistogram().DataPoints().AppendEmpty()
			ep.SetTimestamp(ts(at))
			ep.SetCount(1)
			ep.SetZeroCount(1)
			attrs(ep.Attributes())
			summ := sm.Metrics().AppendEmpty()
			summ.SetName("summary")
			qp := summ.SetEmptySummary().DataPoints().AppendEmpty()
			qp.SetTimestamp(ts(at))
			qp.SetCount(2)
			attrs(qp.Attributes())
		}
		// 25 gauges sharing one event: more value fields than max_fields (20)
		// allows, so the whole event is refused and its 25 points counted.
		for k := range 25 {
			name := fmt.Sprintf("wide.%02d", k)
			gaugePoint(sm, name, 5*time.Second).SetIntValue(int64(k))
			if r == 0 {
				numberNames = append(numberNames, name)
			}
		}
	}
	numberNames = append(numberNames, "gauge", "sum", "novalue")
	aggregateNames = append(aggregateNames, "hist", "exphist", "summary")
	pointsIn := md.DataPointCount()
	require.Equal(t, 3*(3*6+25), pointsIn)

	limits := Limits{MaxBatchBytes: 5_000_000, MaxEventBytes: 1_000_000, MaxFields: 20}
	for _, f := range []Format{FormatJSON, FormatMsgpack} {
		for _, percentiles := range []bool{false, true} {
			cfg := goldenCfg
			cfg.HistogramPercentiles = percentiles
			b, mp, evs := mapMetrics(t, f, cfg, limits, md)
			inEvents := countPointsInEvents(evs, numberNames, aggregateNames)
			refused := 0
			for _, n := range b.Stats.PointsRefused {
				refused += n
			}
			assert.Equal(t, pointsIn, inEvents+refused, "format %d: %d in events, %d refused", f, inEvents, refused)
			assert.Equal(t, 9, b.Stats.PointsRefused[ReasonNoValue])
			// Three wide events of 25 points: resources 0 and 1 are merged,
			// but their same-second points of the same metric are not.
			assert.Equal(t, 75, b.Stats.PointsRefused[ReasonTooManyFields])
			// The groups map every point that is in an event exactly once.
			seen := map[int32]bool{}
			for _, g := range mp.MetricGroups() {
				for _, dp := range g {
					assert.False(t, seen[dp], "point %d in two events", dp)
					seen[dp] = true
				}
			}
			assert.Len(t, seen, pointsIn-9)
			assert.NotContains(t, fmt.Sprint(evs), "novalue")
		}
	}
}

func TestValueFieldsOfDifferentMetricsNeverOverwriteEachOther(t *testing.T) {
	md := pmetric.NewMetrics()
	sm := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty()
	gaugePoint(sm, "lat.count", 0).SetIntValue(99) // collides with the histogram's lat.count
	h := sm.Metrics().AppendEmpty()
	h.SetName("lat")
	hp := h.SetEmptyHistogram().DataPoints().AppendEmpty()
	hp.SetTimestamp(ts(0))
	hp.SetCount(4)
	gaugePoint(sm, "other", 0).SetIntValue(1)
	_, mp, evs := mapMetrics(t, FormatJSON, goldenCfg, goldenLimits, md)
	require.Len(t, evs, 2)
	assert.EqualValues(t, 99, evs[0].Data["lat.count"])
	assert.EqualValues(t, 1, evs[0].Data["other"])
	assert.EqualValues(t, 4, evs[1].Data["lat.count"])
	assert.Equal(t, [][]int32{{0, 2}, {1}}, mp.MetricGroups())
}
