// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package events // import "github.com/prodscope/prodscope/exporter/honeycombevents/internal/events"

import (
	"encoding/binary"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// groupKey identifies the event a data point belongs to: the identity of
// its resource (attributes and schema URL, so identical resources of one
// request share events), its timestamp truncated to the second and its
// attributes (typed: 200 and "200" differ).
type groupKey struct {
	res   string
	ts    int64
	attrs string
}

type metricGroup struct {
	dataset string
	ts      int64
	fields  []Field
	// names holds the value fields the group already has: a point whose
	// fields would overwrite one (a second point of the same metric, or a
	// gauge named "lat.count" beside a histogram "lat") goes to the next
	// group of the same key (opened when needed).
	names map[string]struct{}
	// next is the next group of the same key, -1 for none.
	next int32
}

// metricState is the grouping state of one Metrics call.
type metricState struct {
	// groups maps a metric event (its item index) to the global indexes
	// of the data points it carries.
	groups  [][]int32
	events  []metricGroup
	first   map[groupKey]int32
	key     []byte
	parts   []string
	buckets []bucket
	values  []Field
}

func (s *metricState) reset() {
	for i := range s.groups {
		s.groups[i] = s.groups[i][:0]
	}
	s.groups = s.groups[:0]
	clear(s.events)
	s.events = s.events[:0]
	clear(s.first)
}

// MetricGroups maps each metric event (by item index) of the last Metrics
// call to the global indexes of the data points it carries.
func (m *Mapper) MetricGroups() [][]int32 { return m.metrics.groups }

// percentiles are the quantiles HistogramPercentiles derives.
var percentiles = [...]float64{0.5, 0.9, 0.95, 0.99}

// Metrics maps data points to events as Honeycomb does: the points of one
// resource that share their attributes and their timestamp (truncated to
// the second) become one event with a field per metric; identical
// resources of the request are one resource. Two points of the same metric
// that would share an event go to two events, so no value is overwritten.
// Histograms and summaries become <name>.count/.sum/.avg/.min/.max fields
// (summaries also <name>.pNN per quantile). The item index of an event is
// its group; MetricGroups lists the data points each carries. A point that
// cannot be sent (a number point without a value) is counted in
// Stats.PointsRefused; so are the points of an event the batcher refuses.
// Metric value fields are Fixed: trimming drops attributes, never a value.
func (m *Mapper) Metrics(md pmetric.Metrics) {
	st := &m.metrics
	if st.first == nil {
		st.first = map[groupKey]int32{}
	}
	dp := int32(0)
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		m.setResource(rm.Resource(), rm.SchemaUrl())
		resKey := m.canonicalAttrs(rm.Resource().Attributes(), rm.SchemaUrl())
		// add puts the value fields of one data point into its group.
		add := func(values []Field, attrs pcommon.Map, ts pcommon.Timestamp) {
			sec := ts.AsTime().Truncate(time.Second).UnixNano()
			key := groupKey{res: resKey, ts: sec, attrs: m.canonicalAttrs(attrs, "")}
			g, ok := st.first[key]
			last := int32(-1)
			for ok {
				dup := false
				for i := range values {
					if _, dup = st.events[g].names[values[i].Key]; dup {
						break
					}
				}
				if !dup {
					break
				}
				last = g
				g = st.events[g].next
				ok = g >= 0
			}
			if !ok {
				g = index32(len(st.events))
				if last >= 0 {
					st.events[last].next = g
				} else {
					st.first[key] = g
				}
				fields := []Field{strField("meta.signal_type", "metric", true)}
				fields = append(fields, m.res...)
				fields, _ = appendAttrs(fields, attrs)
				st.events = append(st.events, metricGroup{dataset: m.dataset, ts: sec, fields: fields, names: map[string]struct{}{}, next: -1})
				if len(st.groups) < len(st.events) {
					st.groups = append(st.groups, nil)
				}
			}
			ev := &st.events[g]
			for i := range values {
				ev.names[values[i].Key] = struct{}{}
			}
			ev.fields = append(ev.fields, values...)
			st.groups[g] = append(st.groups[g], dp)
			dp++
		}
		sms := rm.ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			metrics := sms.At(j).Metrics()
			for k := 0; k < metrics.Len(); k++ {
				metric := metrics.At(k)
				name := metric.Name()
				switch metric.Type() {
				case pmetric.MetricTypeGauge:
					m.numberPoints(name, metric.Gauge().DataPoints(), &dp, add)
				case pmetric.MetricTypeSum:
					m.numberPoints(name, metric.Sum().DataPoints(), &dp, add)
				case pmetric.MetricTypeHistogram:
					dps := metric.Histogram().DataPoints()
					for l := 0; l < dps.Len(); l++ {
						p := dps.At(l)
						st.values = appendAggregate(st.values[:0], name, p.Count(), p.HasSum(), p.Sum(), p.HasMin(), p.Min(), p.HasMax(), p.Max())
						if m.cfg.HistogramPercentiles {
							st.buckets = explicitBuckets(st.buckets[:0], p)
							st.values = appendPercentiles(st.values, name, st.buckets, p.Count())
						}
						add(st.values, p.Attributes(), p.Timestamp())
					}
				case pmetric.MetricTypeExponentialHistogram:
					dps := metric.ExponentialHistogram().DataPoints()
					for l := 0; l < dps.Len(); l++ {
						p := dps.At(l)
						st.values = appendAggregate(st.values[:0], name, p.Count(), p.HasSum(), p.Sum(), p.HasMin(), p.Min(), p.HasMax(), p.Max())
						if m.cfg.HistogramPercentiles {
							st.buckets = exponentialBuckets(st.buckets[:0], p)
							st.values = appendPercentiles(st.values, name, st.buckets, p.Count())
						}
						add(st.values, p.Attributes(), p.Timestamp())
					}
				case pmetric.MetricTypeSummary:
					dps := metric.Summary().DataPoints()
					for l := 0; l < dps.Len(); l++ {
						p := dps.At(l)
						st.values = appendSummary(st.values[:0], name, p)
						add(st.values, p.Attributes(), p.Timestamp())
					}
				}
			}
		}
	}
	clear(st.values[:cap(st.values)])
	for gi := range st.events {
		g := &st.events[gi]
		fields, rate, _ := m.takeSampleRate(m.dedupe(g.fields))
		m.ev.Fields = fields
		m.ev.TimeUnixNano = g.ts
		m.ev.SampleRate = rate
		if r, ok := m.batch.Add(g.dataset, &m.ev, int32(gi)); !ok {
			m.batch.Stats.PointsRefused[r] += len(st.groups[gi])
		}
	}
	m.ev.Fields = nil
}

