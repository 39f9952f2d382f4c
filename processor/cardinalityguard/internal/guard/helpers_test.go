// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package guard

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func testLimits() Limits {
	return Limits{MaxValuesPerLabel: 3, MaxSeriesPerMetric: 100, OverflowValue: "__overflow__"}
}

func newTestEngine(clock *fakeClock, mod func(*Settings)) *Engine {
	s := Settings{
		ScopeAttributes: []string{"service.name"},
		MaxSeriesTotal:  1_000_000,
		Window:          time.Hour,
		Default:         testLimits(),
		Now:             clock.Now,
	}
	if mod != nil {
		mod(&s)
	}
	return New(s)
}

// pt is one number point.
type pt struct {
	attrs     map[string]any
	start, ts uint64
	i         int64
	f         float64
	double    bool
}

type batch struct {
	md pmetric.Metrics
	ms pmetric.MetricSlice
}

func newBatch(svc string) *batch {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	if svc != "" {
		rm.Resource().Attributes().PutStr("service.name", svc)
	}
	return &batch{md: md, ms: rm.ScopeMetrics().AppendEmpty().Metrics()}
}

func putAttrs(m pcommon.Map, attrs map[string]any) {
	if err := m.FromRaw(attrs); err != nil {
		panic(err)
	}
}

// sum appends a monotonic sum.
func (b *batch) sum(name string, cumulative bool, pts ...pt) *batch {
	m := b.ms.AppendEmpty()
	m.SetName(name)
	s := m.SetEmptySum()
	s.SetIsMonotonic(true)
	if cumulative {
		s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	} else {
		s.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	}
	for _, p := range pts {
		fillNumber(s.DataPoints().AppendEmpty(), p)
	}
	return b
}

func (b *batch) gauge(name string, pts ...pt) *batch {
	m := b.ms.AppendEmpty()
	m.SetName(name)
	g := m.SetEmptyGauge()
	for _, p := range pts {
		fillNumber(g.DataPoints().AppendEmpty(), p)
	}
	return b
}

func fillNumber(dp pmetric.NumberDataPoint, p pt) {
	putAttrs(dp.Attributes(), p.attrs)
	dp.SetStartTimestamp(pcommon.Timestamp(p.start))
	dp.SetTimestamp(pcommon.Timestamp(p.ts))
	if p.double {
		dp.SetDoubleValue(p.f)
	} else {
		dp.SetIntValue(p.i)
	}
}

// attrKey renders attributes sorted, e.g. "a=1,b=x".
func attrKey(m pcommon.Map) string {
	parts := make([]string, 0, m.Len())
	for k, v := range m.All() {
		parts = append(parts, k+"="+v.AsString())
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// numbers returns the points of metric name (any scope) by attribute key;
// it fails on duplicate series.
func numbers(t *testing.T, md pmetric.Metrics, name string) map[string]pmetric.NumberDataPoint {
	t.Helper()
	out := map[string]pmetric.NumberDataPoint{}
	forMetric(md, name, func(svc string, m pmetric.Metric) {
		var dps pmetric.NumberDataPointSlice
		if m.Type() == pmetric.MetricTypeSum {
			dps = m.Sum().DataPoints()
		} else {
			dps = m.Gauge().DataPoints()
		}
		for i := 0; i < dps.Len(); i++ {
			k := attrKey(dps.At(i).Attributes())
			if svc != "" {
				k = svc + "|" + k
			}
			if _, dup := out[k]; dup {
				t.Fatalf("duplicate series %q of %s", k, name)
			}
			out[k] = dps.At(i)
		}
	})
	return out
}

func forMetric(md pmetric.Metrics, name string, fn func(svc string, m pmetric.Metric)) {
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		rm := md.ResourceMetrics().At(i)
		svc := ""
		if v, ok := rm.Resource().Attributes().Get("service.name"); ok {
			svc = v.Str()
		}
		for j := 0; j < rm.ScopeMetrics().Len(); j++ {
			ms := rm.ScopeMetrics().At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				if ms.At(k).Name() == name {
					fn(svc, ms.At(k))
				}
			}
		}
	}
}

func intValues(t *testing.T, md pmetric.Metrics, name string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for k, dp := range numbers(t, md, name) {
		out[k] = dp.IntValue()
	}
	return out
}

func user(i int) map[string]any { return map[string]any{"user_id": fmt.Sprintf("u%d", i)} }
