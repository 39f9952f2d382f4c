// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package scrape // import "github.com/prodscope/prodscope/receiver/pprofscrape/internal/scrape"

import (
	"slices"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/metadata"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/profiletype"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/topn"
)

// Names of the metrics the receiver emits (see README).
const (
	MetricCPUTime        = "pprof.cpu.time"
	MetricHeapInuseBytes = "pprof.heap.inuse.bytes"
	MetricHeapInuseObjs  = "pprof.heap.inuse.objects"
	MetricAllocBytes     = "pprof.alloc.bytes"
	MetricAllocObjects   = "pprof.alloc.objects"
	MetricGoroutines     = "pprof.goroutines"
	MetricContentions    = "pprof.contentions"
	MetricDelay          = "pprof.delay"
	MetricFunctionFlat   = "pprof.function.flat"
	MetricFunctionCum    = "pprof.function.cum"

	AttrProfileType = "pprof.profile.type"
	AttrSampleType  = "pprof.sample.type"
	AttrSampleUnit  = "pprof.sample.unit"
	AttrFunction    = "code.function.name"
	// OtherFunction names the flat point that carries every function outside the top N.
	OtherFunction = "other"
)

// series is the values of one sample type of one scrape: raw, or the delta of a cumulative type.
type series struct {
	all        bool // value(i) is sample i of the profile; else value(r) is sample indices[r]
	indices    []int32
	value      topn.Value
	start, end pcommon.Timestamp
	unit       string
}

// seriesOf returns the values of sample type name, and false when the profile has no
// such type or it is cumulative and no delta is available yet.
func seriesOf(pp parsed, name string, now pcommon.Timestamp) (series, bool) {
	p := pp.p
	vi := valueIndex(p, name)
	if vi < 0 {
		return series{}, false
	}
	start := pcommon.Timestamp(p.TimeNanos)
	if start == 0 {
		start = now
	}
	end := start + pcommon.Timestamp(max(p.DurationNanos, 0))
	col := slices.Index(pp.cumulative, vi)
	if col < 0 {
		return series{all: true, value: func(i int) int64 { return p.Sample[i].Value[vi] }, start: start, end: end, unit: p.SampleType[vi].Unit}, true
	}
	d := pp.delta
	if d == nil {
		return series{}, false
	}
	begin := pcommon.Timestamp(d.PrevTimeNanos)
	if begin == 0 || begin > start {
		begin = start
	}
	return series{
		indices: d.Samples,
		value:   func(r int) int64 { return d.Row(r)[col] },
		start:   begin,
		end:     start,
		unit:    p.SampleType[vi].Unit,
	}, true
}

// sumAll is the total of a series.
func sumAll(pp parsed, sr series) int64 {
	n := len(sr.indices)
	if sr.all {
		n = len(pp.p.Sample)
	}
	var sum int64
	for i := range n {
		sum += sr.value(i)
	}
	return sum
}

type metricsBuilder struct {
	sm pmetric.ScopeMetrics
}

func (mb *metricsBuilder) gauge(name, desc, unit string) pmetric.NumberDataPointSlice {
	m := mb.sm.Metrics().AppendEmpty()
	m.SetName(name)
	m.SetDescription(desc)
	m.SetUnit(unit)
	return m.SetEmptyGauge().DataPoints()
}

func (mb *metricsBuilder) deltaSum(name, desc, unit string) pmetric.NumberDataPointSlice {
	m := mb.sm.Metrics().AppendEmpty()
	m.SetName(name)
	m.SetDescription(desc)
	m.SetUnit(unit)
	sum := m.SetEmptySum()
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	sum.SetIsMonotonic(true)
	return sum.DataPoints()
}