// numberPoints adds gauge or sum points; a point without a value is
// refused (ReasonNoValue).
func (m *Mapper) numberPoints(name string, dps pmetric.NumberDataPointSlice, dp *int32, add func([]Field, pcommon.Map, pcommon.Timestamp)) {
	st := &m.metrics
	for l := 0; l < dps.Len(); l++ {
		p := dps.At(l)
		switch p.ValueType() {
		case pmetric.NumberDataPointValueTypeInt:
			st.values = append(st.values[:0], intField(name, p.IntValue(), true))
			add(st.values, p.Attributes(), p.Timestamp())
		case pmetric.NumberDataPointValueTypeDouble:
			st.values = append(st.values[:0], floatField(name, p.DoubleValue(), true))
			add(st.values, p.Attributes(), p.Timestamp())
		default:
			m.batch.Stats.PointsRefused[ReasonNoValue]++
			*dp++
		}
	}
}

func appendAggregate(fields []Field, name string, count uint64, hasSum bool, sum float64, hasMin bool, minV float64, hasMax bool, maxV float64) []Field {
	fields = append(fields, intField(name+".count", int64(min(count, 1<<63-1)), true))
	if hasSum {
		fields = append(fields, floatField(name+".sum", sum, true))
		if count > 0 {
			fields = append(fields, floatField(name+".avg", sum/float64(count), true))
		}
	}
	if hasMin {
		fields = append(fields, floatField(name+".min", minV, true))
	}
	if hasMax {
		fields = append(fields, floatField(name+".max", maxV, true))
	}
	return fields
}

func appendSummary(fields []Field, name string, p pmetric.SummaryDataPoint) []Field {
	count := p.Count()
	fields = append(fields,
		intField(name+".count", int64(min(count, 1<<63-1)), true),
		floatField(name+".sum", p.Sum(), true),
	)
	if count > 0 {
		fields = append(fields, floatField(name+".avg", p.Sum()/float64(count), true))
	}
	qs := p.QuantileValues()
	for i := 0; i < qs.Len(); i++ {
		q := qs.At(i)
		switch {
		case q.Quantile() == 0:
			fields = append(fields, floatField(name+".min", q.Value(), true))
		case q.Quantile() == 1:
			fields = append(fields, floatField(name+".max", q.Value(), true))
		case q.Quantile() > 0 && q.Quantile() < 1:
			fields = append(fields, floatField(QuantileKey(name, q.Quantile()), q.Value(), true))
		}
		// A quantile outside [0, 1] (or NaN) is not a quantile: left out.
	}
	return fields
}

// QuantileKey names a quantile 0 < q < 1: "p" and the decimal digits of q,
// padded to two (0.5 -> p50, 0.05 -> p05, 0.99 -> p99, 0.999 -> p999,
// 0.0001 -> p0001, 0.99999 -> p99999). Distinct quantiles get distinct names.
func QuantileKey(name string, q float64) string {
	digits := strings.TrimPrefix(strconv.FormatFloat(q, 'f', -1, 64), "0.")
	if len(digits) < 2 {
		digits += "0"
	}
	return name + ".p" + digits
}

// bucket is a histogram bucket as a value range and its count.
type bucket struct {
	lo, hi float64
	count  uint64
}

