// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package events // import "github.com/prodscope/prodscope/exporter/honeycombevents/internal/events"

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

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
		m.setResource(rs.Resource(), rs.SchemaUrl())
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			m.setScope(ss.Scope(), ss.SchemaUrl())
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				m.span(spans.At(k), item)
				item++
			}
		}
	}
}

// exceptionKeys are the attributes of an `exception` span event that
// Honeycomb copies onto its span, with the type each is read as.
var exceptionKeys = [...]struct {
	key  string
	bool bool
}{
	{"exception.message", false}, {"exception.type", false}, {"exception.stacktrace", false}, {"exception.escaped", true},
}

// elapsedMs is (to - from) in milliseconds as Honeycomb computes it: 0 when
// either time is unset, 0 and invalid when to is before from.
func elapsedMs(from, to pcommon.Timestamp) (ms float64, invalid bool) {
	if from == 0 || to == 0 {
		return 0, false
	}
	if to < from {
		return 0, true
	}
	return float64(to-from) / float64(time.Millisecond), false
}

func (m *Mapper) span(span ptrace.Span, item int32) {
	traceID := [16]byte(span.TraceID())
	spanID := [8]byte(span.SpanID())
	status := span.Status()
	isError := status.Code() == ptrace.StatusCodeError
	events := span.Events()
	links := span.Links()
	traceState := span.TraceState().AsRaw()

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
	duration, invalid := elapsedMs(start, span.EndTimestamp())
	fields = append(fields,
		strField("name", span.Name(), true),
		strField("span.kind", kind, true),
		strField("type", kind, true),
		floatField("duration_ms", duration, true),
		intField("status_code", int64(status.Code()), true),
	)
	if invalid {
		fields = append(fields, boolField("meta.invalid_duration", true, true))
	}
	if msg := status.Message(); msg != "" {
		fields = append(fields, strField("status_message", msg, true))
	}
	if isError {
		fields = append(fields, boolField("error", true, true))
	}
	if traceState != "" {
		fields = append(fields, strField("trace.trace_state", traceState, true))
	}
	fields = append(fields,
		intField("span.num_events", int64(events.Len()), true),
		intField("span.num_links", int64(links.Len()), true),
		strField("meta.signal_type", "trace", true),
	)
	fields = m.appendItemAttrs(fields, span.Attributes(), false)
	fields, rate, found := m.takeSampleRate(fields)
	if !found {
		if count, ok := AdjustedCountFromTraceState(traceState); ok {
			rate = wholeSampleRate(count, m.rnd.Float64)
		}
	}
	// The first `exception` span event's details go onto the span, never
	// over a field the span already has.
	for l := 0; l < events.Len(); l++ {
		se := events.At(l)
		if se.Name() != "exception" {
			continue
		}
		attrs := se.Attributes()
		for _, ek := range exceptionKeys {
			v, ok := attrs.Get(ek.key)
			if !ok || fieldIndex(fields, ek.key) >= 0 {
				continue
			}
			// Read as Honeycomb reads them: a value of another type
			// becomes "" or false.
			if ek.bool {
				fields = append(fields, boolField(ek.key, v.Type() == pcommon.ValueTypeBool && v.Bool(), false))
			} else {
				s := ""
				if v.Type() == pcommon.ValueTypeStr {
					s = v.Str()
				}
				fields = append(fields, strField(ek.key, s, false))
			}
		}
	}
	m.ev.Fields = fields
	m.ev.TimeUnixNano = start.AsTime().UnixNano()
	m.ev.SampleRate = rate
	m.batch.Add(m.dataset, &m.ev, item)

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
		since, invalid := elapsedMs(start, se.Timestamp())
		fields = append(fields, floatField("meta.time_since_span_start_ms", since, true))
		if invalid {
			fields = append(fields, boolField("meta.invalid_time_since_span_start", true, true))
		}
		fields = m.appendItemAttrs(fields, se.Attributes(), false)
		fields = m.dropSampleRate(fields)
		if isError {
			// Set after the attributes: an `error` attribute does not win.
			fields = setField(fields, boolField("error", true, true))
		}
		m.ev.Fields = fields
		m.ev.TimeUnixNano = se.Timestamp().AsTime().UnixNano()
		m.ev.SampleRate = rate
		m.batch.Add(m.dataset, &m.ev, item)
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
		fields = m.appendItemAttrs(fields, link.Attributes(), false)
		fields = m.dropSampleRate(fields)
		if isError {
			fields = setField(fields, boolField("error", true, true))
		}
		m.ev.Fields = fields
		m.ev.TimeUnixNano = start.AsTime().UnixNano()
		m.ev.SampleRate = rate
		m.batch.Add(m.dataset, &m.ev, item)
	}
}
