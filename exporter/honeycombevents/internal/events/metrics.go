// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package events // import "github.com/prodscope/prodscope/exporter/honeycombevents/internal/events"

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

type groupKey struct {
	ts    int64
	attrs string
}

type metricGroup struct {
	ts     int64
	rate   int64
	fields []Field
}

// Metrics maps data points to events as Honeycomb does: the points of one
// resource that share their attributes and their timestamp (truncated to
// the second) become one event with a field per metric. Histograms and
// summaries become <name>.count/.sum/.avg/.min/.max fields (summaries also
// <name>.pNN per quantile). The item index of an event is its group;
// m.Groups[item] lists the global data point indexes it carries.
func (m *Mapper) Metrics(md pmetric.Metrics) {
	dp := int32(0)
	var groups []*metricGroup
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		m.setResource(rm.Resource())
		clear(m.groups)
		first := int32(len(m.Groups))
		groups = groups[:0]
		group := func(attrs pcommon.Map, ts pcommon.Timestamp) *metricGroup {
			sec := time.Unix(0, int64(ts)).Truncate(time.Second).UnixNano()
			key := groupKey{ts: sec, attrs: canonicalAttrs(attrs)}
			g, ok := m.groups[key]
			if !ok {
				g = int32(len(m.Groups))
				m.groups[key] = g
				m.Groups = append(m.Groups, nil)
				fields := []Field{strField("meta.signal_type", "metric", true)}
				fields = append(fields, m.res...)
				fields, _ = appendAttrs(fields, attrs, m.cfg.SampleRateAttribute)
				rate := int64(0)
				if v, ok := attrs.Get(m.cfg.SampleRateAttribute); ok {
					rate = sampleRateOf(v)
				}
				if rate == 0 {
					rate = m.resRate
				}
				groups = append(groups, &metricGroup{ts: sec, rate: rateOrOne(rate), fields: fields})
			}
			m.Groups[g] = append(m.Groups[g], dp)
			dp++
			return groups[g-first]
		}
		sms := rm.ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			metrics := sms.At(j).Metrics()
			for k := 0; k < metrics.Len(); k++ {
				metric := metrics.At(k)
				name := metric.Name()
				switch metric.Type() {
				case pmetric.MetricTypeGauge:
					dps := metric.Gauge().DataPoints()
					for l := 0; l < dps.Len(); l++ {
						p := dps.At(l)
						g := group(p.Attributes(), p.Timestamp())
						g.fields = appendNumber(g.fields, name, p)
					}
				case pmetric.MetricTypeSum:
					dps := metric.Sum().DataPoints()
					for l := 0; l < dps.Len(); l++ {
						p := dps.At(l)
						g := group(p.Attributes(), p.Timestamp())
						g.fields = appendNumber(g.fields, name, p)
					}
				case pmetric.MetricTypeHistogram:
					dps := metric.Histogram().DataPoints()
					for l := 0; l < dps.Len(); l++ {
						p := dps.At(l)
						g := group(p.Attributes(), p.Timestamp())
						g.fields = appendAggregate(g.fields, name, p.Count(), p.HasSum(), p.Sum(), p.HasMin(), p.Min(), p.HasMax(), p.Max())
					}
				case pmetric.MetricTypeExponentialHistogram:
					dps := metric.ExponentialHistogram().DataPoints()
					for l := 0; l < dps.Len(); l++ {
						p := dps.At(l)
						g := group(p.Attributes(), p.Timestamp())
						g.fields = appendAggregate(g.fields, name, p.Count(), p.HasSum(), p.Sum(), p.HasMin(), p.Min(), p.HasMax(), p.Max())
					}
				case pmetric.MetricTypeSummary:
					dps := metric.Summary().DataPoints()
					for l := 0; l < dps.Len(); l++ {
						p := dps.At(l)
						g := group(p.Attributes(), p.Timestamp())
						g.fields = appendSummary(g.fields, name, p)
					}
				}
			}
		}
		for gi, g := range groups {
			m.ev.Fields = m.dedupe(g.fields)
			m.ev.TimeUnixNano = g.ts
			m.ev.SampleRate = g.rate
			m.B.Add(m.dataset, &m.ev, first+int32(gi))
		}
	}
	m.ev.Fields = nil
}

func appendNumber(fields []Field, name string, p pmetric.NumberDataPoint) []Field {
	switch p.ValueType() {
	case pmetric.NumberDataPointValueTypeInt:
		return append(fields, intField(name, p.IntValue(), false))
	case pmetric.NumberDataPointValueTypeDouble:
		return append(fields, floatField(name, p.DoubleValue(), false))
	}
	return fields
}

func appendAggregate(fields []Field, name string, count uint64, hasSum bool, sum float64, hasMin bool, minV float64, hasMax bool, maxV float64) []Field {
	fields = append(fields, intField(name+".count", int64(min(count, 1<<63-1)), false))
	if hasSum {
		fields = append(fields, floatField(name+".sum", sum, false))
		if count > 0 {
			fields = append(fields, floatField(name+".avg", sum/float64(count), false))
		}
	}
	if hasMin {
		fields = append(fields, floatField(name+".min", minV, false))
	}
	if hasMax {
		fields = append(fields, floatField(name+".max", maxV, false))
	}
	return fields
}

func appendSummary(fields []Field, name string, p pmetric.SummaryDataPoint) []Field {
	count := p.Count()
	fields = append(fields,
		intField(name+".count", int64(min(count, 1<<63-1)), false),
		floatField(name+".sum", p.Sum(), false),
	)
	if count > 0 {
		fields = append(fields, floatField(name+".avg", p.Sum()/float64(count), false))
	}
	qs := p.QuantileValues()
	for i := 0; i < qs.Len(); i++ {
		q := qs.At(i)
		switch q.Quantile() {
		case 0:
			fields = append(fields, floatField(name+".min", q.Value(), false))
		case 1:
			fields = append(fields, floatField(name+".max", q.Value(), false))
		default:
			fields = append(fields, floatField(quantileKey(name, q.Quantile()), q.Value(), false))
		}
	}
	return fields
}

// quantileKey names a quantile as Honeycomb does: 0.5 -> name.p50,
// 0.99 -> name.p99, 0.999 -> name.p999.
func quantileKey(name string, q float64) string {
	s := strconv.FormatFloat(q, 'f', 3, 64)
	if len(s) > 2 {
		s = s[2:]
	}
	return name + ".p" + strings.TrimSuffix(s, "0")
}

// canonicalAttrs is an order-independent key for a set of attributes.
func canonicalAttrs(attrs pcommon.Map) string {
	if attrs.Len() == 0 {
		return ""
	}
	parts := make([]string, 0, attrs.Len())
	for k, v := range attrs.All() {
		parts = append(parts, strconv.Quote(k)+"="+strconv.Quote(v.AsString()))
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}