// explicitBuckets lists the buckets of a histogram point in value order.
// The open first and last buckets are closed by the point's min and max
// when it has them, else by their finite bound.
func explicitBuckets(dst []bucket, p pmetric.HistogramDataPoint) []bucket {
	bounds := p.ExplicitBounds()
	counts := p.BucketCounts()
	if counts.Len() == 0 || counts.Len() != bounds.Len()+1 {
		return dst
	}
	for i := 0; i < counts.Len(); i++ {
		var lo, hi float64
		switch {
		case bounds.Len() == 0:
			lo, hi = math.Inf(-1), math.Inf(1)
		case i == 0:
			lo, hi = math.Inf(-1), bounds.At(0)
		case i == bounds.Len():
			lo, hi = bounds.At(i-1), math.Inf(1)
		default:
			lo, hi = bounds.At(i-1), bounds.At(i)
		}
		if math.IsInf(lo, -1) {
			lo = hi
			if p.HasMin() {
				lo = p.Min()
			}
		}
		if math.IsInf(hi, 1) {
			hi = lo
			if p.HasMax() {
				hi = p.Max()
			}
		}
		dst = append(dst, bucket{lo: lo, hi: hi, count: counts.At(i)})
	}
	return dst
}

// exponentialBuckets lists the buckets of an exponential histogram point in
// value order: index i of scale s covers (base^i, base^(i+1)] with
// base = 2^(2^-s), negative buckets mirrored, the zero bucket at 0.
func exponentialBuckets(dst []bucket, p pmetric.ExponentialHistogramDataPoint) []bucket {
	base := math.Exp2(math.Exp2(-float64(p.Scale())))
	neg := p.Negative()
	for i := neg.BucketCounts().Len() - 1; i >= 0; i-- {
		idx := float64(int64(neg.Offset()) + int64(i))
		dst = append(dst, bucket{lo: -math.Pow(base, idx+1), hi: -math.Pow(base, idx), count: neg.BucketCounts().At(i)})
	}
	if p.ZeroCount() > 0 {
		dst = append(dst, bucket{count: p.ZeroCount()})
	}
	pos := p.Positive()
	for i := 0; i < pos.BucketCounts().Len(); i++ {
		idx := float64(int64(pos.Offset()) + int64(i))
		dst = append(dst, bucket{lo: math.Pow(base, idx), hi: math.Pow(base, idx+1), count: pos.BucketCounts().At(i)})
	}
	return dst
}

// appendPercentiles adds <name>.p50/.p90/.p95/.p99 estimated from the
// buckets by linear interpolation inside the bucket that holds the rank
// q*count (the method of Prometheus' histogram_quantile), clamped to the
// point's min and max by the bucket ranges above.
func appendPercentiles(fields []Field, name string, buckets []bucket, count uint64) []Field {
	var total uint64
	for _, b := range buckets {
		total += b.count
	}
	if total == 0 || total != count {
		return fields
	}
	for _, q := range percentiles {
		v, ok := bucketQuantile(buckets, total, q)
		if ok {
			fields = append(fields, floatField(QuantileKey(name, q), v, true))
		}
	}
	return fields
}

func bucketQuantile(buckets []bucket, total uint64, q float64) (float64, bool) {
	rank := q * float64(total)
	var cum float64
	for _, b := range buckets {
		if b.count == 0 {
			continue
		}
		next := cum + float64(b.count)
		if next >= rank {
			v := b.lo + (b.hi-b.lo)*(rank-cum)/float64(b.count)
			return v, !math.IsNaN(v) && !math.IsInf(v, 0)
		}
		cum = next
	}
	return 0, false
}

// canonicalAttrs is an order-independent key for a set of attributes with
// each value's type, plus extra.
func (m *Mapper) canonicalAttrs(attrs pcommon.Map, extra string) string {
	if attrs.Len() == 0 && extra == "" {
		return ""
	}
	st := &m.metrics
	parts := st.parts[:0]
	for k, v := range attrs.All() {
		b := st.key[:0]
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendVarint(b, int64(v.Type()))
		switch v.Type() {
		case pcommon.ValueTypeStr:
			b = append(b, v.Str()...)
		case pcommon.ValueTypeInt:
			b = binary.AppendVarint(b, v.Int())
		case pcommon.ValueTypeDouble:
			b = binary.BigEndian.AppendUint64(b, math.Float64bits(v.Double()))
		case pcommon.ValueTypeBool:
			b = strconv.AppendBool(b, v.Bool())
		default:
			s, _ := jsonString(v)
			b = append(b, s...)
		}
		st.key = b
		parts = append(parts, string(b))
	}
	slices.Sort(parts)
	var sb strings.Builder
	for _, p := range parts {
		sb.WriteString(strconv.Itoa(len(p)))
		sb.WriteByte(':')
		sb.WriteString(p)
	}
	sb.WriteString(extra)
	clear(parts)
	st.parts = parts[:0]
	return sb.String()
}
