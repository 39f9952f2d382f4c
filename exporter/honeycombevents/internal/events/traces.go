// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package events // import "github.com/prodscope/prodscope/exporter/honeycombevents/internal/events"

import (
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

func spanKind(k ptrace.SpanKind) string {
	switch k {
	case ptrace.SpanKindClient:
		return "client"
	case ptrace.SpanKindServer:
		return "server"
	case ptrace.SpanKindProducer:
		return "producer"
	case ptrace.SpanKindConsumer:
		return "consumer"
	case ptrace.SpanKindInternal:
		return "internal"
	default:
		return "unspecified"
	}
}

// Traces maps every span to an event, and every span event and link to an
// event of its own. The item index of all three is the span's position in
// td (resource, scope, span order).
func (m *Mapper) Traces(td ptrace.Traces) {
	item := int32(0)
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		m.setResource(rs.Resource())
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			m.setScope(ss.Scope(), true)
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				m.span(spans.At(k), item)
				item++
			}
		}
	}
}

func (m *Mapper) span(span ptrace.Span, item int32) {
	traceID := [16]byte(span.TraceID())
	spanID := [8]byte(span.SpanID())
	status := span.Status()
	isError := status.Code() == ptrace.StatusCodeError
	events := span.Events()
	links := span.Links()

	rate := m.itemRate(span.Attributes())
	if rate == 0 {
		if ts := span.TraceState().AsRaw(); ts != "" {
			rate = SampleRateFromTraceState(ts)
		}
	}
	rate = rateOrOne(rate)

	start := span.StartTimestamp()
	fields := m.ev.Fields[:0]
	fields = append(fields,
		traceIDField("trace.trace_id", traceID),
		spanIDField("trace.span_id", spanID),
	)
	if parent := span.ParentSpanID(); !parent.IsEmpty() {
		fields = append(fields, spanIDField("trace.parent_id", [8]byte(parent)))
	}
	kind := spanKind(span.Kind())
	fields = append(fields,
		strField("name", span.Name(), true),
		strField("span.kind", kind, true),
		strField("type", kind, true),
		floatField("duration_ms", float64(int64(span.EndTimestamp())-int64(start))/float64(time.Millisecond), true),
		intField("status_code", int64(status.Code()), true),
	)
	if msg := status.Message(); msg != "" {
		fields = append(fields, strField("status_message", msg, true))
	}
	if isError {
		fields = append(fields, boolField("error", true, true))
	}
	if ts := span.TraceState().AsRaw(); ts != "" {
		fields = append(fields, strField("trace.trace_state", ts, true))
	}
	fields = append(fields,
		intField("span.num_events", int64(events.Len()), true),
		intField("span.num_links", int64(links.Len()), true),
		strField("meta.signal_type", "trace", true),
	)
	fields = m.appendItemAttrs(fields, span.Attributes(), false)
	m.ev.Fields = fields
	m.ev.TimeUnixNano = int64(start)
	m.ev.SampleRate = rate
	m.B.Add(m.dataset, &m.ev, item)

	for l := 0; l < events.Len(); l++ {
		se := events.At(l)
		fields = m.ev.Fields[:0]
		fields = append(fields,
			traceIDField("trace.trace_id", traceID),
			spanIDField("trace.parent_id", spanID),
			strField("name", se.Name(), true),
			strField("parent_name", span.Name(), true),
			strField("meta.annotation_type", "span_event", true),
			strField("meta.signal_type", "trace", true),
		)
		if isError {
			fields = append(fields, boolField("error", true, true))
		}
		fields = m.appendItemAttrs(fields, se.Attributes(), false)
		m.ev.Fields = fields
		m.ev.TimeUnixNano = int64(se.Timestamp())
		m.ev.SampleRate = rate
		m.B.Add(m.dataset, &m.ev, item)
	}
	for l := 0; l < links.Len(); l++ {
		link := links.At(l)
		fields = m.ev.Fields[:0]
		fields = append(fields,
			traceIDField("trace.trace_id", traceID),
			spanIDField("trace.parent_id", spanID),
			traceIDField("trace.link.trace_id", [16]byte(link.TraceID())),
			spanIDField("trace.link.span_id", [8]byte(link.SpanID())),
			strField("parent_name", span.Name(), true),
			strField("meta.annotation_type", "link", true),
			strField("meta.signal_type", "trace", true),
		)
		if isError {
			fields = append(fields, boolField("error", true, true))
		}
		fields = m.appendItemAttrs(fields, link.Attributes(), false)
		m.ev.Fields = fields
		m.ev.TimeUnixNano = int64(start)
		m.ev.SampleRate = rate
		m.B.Add(m.dataset, &m.ev, item)
	}
}
