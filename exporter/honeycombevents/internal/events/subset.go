// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package events // import "github.com/prodscope/prodscope/exporter/honeycombevents/internal/events"

import (
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// ItemSet is a set of item indexes (spans, log records or data points).
type ItemSet []bool

// NewItemSet returns an empty set for n items.
func NewItemSet(n int) ItemSet { return make(ItemSet, n) }

// Add puts i in the set; out-of-range indexes are ignored.
func (s ItemSet) Add(i int32) {
	if i >= 0 && int(i) < len(s) {
		s[i] = true
	}
}

// Has reports whether i is in the set.
func (s ItemSet) Has(i int32) bool { return i >= 0 && int(i) < len(s) && s[i] }

// Count is the number of items in the set.
func (s ItemSet) Count() int {
	n := 0
	for _, b := range s {
		if b {
			n++
		}
	}
	return n
}

// SubsetTraces copies the spans of td whose index is in keep (a span is
// copied whole, with all its events and links).
func SubsetTraces(td ptrace.Traces, keep ItemSet) ptrace.Traces {
	out := ptrace.NewTraces()
	idx := int32(0)
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		var outRS ptrace.ResourceSpans
		hasRS := false
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			ss := rs.ScopeSpans().At(j)
			var outSS ptrace.ScopeSpans
			hasSS := false
			for k := 0; k < ss.Spans().Len(); k++ {
				if keep.Has(idx) {
					if !hasRS {
						outRS = out.ResourceSpans().AppendEmpty()
						rs.Resource().CopyTo(outRS.Resource())
						outRS.SetSchemaUrl(rs.SchemaUrl())
						hasRS = true
					}
					if !hasSS {
						outSS = outRS.ScopeSpans().AppendEmpty()
						ss.Scope().CopyTo(outSS.Scope())
						outSS.SetSchemaUrl(ss.SchemaUrl())
						hasSS = true
					}
					ss.Spans().At(k).CopyTo(outSS.Spans().AppendEmpty())
				}
				idx++
			}
		}
	}
	return out
}

// SubsetLogs copies the log records of ld whose index is in keep.
func SubsetLogs(ld plog.Logs, keep ItemSet) plog.Logs {
	out := plog.NewLogs()
	idx := int32(0)
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		var outRL plog.ResourceLogs
		hasRL := false
		for j := 0; j < rl.ScopeLogs().Len(); j++ {
			sl := rl.ScopeLogs().At(j)
			var outSL plog.ScopeLogs
			hasSL := false
			for k := 0; k < sl.LogRecords().Len(); k++ {
				if keep.Has(idx) {
					if !hasRL {
						outRL = out.ResourceLogs().AppendEmpty()
						rl.Resource().CopyTo(outRL.Resource())
						outRL.SetSchemaUrl(rl.SchemaUrl())
						hasRL = true
					}
					if !hasSL {
						outSL = outRL.ScopeLogs().AppendEmpty()
						sl.Scope().CopyTo(outSL.Scope())
						outSL.SetSchemaUrl(sl.SchemaUrl())
						hasSL = true
					}
					sl.LogRecords().At(k).CopyTo(outSL.LogRecords().AppendEmpty())
				}
				idx++
			}
		}
	}
	return out
}

// SubsetMetrics copies the data points of md whose global index is in keep,
// each under a copy of its resource, scope and metric.
func SubsetMetrics(md pmetric.Metrics, keep ItemSet) pmetric.Metrics {
	out := pmetric.NewMetrics()
	idx := int32(0)
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		var outRM pmetric.ResourceMetrics
		hasRM := false
		for j := 0; j < rm.ScopeMetrics().Len(); j++ {
			sm := rm.ScopeMetrics().At(j)
			var outSM pmetric.ScopeMetrics
			hasSM := false
			for k := 0; k < sm.Metrics().Len(); k++ {
				metric := sm.Metrics().At(k)
				n := metricPoints(metric)
				var outM pmetric.Metric
				hasM := false
				for l := 0; l < n; l++ {
					if keep.Has(idx) {
						if !hasRM {
							outRM = out.ResourceMetrics().AppendEmpty()
							rm.Resource().CopyTo(outRM.Resource())
							outRM.SetSchemaUrl(rm.SchemaUrl())
							hasRM = true
						}
						if !hasSM {
							outSM = outRM.ScopeMetrics().AppendEmpty()
							sm.Scope().CopyTo(outSM.Scope())
							outSM.SetSchemaUrl(sm.SchemaUrl())
							hasSM = true
						}
						if !hasM {
							outM = outSM.Metrics().AppendEmpty()
							copyMetricShell(metric, outM)
							hasM = true
						}
						copyPoint(metric, l, outM)
					}
					idx++
				}
			}
		}
	}
	return out
}

func metricPoints(m pmetric.Metric) int {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		return m.Gauge().DataPoints().Len()
	case pmetric.MetricTypeSum:
		return m.Sum().DataPoints().Len()
	case pmetric.MetricTypeHistogram:
		return m.Histogram().DataPoints().Len()
	case pmetric.MetricTypeExponentialHistogram:
		return m.ExponentialHistogram().DataPoints().Len()
	case pmetric.MetricTypeSummary:
		return m.Summary().DataPoints().Len()
	}
	return 0
}

func copyMetricShell(src, dst pmetric.Metric) {
	dst.SetName(src.Name())
	dst.SetDescription(src.Description())
	dst.SetUnit(src.Unit())
	src.Metadata().CopyTo(dst.Metadata())
	switch src.Type() {
	case pmetric.MetricTypeGauge:
		dst.SetEmptyGauge()
	case pmetric.MetricTypeSum:
		s := dst.SetEmptySum()
		s.SetAggregationTemporality(src.Sum().AggregationTemporality())
		s.SetIsMonotonic(src.Sum().IsMonotonic())
	case pmetric.MetricTypeHistogram:
		dst.SetEmptyHistogram().SetAggregationTemporality(src.Histogram().AggregationTemporality())
	case pmetric.MetricTypeExponentialHistogram:
		dst.SetEmptyExponentialHistogram().SetAggregationTemporality(src.ExponentialHistogram().AggregationTemporality())
	case pmetric.MetricTypeSummary:
		dst.SetEmptySummary()
	}
}

func copyPoint(src pmetric.Metric, i int, dst pmetric.Metric) {
	switch src.Type() {
	case pmetric.MetricTypeGauge:
		src.Gauge().DataPoints().At(i).CopyTo(dst.Gauge().DataPoints().AppendEmpty())
	case pmetric.MetricTypeSum:
		src.Sum().DataPoints().At(i).CopyTo(dst.Sum().DataPoints().AppendEmpty())
	case pmetric.MetricTypeHistogram:
		src.Histogram().DataPoints().At(i).CopyTo(dst.Histogram().DataPoints().AppendEmpty())
	case pmetric.MetricTypeExponentialHistogram:
		src.ExponentialHistogram().DataPoints().At(i).CopyTo(dst.ExponentialHistogram().DataPoints().AppendEmpty())
	case pmetric.MetricTypeSummary:
		src.Summary().DataPoints().At(i).CopyTo(dst.Summary().DataPoints().AppendEmpty())
	}
}