// buildMetrics computes the per-scrape totals and top-N functions of one target scrape.
func (s *Scheduler) buildMetrics(t *targetState, ok []parsed, now pcommon.Timestamp) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	setResource(rm.Resource(), t.cfg.Resource)
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName(metadata.ScopeName)
	sm.Scope().SetVersion(s.set.ScopeVersion)
	mb := &metricsBuilder{sm: sm}

	byType := map[string]parsed{} // by profile type
	for _, pp := range ok {
		byType[pp.kind] = pp
	}
	pick := func(types ...string) (parsed, bool) {
		for _, t := range types {
			if pp, found := byType[t]; found {
				return pp, true
			}
		}
		return parsed{}, false
	}

	if pp, found := byType["cpu"]; found {
		if sr, has := seriesOf(pp, "cpu", now); has {
			dp := mb.deltaSum(MetricCPUTime, "CPU time consumed during the CPU profile window.", "s").AppendEmpty()
			dp.SetStartTimestamp(sr.start)
			dp.SetTimestamp(sr.end)
			dp.SetDoubleValue(float64(sumAll(pp, sr)) / 1e9)
		}
	}
	if pp, found := pick("heap", "allocs", "delta_heap"); found {
		mb.gaugeTotal(pp, "inuse_space", MetricHeapInuseBytes, "Heap bytes in use (as of the last GC).", "By", now)
		mb.gaugeTotal(pp, "inuse_objects", MetricHeapInuseObjs, "Heap objects in use (as of the last GC).", "{object}", now)
	}
	if pp, found := pick("allocs", "heap", "delta_heap"); found {
		mb.deltaTotal(pp, "alloc_space", MetricAllocBytes, "Bytes allocated since the previous scrape.", "By", 1, now)
		mb.deltaTotal(pp, "alloc_objects", MetricAllocObjects, "Objects allocated since the previous scrape.", "{object}", 1, now)
	}
	if pp, found := byType["goroutine"]; found {
		mb.gaugeTotal(pp, "goroutine", MetricGoroutines, "Goroutines at scrape time.", "{goroutine}", now)
	}
	for _, family := range [][]string{{"block", "delta_block"}, {"mutex", "delta_mutex"}} {
		if pp, found := pick(family...); found {
			typ := pp.typ
			mb.deltaTotal(pp, "contentions", MetricContentions, "Contention events since the previous scrape.", "{contention}", 1, now, typ)
			mb.deltaTotal(pp, "delay", MetricDelay, "Time spent blocked or waiting on contended locks since the previous scrape.", "s", 1e-9, now, typ)
		}
	}

	if s.set.TopN > 0 {
		flat := mb.gauge(MetricFunctionFlat, "Top functions by flat value (the function itself) per profile type; the rest as `other`.", "1")
		cum := mb.gauge(MetricFunctionCum, "Top functions by cumulative value (the function and its callees) per profile type.", "1")
		for _, pp := range ok {
			name := profiletype.Table[pp.kind].Primary
			sr, has := seriesOf(pp, name, now)
			if !has {
				continue
			}
			indices := sr.indices
			if !sr.all {
				indices = nonNil(indices)
			}
			res := topn.Compute(pp.p, indices, sr.value, s.set.TopN)
			put := func(dps pmetric.NumberDataPointSlice, fn string, v int64) {
				dp := dps.AppendEmpty()
				dp.SetStartTimestamp(sr.start)
				dp.SetTimestamp(sr.end)
				dp.SetIntValue(v)
				a := dp.Attributes()
				a.PutStr(AttrProfileType, pp.typ)
				a.PutStr(AttrSampleType, name)
				a.PutStr(AttrSampleUnit, sr.unit)
				a.PutStr(AttrFunction, fn)
			}
			for _, e := range res.ByFlat {
				put(flat, e.Name, e.Flat)
			}
			if res.Functions > len(res.ByFlat) {
				put(flat, OtherFunction, res.FlatOther)
			}
			for _, e := range res.ByCum {
				put(cum, e.Name, e.Cum)
			}
		}
		// Drop the top-N metrics if no profile had values.
		sm.Metrics().RemoveIf(func(m pmetric.Metric) bool {
			return m.Type() == pmetric.MetricTypeGauge && m.Gauge().DataPoints().Len() == 0
		})
	}
	return md
}

func (mb *metricsBuilder) gaugeTotal(pp parsed, sampleType, name, desc, unit string, now pcommon.Timestamp) {
	sr, has := seriesOf(pp, sampleType, now)
	if !has {
		return
	}
	dp := mb.gauge(name, desc, unit).AppendEmpty()
	dp.SetTimestamp(sr.start)
	dp.SetIntValue(sumAll(pp, sr))
}

func (mb *metricsBuilder) deltaTotal(pp parsed, sampleType, name, desc, unit string, scale float64, now pcommon.Timestamp, profileType ...string) {
	sr, has := seriesOf(pp, sampleType, now)
	if !has {
		return
	}
	var dps pmetric.NumberDataPointSlice
	found := false
	// block and mutex share a metric: reuse it when the other type created it already.
	for _, m := range mb.sm.Metrics().All() {
		if m.Name() == name {
			dps, found = m.Sum().DataPoints(), true
		}
	}
	if !found {
		dps = mb.deltaSum(name, desc, unit)
	}
	dp := dps.AppendEmpty()
	dp.SetStartTimestamp(sr.start)
	dp.SetTimestamp(sr.end)
	total := sumAll(pp, sr)
	if scale == 1 {
		dp.SetIntValue(total)
	} else {
		dp.SetDoubleValue(float64(total) * scale)
	}
	for _, pt := range profileType {
		dp.Attributes().PutStr(AttrProfileType, pt)
	}
}

// nonNil makes an empty selection explicit: topn.Compute reads nil as "every sample".
func nonNil(s []int32) []int32 {
	if s == nil {
		return []int32{}
	}
	return s
}
