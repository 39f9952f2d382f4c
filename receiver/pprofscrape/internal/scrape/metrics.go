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

// OtherFunction names the pprof.function.flat point that carries every function outside the top N.
const OtherFunction = "other"

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
	start := timestamp(p.TimeNanos)
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
	begin := timestamp(d.PrevTimeNanos)
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

// buildMetrics computes the per-scrape totals and top-N functions of one target scrape
// through the generated MetricsBuilder (the metrics, their units and which are enabled
// are declared in metadata.yaml).
func (s *Scheduler) buildMetrics(t *targetState, ok []parsed, now pcommon.Timestamp) pmetric.Metrics {
	var mb *metadata.MetricsBuilder
	select {
	case mb = <-s.builders:
	default:
		mb = s.set.NewMetricsBuilder()
	}
	defer func() {
		select {
		case s.builders <- mb:
		default:
		}
	}()

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
			startAt(mb, sr.start)
			mb.RecordPprofCPUTimeDataPoint(sr.end, float64(sumAll(pp, sr))/1e9)
		}
	}
	if pp, found := pick("heap", "allocs", "delta_heap"); found {
		gaugeTotal(mb, pp, "inuse_space", now, mb.RecordPprofHeapInuseBytesDataPoint)
		gaugeTotal(mb, pp, "inuse_objects", now, mb.RecordPprofHeapInuseObjectsDataPoint)
	}
	if pp, found := pick("allocs", "heap", "delta_heap"); found {
		deltaTotal(mb, pp, "alloc_space", now, mb.RecordPprofAllocBytesDataPoint)
		deltaTotal(mb, pp, "alloc_objects", now, mb.RecordPprofAllocObjectsDataPoint)
	}
	if pp, found := byType["goroutine"]; found {
		gaugeTotal(mb, pp, "goroutine", now, mb.RecordPprofGoroutinesDataPoint)
	}
	for _, family := range [][]string{{"block", "delta_block"}, {"mutex", "delta_mutex"}} {
		if pp, found := pick(family...); found {
			deltaTotal(mb, pp, "contentions", now, func(ts pcommon.Timestamp, v int64) {
				mb.RecordPprofContentionsDataPoint(ts, v, pp.typ)
			})
			deltaTotal(mb, pp, "delay", now, func(ts pcommon.Timestamp, v int64) {
				mb.RecordPprofDelayDataPoint(ts, float64(v)*1e-9, pp.typ)
			})
		}
	}

	if s.set.TopN > 0 {
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
			startAt(mb, sr.start)
			for _, e := range res.ByFlat {
				mb.RecordPprofFunctionFlatDataPoint(sr.end, e.Flat, pp.typ, name, sr.unit, e.Name)
			}
			if res.Functions > len(res.ByFlat) {
				mb.RecordPprofFunctionFlatDataPoint(sr.end, res.FlatOther, pp.typ, name, sr.unit, OtherFunction)
			}
			for _, e := range res.ByCum {
				mb.RecordPprofFunctionCumDataPoint(sr.end, e.Cum, pp.typ, name, sr.unit, e.Name)
			}
		}
	}
	return mb.Emit(metadata.WithResource(t.resource))
}

// startAt makes start the start time of the points mb records next: each metric's points
// cover their own profile's window (a CPU profile's seconds, the time since the
// previous scrape of a cumulative one).
func startAt(mb *metadata.MetricsBuilder, start pcommon.Timestamp) {
	mb.Reset(metadata.WithStartTime(start))
}

// gaugeTotal records the total of sample type sampleType at the profile's time, without a
// start time.
func gaugeTotal(mb *metadata.MetricsBuilder, pp parsed, sampleType string, now pcommon.Timestamp, record func(pcommon.Timestamp, int64)) {
	sr, has := seriesOf(pp, sampleType, now)
	if !has {
		return
	}
	startAt(mb, 0)
	record(sr.start, sumAll(pp, sr))
}

// deltaTotal records the total of sample type sampleType over its window.
func deltaTotal(mb *metadata.MetricsBuilder, pp parsed, sampleType string, now pcommon.Timestamp, record func(pcommon.Timestamp, int64)) {
	sr, has := seriesOf(pp, sampleType, now)
	if !has {
		return
	}
	startAt(mb, sr.start)
	record(sr.end, sumAll(pp, sr))
}

// nonNil makes an empty selection explicit: topn.Compute reads nil as "every sample".
func nonNil(s []int32) []int32 {
	if s == nil {
		return []int32{}
	}
	return s
}

// timestamp is a pprof time in nanoseconds; a hostile profile's negative time is 0 (then
// the scrape's time is used), not a time in the year 2554.
func timestamp(n int64) pcommon.Timestamp {
	if n < 0 {
		return 0
	}
	return pcommon.Timestamp(n)
}
